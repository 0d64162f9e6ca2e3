"""modeltel's own tables and the materialized views that project otel rows into them.

The views read ``otel_traces``/``otel_logs`` as the clickhouseexporter writes them (every
attribute a string, arrays as compact JSON), so rows sent through a Collector are projected
exactly like rows sent to modeltel's receiver.

Batch spans: when ``ml.prediction.id`` is a JSON array (or ``ml.batch.size`` > 1 and the
span carries value arrays), every ``ml.prediction.*`` and ``ml.feature.*`` attribute is read as
an array with one element per row. The row count comes from what the span carries, never from
what it declares: the id array's length; for a batch declared by ``ml.batch.size`` alone, its
longest value array cut to that size; else one. Arrays are padded (missing) or cut to it. A
span breaking a limit of ``modeltel_limits`` (rows, projected rows, attribute count, key or
non-array value length; :mod:`.ingest_limits`) is left out by the views' ``WHERE`` — its
``otel_traces`` row stays — and recorded in ``ml_ingest_issues`` with the reason, so one bad
span never fails the insert of its neighbours.
Features are exploded with one ``ARRAY JOIN`` over the feature map and a second over that
feature's values in parallel with the ids (linear in batch size; see DESIGN pitfalls).
Whether a feature is categorical comes from ``ml.feature.categorical``, never from the look
of a value. In ``ml_features``, ``value_num`` is the number a value parses as (NULL when it
does not) and ``value`` keeps the original text only when it is needed: for categorical
features and for values that are not numbers. So a missing value has both NULL, and a
numeric feature that received a non-number has ``value`` set and ``value_num`` NULL.
"""

from __future__ import annotations

from modeltel.analyzer.base.limits import DEFAULT_LIMITS
from modeltel.analyzer.base.schema.id_keys import ID_KEY_COLUMN
from modeltel.analyzer.base.schema.layout import Table, View, sql_name
from modeltel.analyzer.base.schema.span_facts import ERROR_TYPE_SQL, weight_sql
from modeltel.analyzer.base.schema.staging import RECEIVER_MARKER
from modeltel.instrumentation.attributes import (
    EVENT_NAME,
    LABEL_EVENT_NAME,
    ML_ATTRIBUTION_PREFIX,
    ML_BATCH_SIZE,
    ML_FEATURE_CATEGORICAL,
    ML_FEATURE_PREFIX,
    ML_LABEL,
    ML_LABEL_VALUE,
    ML_MODEL_NAME,
    ML_MODEL_VERSION,
    ML_PREDICTION_ID,
    ML_PREDICTION_LABEL,
    ML_PREDICTION_SCORE,
    ML_PREDICTION_VALUE,
    ML_TASK,
    UNVERSIONED,
)

# The attribute names of the contract as SQL literals.
_MODEL_NAME = sql_name(ML_MODEL_NAME)
_MODEL_VERSION = sql_name(ML_MODEL_VERSION)
_TASK = sql_name(ML_TASK)
_BATCH_SIZE = sql_name(ML_BATCH_SIZE)
_PREDICTION_ID = sql_name(ML_PREDICTION_ID)
_PREDICTION_LABEL = sql_name(ML_PREDICTION_LABEL)
_PREDICTION_SCORE = sql_name(ML_PREDICTION_SCORE)
_PREDICTION_VALUE = sql_name(ML_PREDICTION_VALUE)
_FEATURE_PREFIX = sql_name(ML_FEATURE_PREFIX)
_FEATURE_CATEGORICAL = sql_name(ML_FEATURE_CATEGORICAL)
_ATTRIBUTION_PREFIX = sql_name(ML_ATTRIBUTION_PREFIX)
_LABEL = sql_name(ML_LABEL)
_LABEL_VALUE = sql_name(ML_LABEL_VALUE)
_LABEL_EVENT = sql_name(LABEL_EVENT_NAME)
_EVENT_NAME = sql_name(EVENT_NAME)
_UNVERSIONED = sql_name(UNVERSIONED)
_FEATURE_NAME_AT = len(ML_FEATURE_PREFIX) + 1
"""Where a feature's name starts in its attribute name (``substring`` counts from 1)."""

