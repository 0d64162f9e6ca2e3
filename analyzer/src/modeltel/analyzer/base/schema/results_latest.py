"""``ml_results_latest``: the newest record of every result series, kept by ClickHouse.

A series is (model, version, kind, segment, feature, method, metric, source). The view copies
every row written to ``ml_results``; the ReplacingMergeTree keeps, per series, the row of the
latest ``window_end`` (on a tie the last inserted, i.e. the newest computation). Read it with
``FINAL``. It is what ``/metrics`` publishes: a scrape reads one row per series instead of
aggregating the whole results history.
"""

from __future__ import annotations

from modeltel.analyzer.base.schema.layout import Table, View

ML_RESULTS_LATEST = Table(
    name="ml_results_latest",
    columns="""
    model LowCardinality(String),
    version LowCardinality(String),
    kind LowCardinality(String),
    segment String,
    feature Nullable(String),
    method LowCardinality(String),
    metric LowCardinality(String),
    source LowCardinality(String),
    window_start DateTime64(3),
    window_end DateTime64(3),
    value Nullable(Float64),
    threshold Nullable(Float64),
    status LowCardinality(String),
    computed_at DateTime64(3)
""",
    engine="ReplacingMergeTree",
    engine_args="window_end",
    tail="""ORDER BY (model, version, kind, segment, ifNull(feature, ''), method, metric, source)
SETTINGS index_granularity = 1024, allow_nullable_key = 1""",
    sharding_key="cityHash64(model)",
)

_COLUMNS = (
    "model, version, kind, segment, feature, method, metric, source, "
    "window_start, window_end, value, threshold, status, computed_at"
)

ML_RESULTS_LATEST_MV = View(
    name="ml_results_latest_mv",
    target="ml_results_latest",
    source="ml_results",
    select=f"SELECT {_COLUMNS} FROM {{source}}",
)
