"""``ml_reference_profiles``: what drift needs to know of a reference before counting it.

One row per feature of one uploaded reference (model, version, reference name, its upload time
and row count): type, size, distinct values, range, spread and the 0.1 %/99.9 % quantiles
that place the counting grid (:class:`modeltel.analyzer.analyses.drift.histogram.Profile`). It is
computed by one scan when the reference is uploaded (or by the first drift run after rows were
written another way) and read back by every later run, so a drift computation scans the
reference only to count it. A new upload has a new upload time, so stale profiles are never
read; rows of replaced references are removed with them.
"""

from __future__ import annotations

from modeltel.analyzer.base.schema.layout import Table

ML_REFERENCE_PROFILES = Table(
    name="ml_reference_profiles",
    columns="""
    model LowCardinality(String),
    version LowCardinality(String),
    reference LowCardinality(String),
    uploaded_at DateTime64(3),
    reference_rows UInt64,
    feature String,
    categorical UInt8,
    rows UInt64,
    finite UInt64,
    distinct UInt64,
    minimum Float64,
    maximum Float64,
    std Float64,
    q_low Float64,
    q_high Float64,
    computed_at DateTime64(3) DEFAULT now64(3)
""",
    engine="ReplacingMergeTree",
    engine_args="computed_at",
    tail="ORDER BY (model, version, reference, uploaded_at, reference_rows, feature)",
    sharding_key="cityHash64(model, version, reference)",
)
