"""Versioned schema migrations: the 0.1.0 baseline, and the steps of later releases.

The declarations of this package (:mod:`.otel`, :mod:`.ml`, :mod:`.staging`,
:mod:`.attributions`, :mod:`.ingest_limits`, :mod:`.results_latest`,
:mod:`.reference_profiles`) are the one place that says what the tables and views look like
today. Migration 1, the baseline of modeltel 0.1.0, creates every one of them as declared.

``modeltel_migrations`` records the ``(version, name)`` of every migration a store has had.
When a store is opened (:meth:`modeltel.analyzer.base.store.Store.migrate`, via :func:`plan`):

- a new store (no migration recorded) runs the baseline only, which already creates the
  declared state, and records every migration of :data:`MIGRATIONS` as applied;
- a store made by an earlier release runs the migrations it has not recorded, in order;
- a store whose ledger records a migration this build does not know is refused with a
  :class:`~modeltel.analyzer.base.errors.StoreError` that says what to do: one made by an
  earlier development build (its ledger lacks the baseline, or holds the development
  numbering), or by a newer modeltel.

Every statement is idempotent (``IF NOT EXISTS``/``IF EXISTS``), so a migration interrupted
half-way is simply run again.

How to add a migration (a release after 0.1.0 changes the schema):

1. Change the declaration (a :class:`Table`'s columns, a :class:`View`'s select, a new table
   or view, added to :func:`baseline_statements`): it stays the source of what a new store
   looks like.
2. Append ``Migration(<last version + 1>, "<what it does>", <statements>)`` to
   :data:`MIGRATIONS`, whose statements bring a store of the previous release to that state,
   e.g. ``ALTER TABLE … ADD COLUMN IF NOT EXISTS`` on ``layout.qualified(name, local=True)``
   (and the Distributed table on a cluster), ``layout.modify_view(VIEW)`` (replaces a view's
   query in place: no insert is missed or projected twice), ``layout.create_table(NEW)``.
   Use ``layout.on_cluster`` so the step also runs on a cluster. It never runs on a new store.
3. Add a test that opens a store with the previous release's ledger and tables and checks the
   result equals a new store's schema.

Never edit, renumber or rename a released migration: the ledger names it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from modeltel.analyzer.base.errors import StoreError
from modeltel.analyzer.base.schema.attributions import (
    ML_ATTRIBUTIONS,
    ML_ATTRIBUTIONS_INGEST_MV,
    ML_ATTRIBUTIONS_MV,
)
from modeltel.analyzer.base.schema.ingest_limits import (
    ML_INGEST_ISSUES,
    ML_INGEST_ISSUES_INGEST_MV,
    ML_INGEST_ISSUES_MV,
    MODELTEL_LIMITS,
)
from modeltel.analyzer.base.schema.layout import Layout, Table, View, quote_ident
from modeltel.analyzer.base.schema.ml import (
    ML_PREDICTIONS,
    ML_PREDICTIONS_MV,
    ML_SPAN_SOURCE,
    ML_SPAN_SOURCE_MV,
    ML_SPANS,
    ML_SPANS_MV,
    ML_TABLES,
    ML_VIEWS,
)
from modeltel.analyzer.base.schema.otel import OTEL_TABLES, OTEL_VIEWS
from modeltel.analyzer.base.schema.reference_profiles import ML_REFERENCE_PROFILES
from modeltel.analyzer.base.schema.results_latest import ML_RESULTS_LATEST, ML_RESULTS_LATEST_MV
from modeltel.analyzer.base.schema.staging import (
    ML_FEATURES_INGEST_MV,
    ML_PREDICTIONS_INGEST_MV,
    OTEL_TRACES_INGEST,
    OTEL_TRACES_INGEST_MV,
)

MIGRATIONS_TABLE = Table(
    name="modeltel_migrations",
    columns="""
    version UInt32,
    name String,
    applied_at DateTime64(3) DEFAULT now64(3)
