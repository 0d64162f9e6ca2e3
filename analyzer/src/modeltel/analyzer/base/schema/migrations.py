"""Versioned, idempotent schema migrations.

Each migration has a number, a name and the statements it runs for a :class:`Layout`. Applied
numbers are recorded in ``modeltel_migrations``; every statement is also ``IF NOT EXISTS`` so a
half-applied migration can simply be run again. Append new migrations; never edit applied ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from modeltel.analyzer.base.schema import (
    attributions,
    id_keys,
    ingest_limits,
    reference_profiles,
    results_latest,
)
from modeltel.analyzer.base.schema.layout import Layout, Table, View, quote_ident
from modeltel.analyzer.base.schema.ml import ML_TABLES, ML_VIEWS
from modeltel.analyzer.base.schema.otel import OTEL_TABLES, OTEL_VIEWS
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


@dataclass(frozen=True)
class Migration:
    """One schema step: ``statements(layout)`` returns the DDL to run, in order."""

    version: int
    name: str
    statements: Callable[[Layout], list[str]]


def _create(tables: tuple[Table, ...], views: tuple[View, ...]) -> Callable[[Layout], list[str]]:
    def statements(layout: Layout) -> list[str]:
        out: list[str] = []
        for table in tables:
            out += layout.create_table(table)
        for view in views:
            out += layout.create_view(view)
        return out

    return statements


def _features_time_codec(layout: Layout) -> list[str]:
    """Delta + ZSTD on ``ml_features.timestamp``: drift scans read it for every row of a window,
    and plain LZ4 left it half their cost (new parts use it; merges convert old ones)."""
    table = layout.qualified("ml_features", local=True)
    codec = "CODEC(Delta(8), ZSTD(1))"
    return [f"ALTER TABLE {table}{layout.on_cluster} MODIFY COLUMN timestamp {codec}"]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "collector clickhouseexporter tables", _create(OTEL_TABLES, OTEL_VIEWS)),
    Migration(2, "ml tables and projection views", _create(ML_TABLES, ML_VIEWS)),
    Migration(
        3,
        "receiver staging",
        _create(
            (OTEL_TRACES_INGEST,),
            (OTEL_TRACES_INGEST_MV, ML_PREDICTIONS_INGEST_MV, ML_FEATURES_INGEST_MV),
        ),
    ),
    Migration(4, "latest result per series", results_latest.statements),
    Migration(5, "prediction id join keys", id_keys.statements),
    Migration(6, "ml_features time codec for window scans", _features_time_codec),
    Migration(7, "feature attributions", attributions.statements),
    Migration(8, "reference profiles for drift", reference_profiles.statements),
    Migration(9, "span limits in the views and ingest issues", ingest_limits.statements),
)


def bootstrap_statements(layout: Layout) -> list[str]:
    """Statements creating the database, the migrations ledger and the limits the views read."""
    return [
        f"CREATE DATABASE IF NOT EXISTS {quote_ident(layout.database)}{layout.on_cluster}",
        *layout.create_table(MIGRATIONS_TABLE),
        *ingest_limits.bootstrap_statements(layout),
    ]


def all_statements(layout: Layout) -> list[str]:
    """Every statement of a fresh install, in order (used to print or review cluster DDL)."""
    out = bootstrap_statements(layout)
    for migration in MIGRATIONS:
        out += migration.statements(layout)
    return out
