"""Limits in the store: what the views apply, and the spans they (or the receiver) set aside.

- ``modeltel_limits`` (``name``, ``value``, ``updated_at``; the latest row per name wins) holds
  the limits the ``otel_traces`` views apply to rows other writers (a Collector) insert:
  ``max_span_rows``, ``max_projected_rows``, ``max_attributes``, ``max_key_bytes`` and
  ``max_value_bytes`` (:data:`~modeltel.analyzer.base.schema.ml.VIEW_LIMITS`); a name without a row
  has the default of :class:`~modeltel.analyzer.base.limits.Limits`. ``modeltel serve`` writes
  its own limits there when it starts (:func:`record_limits`), so both paths agree; without
  it, ``INSERT INTO modeltel_limits (name, value) VALUES ('max_span_rows', 200000)``. The
  baseline creates it before the views that read it and, on a cluster, replicates it to every
  node.
- ``ml_ingest_issues``: one row per prediction span that was stored in ``otel_traces`` but not
  projected (``skipped = 1``; ``reason`` the limit, ``size`` what broke it, ``max_size`` the
  limit), or whose ``ml.batch.size`` differs from the rows it carries (``reason =
  'batch_size_mismatch'``, ``skipped = 0``, ``size`` the declared size; a data-quality fact).
  ``source`` is ``receiver`` (written from the staging columns ``MlRows``,
  ``MlDeclaredSize`` and ``MlIssue*`` of :mod:`.staging` by ``ml_ingest_issues_ingest_mv``)
  or ``otel_traces`` (other writers; ``ml_ingest_issues_mv`` reads ``ml_spans``, where
  :mod:`.ml` computes each span's rows and limits once). Spans the receiver refused whole are
  not here (they are not stored); its ``/metrics`` counts them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modeltel.analyzer.base.limits import BATCH_SIZE_MISMATCH, Limits
from modeltel.analyzer.base.schema.layout import LIMITS_TABLE, Table, View
from modeltel.analyzer.base.schema.ml import VIEW_LIMITS

if TYPE_CHECKING:
    from modeltel.analyzer.base.store import Store

MODELTEL_LIMITS = Table(
    name=LIMITS_TABLE,
    columns="""
    name LowCardinality(String),
    value UInt64,
    updated_at DateTime64(3) DEFAULT now64(3)
""",
    engine="ReplacingMergeTree",
    engine_args="updated_at",
    tail="ORDER BY name",
    shared=True,
)

ML_INGEST_ISSUES = Table(
    name="ml_ingest_issues",
    columns="""
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    received_at DateTime64(3) DEFAULT now64(3),
    source LowCardinality(String),
    model LowCardinality(String),
    version LowCardinality(String),
    service_name LowCardinality(String),
    trace_id String CODEC(ZSTD(1)),
    span_id String CODEC(ZSTD(1)),
    reason LowCardinality(String),
    skipped UInt8,
    predictions UInt64,
    declared_size UInt64,
    size UInt64,
    max_size UInt64
""",
    tail="""PARTITION BY toYYYYMM(timestamp)
ORDER BY (source, reason, model, timestamp)
SETTINGS index_granularity = 8192""",
    ttl_column="toDateTime(timestamp)",
    sharding_key="cityHash64(span_id)",
)

ML_INGEST_ISSUES_MV = View(
    name="ml_ingest_issues_mv",
    target="ml_ingest_issues",
    source="ml_spans",
    source_local=False,
    select=f"""SELECT
    Timestamp AS timestamp, now64(3) AS received_at, 'otel_traces' AS source, model, version,
    ServiceName AS service_name, TraceId AS trace_id, SpanId AS span_id, issue AS reason,
    toUInt8(issue != '{BATCH_SIZE_MISMATCH}') AS skipped, n AS predictions, declared_size,
    issue_size AS size, issue_limit AS max_size
FROM {{source}}
WHERE issue != ''""",
)

ML_INGEST_ISSUES_INGEST_MV = View(
    name="ml_ingest_issues_ingest_mv",
    target="ml_ingest_issues",
    source="otel_traces_ingest",
    source_local=False,
    target_local=False,
    select=f"""SELECT
    Timestamp AS timestamp, now64(3) AS received_at, 'receiver' AS source, MlModel AS model,
    MlVersion AS version, ServiceName AS service_name, TraceId AS trace_id, SpanId AS span_id,
    MlIssue AS reason, toUInt8(MlIssue != '{BATCH_SIZE_MISMATCH}') AS skipped,
    MlRows AS predictions, MlDeclaredSize AS declared_size, MlIssueSize AS size,
    MlIssueLimit AS max_size
FROM {{source}}
WHERE MlModel != '' AND MlIssue != ''""",
)


def stored_limits(store: Store) -> dict[str, int]:
    """The limits recorded in ``modeltel_limits`` (names without a row are left out)."""
    rows = store.query_rows(
        f"SELECT name, argMax(value, updated_at) FROM {store.table(LIMITS_TABLE)} GROUP BY name"
    )
    return {str(name): int(value) for name, value in rows}


def record_limits(store: Store, limits: Limits) -> dict[str, int]:
    """Write the limits the views apply from ``limits`` where the store holds other values;
    return what was written (StoreError when the store is unavailable)."""
    wanted = {name: int(getattr(limits, name)) for name in VIEW_LIMITS}
    current = stored_limits(store)
    changed = {name: value for name, value in wanted.items() if current.get(name) != value}
    if changed:
        store.insert(LIMITS_TABLE, [list(item) for item in changed.items()], ["name", "value"])
    return changed
