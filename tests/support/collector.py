"""The Collector's path, beside the receiver's: a database holding the same ``otel_traces``
rows as a store the receiver wrote, inserted directly as the clickhouse exporter would, so
the ``otel_traces`` views project them; and the check that both paths give the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from modeltel.analyzer.base.store import Store
from support.servers import new_database_name

ML_TABLES = (
    ("ml_predictions", "prediction_id"),
    ("ml_features", "prediction_id, feature"),
    ("ml_attributions", "prediction_id, feature"),
)
"""The projected tables, each with an order that makes its rows comparable."""


@contextmanager
def collector_copy(store_url: str, received: Store) -> Iterator[Store]:
    """A database of its own into which ``received``'s ``otel_traces`` rows were inserted."""
    collector = Store(store_url, new_database_name("collector"))
    try:
        collector.command(
            f"INSERT INTO otel_traces SELECT * FROM `{received.database}`.otel_traces"
        )
        yield collector
    finally:
        collector.command(f"DROP DATABASE IF EXISTS `{collector.database}`")
        collector.close()


def assert_same_ml_rows(received: Store, collector: Store) -> None:
    """Every projected table holds the same rows in both stores."""
    for table, order in ML_TABLES:
        sql = f"SELECT * FROM {table} ORDER BY {order}"
        assert received.query_rows(sql) == collector.query_rows(sql), table
