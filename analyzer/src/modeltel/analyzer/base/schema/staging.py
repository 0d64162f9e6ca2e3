"""The receiver's staging table for spans.

modeltel's receiver inserts spans into ``otel_traces_ingest`` (engine ``Null``: it stores
nothing). Its extra columns carry what the receiver already knows in typed form:

- ``SpanAttributesF64``: double-array attributes as numbers. ``otel_traces_ingest_mv`` formats
  them exactly as the exporter would (shortest round-trip digits, ``null`` for missing
  elements, ``e+`` exponents) and writes complete rows into ``otel_traces``. ClickHouse's
  ``toString(Float64)`` matches Go's formatting except that it writes ``1e21`` where Go writes
  ``1e+21``; the view adds the sign.
- ``Ml*``: the span's ml projection (:mod:`modeltel.analyzer.ingest.projection`), which the
  ``*_ingest_mv`` views write straight into ``ml_predictions`` and ``ml_features``;
  ``MlAttribution*`` (attribution names, and per name its numbers as typed double arrays or
  its texts, as ``MlFeatureNum/Text``) feed ``ml_attributions`` (:mod:`.attributions`), and
  ``MlRows``, ``MlDeclaredSize`` and ``MlIssue*`` (the rows, declared size and the limit a
  span broke) feed ``ml_ingest_issues`` (:mod:`.ingest_limits`).

The receiver inserts with ``SETTINGS log_comment = RECEIVER_MARKER``; the settings of an
insert reach every view it triggers, and the string-parsing views on ``otel_traces`` skip
blocks carrying the marker, so each span is projected once: from typed columns when it came
through the receiver, from the exporter's strings when a Collector wrote it.
"""

from __future__ import annotations

from modeltel.analyzer.base.schema.layout import Table, View
from modeltel.analyzer.base.schema.otel import OTEL_TRACES
from modeltel.analyzer.base.schema.span_facts import ERROR_TYPE_SQL, weight_sql

RECEIVER_MARKER = "modeltel-receiver-staged"
"""``log_comment`` of the receiver's inserts; see the module docstring."""

OTEL_TRACES_INGEST = Table(
    name="otel_traces_ingest",
    columns=OTEL_TRACES.columns.split("    ResourceAttributeItems")[0]
    + """    SpanAttributesF64 Map(LowCardinality(String), Array(Nullable(Float64))),
    MlModel String,
    MlVersion String,
    MlTask String,
    MlIds Array(String),
    MlLabels Array(Nullable(String)),
    MlScores Array(Nullable(Float64)),
    MlValues Array(Nullable(Float64)),
    MlFeatures Array(String),
    MlCategorical Array(UInt8),
    MlFeatureNum Array(Array(Nullable(Float64))),
    MlFeatureText Array(Array(Nullable(String))),
    MlAttributions Array(String),
    MlAttributionNum Array(Array(Nullable(Float64))),
    MlAttributionText Array(Array(Nullable(String))),
    MlRows UInt64,
    MlDeclaredSize UInt64,
    MlIssue String,
    MlIssueSize UInt64,
    MlIssueLimit UInt64
""",
    engine="Null",
    tail="",
    replicated=False,
)


def go_double(x: str) -> str:
    """SQL formatting the non-null Float64 expression ``x`` as the exporter does."""
    text = f"toString(assumeNotNull({x}))"
    return (
        f"if(position({text}, 'e') > 0 AND position({text}, 'e-') = 0, "
        f"replaceOne({text}, 'e', 'e+'), {text})"
    )


_FORMAT_DOUBLE = f"x -> if(isNull(x), 'null', {go_double('x')})"

OTEL_TRACES_INGEST_MV = View(
    name="otel_traces_ingest_mv",
    target="otel_traces",
    source="otel_traces_ingest",
    target_local=False,
    source_local=False,
    select=f"""SELECT
    Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName,
    ResourceAttributes, ScopeName, ScopeVersion,
    if(empty(SpanAttributesF64), SpanAttributes,
       mapUpdate(SpanAttributes, mapApply((k, v) -> (k, concat('[',
           arrayStringConcat(arrayMap({_FORMAT_DOUBLE}, v), ','), ']')), SpanAttributesF64))
    ) AS SpanAttributes,
    Duration, StatusCode, StatusMessage,
    `Events.Timestamp`, `Events.Name`, `Events.Attributes`,
    `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`
FROM {{source}}""",
)


ML_PREDICTIONS_INGEST_MV = View(
    name="ml_predictions_ingest_mv",
    target="ml_predictions",
    source="otel_traces_ingest",
    source_local=False,
    target_local=False,
    select=f"""SELECT
    MlModel AS model, MlVersion AS version, Timestamp AS timestamp, prediction_id,
    MlTask AS task, prediction_label, prediction_score, prediction_value,
    Duration / 1e9 AS latency_s, toUInt32(length(MlIds)) AS batch_size,
    toUInt32(row_number - 1) AS row_index, toUInt8(StatusCode = 'Error') AS is_error,
    ServiceName AS service_name, TraceId AS trace_id, SpanId AS span_id, weight, error_type
FROM
(
    -- per span, before the rows are exploded
    SELECT *, {weight_sql()} AS weight, {ERROR_TYPE_SQL} AS error_type
    FROM {{source}}
    WHERE MlModel != ''
)
ARRAY JOIN
    MlIds AS prediction_id,
    MlLabels AS prediction_label,
    MlScores AS prediction_score,
    MlValues AS prediction_value,
    arrayEnumerate(MlIds) AS row_number""",
)

ML_FEATURES_INGEST_MV = View(
    name="ml_features_ingest_mv",
    target="ml_features",
    source="otel_traces_ingest",
    source_local=False,
    target_local=False,
    select=f"""SELECT
    MlModel AS model, MlVersion AS version, feature, Timestamp AS timestamp, prediction_id,
    if(notEmpty(numbers), number, toFloat64OrNull(text)) AS value_num,
    if(notEmpty(numbers),
       if(categorical = 1 AND number IS NOT NULL, {go_double("number")}, NULL),
       if(categorical = 1 OR value_num IS NULL, text, NULL)) AS value,
    categorical
FROM {{source}}
ARRAY JOIN
    MlFeatures AS feature,
    MlCategorical AS categorical,
    MlFeatureNum AS numbers,
    MlFeatureText AS texts
ARRAY JOIN
    arrayResize(numbers, length(MlIds)) AS number,
    arrayResize(texts, length(MlIds)) AS text,
    MlIds AS prediction_id
WHERE MlModel != ''""",
)