ML_PREDICTIONS = Table(
    name="ml_predictions",
    columns=f"""
    model LowCardinality(String),
    version LowCardinality(String),
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    prediction_id String CODEC(ZSTD(1)),
    task LowCardinality(String),
    prediction_label Nullable(String) CODEC(ZSTD(1)),
    prediction_score Nullable(Float64) CODEC(ZSTD(1)),
    prediction_value Nullable(Float64) CODEC(ZSTD(1)),
    latency_s Float64 CODEC(ZSTD(1)),
    batch_size UInt32 CODEC(T64, ZSTD(1)),
    row_index UInt32 CODEC(T64, ZSTD(1)),
    is_error UInt8,
    service_name LowCardinality(String),
    trace_id String CODEC(ZSTD(1)),
    span_id String CODEC(ZSTD(1)),
    weight Float64 DEFAULT 1 CODEC(ZSTD(1)),
    error_type LowCardinality(String) DEFAULT '',
    {ID_KEY_COLUMN},
    INDEX idx_prediction_id prediction_id TYPE bloom_filter(0.001) GRANULARITY 1
""",
    tail="""PARTITION BY toYYYYMM(timestamp)
ORDER BY (model, version, timestamp)
SETTINGS index_granularity = 8192""",
    ttl_column="toDateTime(timestamp)",
    sharding_key="cityHash64(prediction_id)",
)

ML_FEATURES = Table(
    name="ml_features",
    columns="""
    model LowCardinality(String),
    version LowCardinality(String),
    feature LowCardinality(String),
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    prediction_id String,
    value_num Nullable(Float64),
    value Nullable(String),
    categorical UInt8
""",
    tail="""PARTITION BY toYYYYMM(timestamp)
ORDER BY (model, version, feature, timestamp)
SETTINGS index_granularity = 8192""",
    ttl_column="toDateTime(timestamp)",
    sharding_key="cityHash64(prediction_id)",
)
"""``timestamp`` is stored with Delta + ZSTD: drift scans read it for every row of a window, and
plain LZ4 left it half their cost."""

ML_LABELS = Table(
    name="ml_labels",
    columns=f"""
    model LowCardinality(String),
    prediction_id String CODEC(ZSTD(1)),
    label Nullable(String) CODEC(ZSTD(1)),
    label_value Nullable(Float64) CODEC(ZSTD(1)),
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    received_at DateTime64(9) DEFAULT now64(9) CODEC(Delta(8), ZSTD(1)),
    source LowCardinality(String),
    {ID_KEY_COLUMN}
""",
    engine="ReplacingMergeTree",
    engine_args="received_at",
    tail="""ORDER BY (model, prediction_id)
SETTINGS index_granularity = 8192""",
    sharding_key="cityHash64(prediction_id)",
)

ML_REFERENCE = Table(
    name="ml_reference",
    columns="""
    model LowCardinality(String),
    version LowCardinality(String),
    reference LowCardinality(String),
    feature LowCardinality(String),
    row_id UInt64 CODEC(Delta, ZSTD(1)),
    value Nullable(String) CODEC(ZSTD(1)),
    value_num Nullable(Float64) CODEC(ZSTD(1)),
    categorical UInt8,
    uploaded_at DateTime64(3) DEFAULT now64(3)
""",
    tail="""ORDER BY (model, version, reference, feature, row_id)
SETTINGS index_granularity = 8192""",
    sharding_key="cityHash64(model, version, reference)",
)

ML_RESULTS = Table(
    name="ml_results",
    columns="""
    model LowCardinality(String),
    version LowCardinality(String),
    window_start DateTime64(3),
    window_end DateTime64(3),
    kind LowCardinality(String),
    segment String DEFAULT '',
    feature Nullable(String),
    method LowCardinality(String) DEFAULT '',
    metric LowCardinality(String) DEFAULT '',
    value Nullable(Float64),
    threshold Nullable(Float64),
    status LowCardinality(String),
    source LowCardinality(String) DEFAULT 'realized',
    reference_size UInt64 DEFAULT 0,
    current_size UInt64 DEFAULT 0,
    details String DEFAULT '' CODEC(ZSTD(1)),
    run_id String DEFAULT '',
    computed_at DateTime64(3) DEFAULT now64(3)
""",
    engine="ReplacingMergeTree",
    engine_args="computed_at",
    tail="""PARTITION BY toYYYYMM(window_start)
ORDER BY (model, version, kind, window_start, window_end, segment,
          ifNull(feature, ''), method, metric, source)
SETTINGS index_granularity = 8192, allow_nullable_key = 1""",
    sharding_key="cityHash64(model)",
)

VIEW_LIMITS = (
    "max_span_rows",
    "max_projected_rows",
    "max_attributes",
    "max_key_bytes",
    "max_value_bytes",
)
"""The :class:`~modeltel.analyzer.base.limits.Limits` fields the views apply."""


def _limit(name: str) -> str:
    """SQL of one limit in the span computation (``limits`` is a constant named tuple)."""
    return f"limits.{name}"