""",
    engine="ReplacingMergeTree",
    engine_args="applied_at",
    tail="ORDER BY version",
)

BASELINE_TABLES: tuple[Table, ...] = (
    MODELTEL_LIMITS,  # first: the views read it
    *OTEL_TABLES,
    *ML_TABLES,
    OTEL_TRACES_INGEST,
    ML_RESULTS_LATEST,
    ML_ATTRIBUTIONS,
    ML_REFERENCE_PROFILES,
    ML_INGEST_ISSUES,
)
"""Every table of a store, in the order they are created."""

BASELINE_VIEWS: tuple[View, ...] = (
    *OTEL_VIEWS,
    *ML_VIEWS,
    OTEL_TRACES_INGEST_MV,
    ML_PREDICTIONS_INGEST_MV,
    ML_FEATURES_INGEST_MV,
    ML_RESULTS_LATEST_MV,
    ML_ATTRIBUTIONS_MV,
    ML_ATTRIBUTIONS_INGEST_MV,
    ML_INGEST_ISSUES_MV,
    ML_INGEST_ISSUES_INGEST_MV,
)
"""Every materialized view, created after the tables (each after the one that feeds it)."""


@dataclass(frozen=True)
class Migration:
    """One schema step: ``statements(layout)`` returns the DDL to run, in order."""

    version: int
    name: str
    statements: Callable[[Layout], list[str]]


def baseline_statements(layout: Layout) -> list[str]:
    """Every table and view as declared (the baseline's statements)."""
    out: list[str] = []
    for table in BASELINE_TABLES:
        out += layout.create_table(table)
    for view in BASELINE_VIEWS:
        out += layout.create_view(view)
    return out


BASELINE = Migration(1, "0.1.0 baseline: every table and view as declared", baseline_statements)


def weights_and_error_types(layout: Layout) -> list[str]:
    """Migration 2: each prediction's sampling ``weight`` and ``error_type``
    (:mod:`.span_facts`), and the span tables' ``TraceState`` that the weight reads."""
    out = [
        f"ALTER TABLE {layout.qualified(name)}{layout.on_cluster} "
        "ADD COLUMN IF NOT EXISTS TraceState String AFTER SpanId"
        for name in (ML_SPAN_SOURCE.name, ML_SPANS.name)
    ]
    tables = [layout.qualified(ML_PREDICTIONS.name, local=True)]
    if layout.cluster:
        tables.append(layout.qualified(ML_PREDICTIONS.name))
    for table in tables:
        out.append(
            f"ALTER TABLE {table}{layout.on_cluster} "
            "ADD COLUMN IF NOT EXISTS weight Float64 DEFAULT 1 CODEC(ZSTD(1)) AFTER span_id, "
            "ADD COLUMN IF NOT EXISTS error_type LowCardinality(String) DEFAULT '' AFTER weight"
        )
    for view in (ML_SPAN_SOURCE_MV, ML_SPANS_MV, ML_PREDICTIONS_MV, ML_PREDICTIONS_INGEST_MV):
        out += layout.modify_view(view)
    return out


MIGRATIONS: tuple[Migration, ...] = (
    BASELINE,
    Migration(2, "sampling weight and error type of each prediction", weights_and_error_types),
)
"""Every migration, in order; append new ones (see the module docstring)."""


def bootstrap_statements(layout: Layout) -> list[str]:
    """Statements creating the database and the migrations ledger (run at every open)."""
    return [
        f"CREATE DATABASE IF NOT EXISTS {quote_ident(layout.database)}{layout.on_cluster}",
        *layout.create_table(MIGRATIONS_TABLE),
    ]


def all_statements(layout: Layout) -> list[str]:
    """Every statement of a new store, in order (used to print or review cluster DDL)."""
    return bootstrap_statements(layout) + BASELINE.statements(layout)


def plan(recorded: Iterable[tuple[int, str]], where: str) -> list[Migration]:
    """The migrations to run on a store whose ledger holds ``recorded`` (version, name) rows,
    in order: the baseline alone for a new store (it creates the declared state, and every
    migration is then recorded), else those not yet recorded. ``where`` names the store in
    the error raised when the ledger records a migration this build does not know."""
    rows = set(recorded)
    if not rows:
        return [BASELINE]
    known = {(m.version, m.name) for m in MIGRATIONS}
    unknown = sorted(rows - known)
    if unknown:
        raise unknown_migrations_error(rows, unknown, where)
    done = {version for version, _ in rows}
    return [m for m in MIGRATIONS if m.version not in done]


def unknown_migrations_error(
    rows: set[tuple[int, str]], unknown: list[tuple[int, str]], where: str
) -> StoreError:
    """The one-sentence error for a ledger this build cannot continue."""
    latest = MIGRATIONS[-1].version
    if (BASELINE.version, BASELINE.name) in rows and all(v > latest for v, _ in unknown):
        versions = ", ".join(str(v) for v, _ in unknown)
        return StoreError(
            f"{where} was made by a newer modeltel (its migrations table records migrations "
            f"{versions}, which this build does not know); upgrade modeltel to open it"
        )
    versions = ", ".join(str(v) for v in sorted({v for v, _ in rows}))
    return StoreError(
        f"{where} was made by an earlier development build of modeltel (its migrations table "
        f"records migrations {versions}, not the 0.1.0 baseline); export what you need from "
        "it with ClickHouse's own tools and open a new store directory or database "
        "(--clickhouse-url or --database)"
    )
