"""``ml_attributions``: feature attributions (e.g. SHAP values), one row per prediction and feature.

Prediction spans carry ``ml.attribution.<feature>`` attributes (a number, or an array with one
element per row for batch spans; see :mod:`modeltel.instrumentation._attributions`). They are
projected beside ``ml_features`` by the same two paths:

- ``ml_attributions_mv`` parses the exporter's strings of ``otel_traces`` rows written by a
  Collector (the spans of ``ml_spans``), with the explode of ``ml_features_mv`` (one ``ARRAY JOIN`` over the attribution
  map, a second over the values in parallel with the ids);
- ``ml_attributions_ingest_mv`` reads the typed ``MlAttribution*`` columns that modeltel's
  receiver fills in ``otel_traces_ingest`` (:mod:`.staging`,
  :mod:`modeltel.analyzer.ingest.projection`).

Only finite numbers are stored: a missing, non-numeric or infinite attribution has no row.
Spans a limit stops are left out as in ``ml_features`` (:mod:`.ingest_limits`).
The table is ordered like ``ml_features`` (model, version, feature, time) for per-feature,
per-window scans.
"""

from __future__ import annotations

from modeltel.analyzer.base.schema.layout import Table, View
from modeltel.instrumentation.attributes import ML_ATTRIBUTION_PREFIX

_NAME_AT = len(ML_ATTRIBUTION_PREFIX) + 1
"""Where a feature's name starts in its attribution's attribute name (``substring`` counts
from 1)."""

ML_ATTRIBUTIONS = Table(
    name="ml_attributions",
    columns="""
    model LowCardinality(String),
    version LowCardinality(String),
    feature LowCardinality(String),
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    prediction_id String CODEC(ZSTD(1)),
    value Float64 CODEC(ZSTD(1))
""",
    tail="""PARTITION BY toYYYYMM(timestamp)
ORDER BY (model, version, feature, timestamp)
SETTINGS index_granularity = 8192""",
    ttl_column="toDateTime(timestamp)",
    sharding_key="cityHash64(prediction_id)",
)

ML_ATTRIBUTIONS_MV = View(
    name="ml_attributions_mv",
    target="ml_attributions",
    source="ml_spans",
    source_local=False,
    select=f"""SELECT
    model, version, substring(attribution_key, {_NAME_AT}) AS feature, timestamp, prediction_id,
    assumeNotNull(toFloat64OrNull(raw_value)) AS value
FROM
(
    SELECT model, version, Timestamp AS timestamp, is_batch, rows, ids, attribution_map
    FROM {{source}}
    WHERE projectable
)
ARRAY JOIN
    mapKeys(attribution_map) AS attribution_key,
    mapValues(attribution_map) AS attribution_raw
ARRAY JOIN
    if(is_batch,
       arrayResize(
           if(startsWith(attribution_raw, '[') AND position(attribution_raw, '"') = 0,
              arrayMap(x -> if(x = 'null', NULL, x), CAST(splitByChar(',',
                  substring(attribution_raw, 2, length(attribution_raw) - 2)),
                  'Array(Nullable(String))')),
              JSONExtract(attribution_raw, 'Array(Nullable(String))')),
           rows),
       [if(startsWith(attribution_raw, 'json: unsupported value'), NULL, attribution_raw)])
       AS raw_value,
    ids AS prediction_id
WHERE isFinite(ifNull(toFloat64OrNull(raw_value), nan))""",
)

ML_ATTRIBUTIONS_INGEST_MV = View(
    name="ml_attributions_ingest_mv",
    target="ml_attributions",
    source="otel_traces_ingest",
    source_local=False,
    target_local=False,
    select="""SELECT
    MlModel AS model, MlVersion AS version, feature, Timestamp AS timestamp, prediction_id,
    assumeNotNull(if(notEmpty(numbers), number, toFloat64OrNull(text))) AS value
FROM {source}
ARRAY JOIN
    MlAttributions AS feature,
    MlAttributionNum AS numbers,
    MlAttributionText AS texts
ARRAY JOIN
    arrayResize(numbers, length(MlIds)) AS number,
    arrayResize(texts, length(MlIds)) AS text,
    MlIds AS prediction_id
WHERE MlModel != ''
  AND isFinite(ifNull(if(notEmpty(numbers), number, toFloat64OrNull(text)), nan))""",
)