# One scalar subquery: the limits as a named tuple, each the latest stored value or its default.
_LIMITS = (
    "(SELECT CAST(tuple("
    + ", ".join(
        f"ifNull(argMaxIfOrNull(value, updated_at, name = '{name}'), "
        f"{getattr(DEFAULT_LIMITS, name)})"
        for name in VIEW_LIMITS
    )
    + "), 'Tuple("
    + ", ".join(f"{name} UInt64" for name in VIEW_LIMITS)
    + ")') FROM {limits})"
)

# The checks in the order both paths apply them: (reason, measured size, limit field).
ISSUE_CHECKS = (
    ("attributes", "attribute_count", "max_attributes"),
    ("key_length", "longest_key", "max_key_bytes"),
    ("value_length", "longest_value", "max_value_bytes"),
    ("span_rows", "n", "max_span_rows"),
    ("projected_rows", "projected", "max_projected_rows"),
)
_ISSUE = (
    "multiIf("
    + ", ".join(f"{size} > {_limit(limit)}, '{reason}'" for reason, size, limit in ISSUE_CHECKS)
    + ", has_declared AND (declared IS NULL OR declared != n), 'batch_size_mismatch', '')"
)
_ISSUE_SIZE = (
    "multiIf("
    + ", ".join(f"issue = '{reason}', {size}" for reason, size, _ in ISSUE_CHECKS)
    + ", ifNull(declared, 0))"
)
_ISSUE_LIMIT = (
    "multiIf("
    + ", ".join(f"issue = '{reason}', {_limit(limit)}" for reason, _, limit in ISSUE_CHECKS)
    + ", 0)"
)

_SPAN_COLUMNS = """
    Timestamp DateTime64(9),
    TraceId String,
    SpanId String,
    TraceState String,
    ServiceName LowCardinality(String),
    Duration UInt64,
    StatusCode LowCardinality(String),
    SpanAttributes Map(LowCardinality(String), String)"""

ML_SPAN_SOURCE = Table(
    name="ml_span_source",
    columns=_SPAN_COLUMNS,
    engine="Null",
    tail="",
    replicated=False,
)
"""Prediction spans other writers put in ``otel_traces`` (engine ``Null``: stores nothing). The
trivial view in front of it leaves out the receiver's blocks, so the receiver's inserts never
plan the projection views' queries."""

ML_SPAN_SOURCE_MV = View(
    name="ml_span_source_mv",
    target="ml_span_source",
    source="otel_traces",
    target_local=False,
    select=f"""SELECT Timestamp, TraceId, SpanId, TraceState, ServiceName, Duration, StatusCode,
    SpanAttributes
FROM {{source}}
WHERE SpanAttributes[{_MODEL_NAME}] != ''
  AND getSetting('log_comment') != '{RECEIVER_MARKER}'""",
)

ML_SPANS = Table(
    name="ml_spans",
    columns=_SPAN_COLUMNS
    + """,
    model String,
    version String,
    feature_map Map(LowCardinality(String), String),
    attribution_map Map(LowCardinality(String), String),
    is_batch UInt8,
    n UInt64,
    rows UInt64,
    ids Array(String),
    projectable UInt8,
    issue String,
    issue_size UInt64,
    issue_limit UInt64,
    declared_size UInt64
""",
    engine="Null",
    tail="",
    replicated=False,
)
"""Each prediction span of ``ml_span_source`` once, with the rows it holds (``n``; ``rows`` is
``n`` when the limits let it be projected, else 0), their ids, and the first limit it breaks
(``issue``, ``issue_size``, ``issue_limit``) or ``batch_size_mismatch``. The projection views
and ``ml_ingest_issues_mv`` read it."""

# Computed in three steps: an alias used twice in one SELECT is expanded twice, so each step
# reads the previous one's columns instead. ``{limits}`` is the ``modeltel_limits`` table. No
# function here may throw on any input (an exception would fail the whole insert).
ML_SPANS_MV = View(
    name="ml_spans_mv",
    target="ml_spans",
    source="ml_span_source",
    source_local=False,
    target_local=False,
    select=f"""SELECT
    Timestamp, TraceId, SpanId, TraceState, ServiceName, Duration, StatusCode, SpanAttributes,
    model, version, feature_map, attribution_map, is_batch, n, rows,
    if(ids_is_array AND projectable,
       arrayMap((id, i) -> if(id = '', concat(SpanId, '-', toString(i - 1)), id),
                JSONExtract(ids_raw, 'Array(String)') AS id_array, arrayEnumerate(id_array)),
       if(is_batch,
          arrayMap(i -> concat(SpanId, '-', toString(i)), range(rows)),
          [if(ids_raw = '', SpanId, ids_raw)])) AS ids,
    projectable, issue, {_ISSUE_SIZE} AS issue_size, {_ISSUE_LIMIT} AS issue_limit,
    ifNull(declared, 0) AS declared_size
FROM
(
    SELECT *,
        {_ISSUE} AS issue,
        issue IN ('', 'batch_size_mismatch') AS projectable,
        if(projectable, n, 0) AS rows
    FROM
    (
        SELECT *,
            toUInt64(if(ids_is_array, JSONLength(ids_raw),
                        if(is_batch, least(ifNull(declared, 0), longest), 1))) AS n,
            n * (1 + length(feature_map) + length(attribution_map)) AS projected
        FROM
        (
            SELECT
                Timestamp, TraceId, SpanId, TraceState, ServiceName, Duration, StatusCode,
                SpanAttributes, SpanAttributes[{_MODEL_NAME}] AS model,
                if(SpanAttributes[{_MODEL_VERSION}] = '', {_UNVERSIONED},
                   SpanAttributes[{_MODEL_VERSION}]) AS version,
                {_LIMITS} AS limits,
                SpanAttributes[{_PREDICTION_ID}] AS ids_raw,
                startsWith(ids_raw, '[') AND isValidJSON(ids_raw) AS ids_is_array,
                mapContains(SpanAttributes, {_BATCH_SIZE}) AS has_declared,
                SpanAttributes[{_BATCH_SIZE}] AS declared_raw,
                if(match(declared_raw, '^[0-9]+$') AND length(declared_raw) <= 18,
                   toUInt64OrNull(declared_raw), NULL) AS declared,
                mapFilter((k, v) -> startsWith(k, {_FEATURE_PREFIX})
                                    AND k != {_FEATURE_CATEGORICAL}, SpanAttributes)
                    AS feature_map,
                mapFilter((k, v) -> startsWith(k, {_ATTRIBUTION_PREFIX}), SpanAttributes)
                    AS attribution_map,
                NOT ids_is_array AND ifNull(declared, 0) > 1 AS size_only,
                -- a batch declared by size alone holds as many rows as its longest value array
                if(size_only,
                   arrayMax(mapValues(mapApply((k, v) -> (k,
                       if(startsWith(v, '['), JSONLength(v), 0)), mapFilter((k, v) ->
                           (startsWith(k, {_FEATURE_PREFIX}) AND k != {_FEATURE_CATEGORICAL})
                           OR startsWith(k, {_ATTRIBUTION_PREFIX})
                           OR k IN ({_PREDICTION_LABEL}, {_PREDICTION_SCORE},
                                    {_PREDICTION_VALUE}), SpanAttributes)))),
                   0) AS longest,
                ids_is_array OR (size_only AND longest > 0) AS is_batch,
                toUInt64(length(SpanAttributes)) AS attribute_count,
                toUInt64(arrayMax(arrayMap(k -> length(k), mapKeys(SpanAttributes))))
                    AS longest_key,
                toUInt64(arrayMax(arrayMap(v -> if(startsWith(v, '['), 0, length(v)),
                                           mapValues(SpanAttributes)))) AS longest_value
            FROM {{source}}
        )
    )
)""",
)

ML_PREDICTIONS_MV = View(
    name="ml_predictions_mv",
    target="ml_predictions",
    source="ml_spans",
    source_local=False,
    select=f"""SELECT
    model, version, timestamp, prediction_id, task, prediction_label, prediction_score,
    prediction_value, latency_s, n AS batch_size, toUInt32(row_number - 1) AS row_index,
    is_error, service_name,
    trace_id, span_id, weight, error_type
FROM
(
    SELECT
        model, version, Timestamp AS timestamp, n, ids,
        SpanAttributes[{_TASK}] AS task,
        SpanAttributes[{_PREDICTION_LABEL}] AS label_raw,
        SpanAttributes[{_PREDICTION_SCORE}] AS score_raw,
        SpanAttributes[{_PREDICTION_VALUE}] AS value_raw,
        if(is_batch, arrayResize(JSONExtract(label_raw, 'Array(Nullable(String))'), rows),
           [if(has(mapKeys(SpanAttributes), {_PREDICTION_LABEL}), label_raw, NULL)]) AS labels,
        if(is_batch, arrayResize(JSONExtract(score_raw, 'Array(Nullable(Float64))'), rows),
           [toFloat64OrNull(score_raw)]) AS scores,
        if(is_batch, arrayResize(JSONExtract(value_raw, 'Array(Nullable(Float64))'), rows),
           [toFloat64OrNull(value_raw)]) AS values,
        Duration / 1e9 AS latency_s,
        toUInt8(StatusCode = 'Error') AS is_error,
        ServiceName AS service_name,
        TraceId AS trace_id,
        SpanId AS span_id,
        {weight_sql()} AS weight,
        {ERROR_TYPE_SQL} AS error_type
    FROM {{source}}
    WHERE projectable
)
ARRAY JOIN
    ids AS prediction_id,
    labels AS prediction_label,
    scores AS prediction_score,
    values AS prediction_value,
    arrayEnumerate(ids) AS row_number""",
)

ML_FEATURES_MV = View(
    name="ml_features_mv",
    target="ml_features",
    source="ml_spans",
    source_local=False,
    select=f"""SELECT
    model, version, substring(feature_key, {_FEATURE_NAME_AT}) AS feature, timestamp, prediction_id,
    toFloat64OrNull(raw_value) AS value_num,
    if(categorical OR value_num IS NULL, raw_value, NULL) AS value,
    toUInt8(has(categorical_names, feature)) AS categorical
FROM
(
    SELECT
        model, version, Timestamp AS timestamp, is_batch, rows, ids, feature_map,
        JSONExtract(SpanAttributes[{_FEATURE_CATEGORICAL}], 'Array(String)') AS categorical_names
    FROM {{source}}
    WHERE projectable
)
ARRAY JOIN
    mapKeys(feature_map) AS feature_key,
    mapValues(feature_map) AS feature_raw
ARRAY JOIN
    if(is_batch,
       arrayResize(
           if(startsWith(feature_raw, '[') AND position(feature_raw, '"') = 0,
              -- numbers only: a plain split is exact and far cheaper than a JSON parse
              arrayMap(x -> if(x = 'null', NULL, x), CAST(splitByChar(',',
                  substring(feature_raw, 2, length(feature_raw) - 2)), 'Array(Nullable(String))')),
              JSONExtract(feature_raw, 'Array(Nullable(String))')),
           rows),
       [if(startsWith(feature_raw, 'json: unsupported value'), NULL, feature_raw)]) AS raw_value,
    ids AS prediction_id""",
)

_LOG_ROWS = f"""
        LogAttributes[{_MODEL_NAME}] AS model,
        LogAttributes[{_PREDICTION_ID}] AS ids_raw,
        startsWith(ids_raw, '[') AND isValidJSON(ids_raw) AS is_batch,
        if(is_batch, JSONExtract(ids_raw, 'Array(String)'), [ids_raw]) AS ids,
        length(ids) AS n"""

ML_LABELS_MV = View(
    name="ml_labels_mv",
    target="ml_labels",
    source="otel_logs",
    select="""SELECT
    model, prediction_id, label,
    coalesce(label_value_given, toFloat64OrNull(label)) AS label_value,
    timestamp, now64(9) AS received_at, 'otlp' AS source
FROM
(
    SELECT"""
    + _LOG_ROWS
    + f""",
        if(Timestamp = 0, now64(9), Timestamp) AS timestamp,
        LogAttributes[{_LABEL}] AS label_raw,
        LogAttributes[{_LABEL_VALUE}] AS label_value_raw,
        if(is_batch, arrayResize(JSONExtract(label_raw, 'Array(Nullable(String))'), n),
           [if(has(mapKeys(LogAttributes), {_LABEL}), label_raw, NULL)]) AS labels,
        if(is_batch, arrayResize(JSONExtract(label_value_raw, 'Array(Nullable(Float64))'), n),
           [toFloat64OrNull(label_value_raw)]) AS label_values
    FROM {{source}}
    WHERE LogAttributes[{_MODEL_NAME}] != ''
      AND (EventName = {_LABEL_EVENT} OR LogAttributes[{_EVENT_NAME}] = {_LABEL_EVENT})
)
ARRAY JOIN
    ids AS prediction_id,
    labels AS label,
    label_values AS label_value_given
WHERE prediction_id != ''""",
)

ML_TABLES = (
    ML_SPAN_SOURCE,
    ML_SPANS,
    ML_PREDICTIONS,
    ML_FEATURES,
    ML_LABELS,
    ML_REFERENCE,
    ML_RESULTS,
)
ML_VIEWS = (ML_SPANS_MV, ML_SPAN_SOURCE_MV, ML_PREDICTIONS_MV, ML_FEATURES_MV, ML_LABELS_MV)
