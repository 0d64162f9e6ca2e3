"""Store: migrations, the exporter's schema, cluster DDL and the embedded-store lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from modeltel.analyzer.base.schema import Layout, all_statements
from modeltel.analyzer.base.schema.migrations import MIGRATIONS
from modeltel.analyzer.base.store import Store


def test_migrations_are_idempotent_and_recorded(store: Store) -> None:
    assert store.migrate() == []
    versions = store.query_rows("SELECT version FROM modeltel_migrations FINAL ORDER BY version")
    assert [v for (v,) in versions] == [m.version for m in MIGRATIONS]
    again = Store(store.url, store.database)
    assert again.migrate() == []
    again.close()


EXPORTER_COLUMNS = {
    "otel_traces": [
        ("Timestamp", "DateTime64(9)"),
        ("TraceId", "String"),
        ("SpanId", "String"),
        ("ParentSpanId", "String"),
        ("TraceState", "String"),
        ("SpanName", "LowCardinality(String)"),
        ("SpanKind", "LowCardinality(String)"),
        ("ServiceName", "LowCardinality(String)"),
        ("ResourceAttributes", "Map(LowCardinality(String), String)"),
        ("ScopeName", "String"),
        ("ScopeVersion", "String"),
        ("SpanAttributes", "Map(LowCardinality(String), String)"),
        ("Duration", "UInt64"),
        ("StatusCode", "LowCardinality(String)"),
        ("StatusMessage", "String"),
        ("Events.Timestamp", "Array(DateTime64(9))"),
        ("Events.Name", "Array(LowCardinality(String))"),
        ("Events.Attributes", "Array(Map(LowCardinality(String), String))"),
        ("Links.TraceId", "Array(String)"),
        ("Links.SpanId", "Array(String)"),
        ("Links.TraceState", "Array(String)"),
        ("Links.Attributes", "Array(Map(LowCardinality(String), String))"),
        ("ResourceAttributeItems", "Array(String)"),
        ("SpanAttributeItems", "Array(String)"),
    ],
    "otel_logs": [
        ("Timestamp", "DateTime64(9)"),
        ("TimestampTime", "DateTime"),
        ("TraceId", "String"),
        ("SpanId", "String"),
        ("TraceFlags", "UInt8"),
        ("SeverityText", "LowCardinality(String)"),
        ("SeverityNumber", "UInt8"),
        ("ServiceName", "LowCardinality(String)"),
        ("Body", "String"),
        ("ResourceSchemaUrl", "LowCardinality(String)"),
        ("ResourceAttributes", "Map(LowCardinality(String), String)"),
        ("ScopeSchemaUrl", "LowCardinality(String)"),
        ("ScopeName", "String"),
        ("ScopeVersion", "LowCardinality(String)"),
        ("ScopeAttributes", "Map(LowCardinality(String), String)"),
        ("LogAttributes", "Map(LowCardinality(String), String)"),
        ("EventName", "String"),
    ],
}


@pytest.mark.parametrize("table", sorted(EXPORTER_COLUMNS))
def test_exporter_tables_have_the_exporter_columns(store: Store, table: str) -> None:
    columns = store.query_rows(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() "
        "AND table = {t:String} ORDER BY position",
        parameters={"t": table},
    )
    assert columns == EXPORTER_COLUMNS[table]


def test_exporter_sorting_keys(store: Store) -> None:
    keys = dict(
        store.query_rows(
            "SELECT name, sorting_key FROM system.tables WHERE database = currentDatabase() "
            "AND name LIKE 'otel_%' AND engine LIKE '%MergeTree'"
        )
    )
    assert keys["otel_traces"] == "ServiceName, SpanName, toDateTime(Timestamp), Timestamp"
    assert keys["otel_logs"] == "ServiceName, TimestampTime, Timestamp"
    assert keys["otel_traces_trace_id_ts"].strip("()") == "TraceId"
    for kind in ("gauge", "sum", "histogram", "exponential_histogram", "summary"):
        assert (
            keys[f"otel_metrics_{kind}"]
            == "ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix)"
        )


def test_cluster_ddl_uses_replicated_engines_and_distributed_tables() -> None:
    statements = all_statements(Layout(database="otel", cluster="prod", ttl_days=30))
    text = "\n".join(statements)
    creates = [s for s in statements if s.startswith("CREATE TABLE")]
    assert all(" ON CLUSTER `prod`" in s for s in statements)
    local = [s for s in creates if "_local`" in s.split("(")[0] and "Distributed(" not in s]
    distributed = [s for s in creates if "ENGINE = Distributed(" in s]
    # every replicated table has a Distributed front with the same name minus _local
    assert {s.split("`")[3].removesuffix("_local") for s in local if "Replicated" in s} == {
        s.split("`")[3] for s in distributed
    }
    assert (
        "ReplicatedMergeTree('/clickhouse/tables/{shard}/otel/otel_traces_local', '{replica}')"
        in text
    )
    assert (
        "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/otel/ml_labels_local', "
        "'{replica}', received_at)" in text
    )
    # views read and write the shard-local tables; the receiver staging writes through Distributed
    assert "TO `otel`.`ml_predictions_local` AS" in text
    assert "FROM `otel`.`otel_traces_local`" in text
    assert "TO `otel`.`otel_traces` AS" in text
    assert "TTL toDateTime(Timestamp) + toIntervalDay(30)" in text
    assert "otel_traces_ingest` ON CLUSTER `prod` (" in text and "ENGINE = Null()" in text


def test_single_node_ddl_has_no_cluster_clauses() -> None:
    text = "\n".join(all_statements(Layout(database="otel")))
    assert "ON CLUSTER" not in text and "Replicated" not in text and "Distributed" not in text


def test_embedded_store_locked_by_another_process(tmp_path) -> None:
    path = tmp_path / "locked"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from modeltel.analyzer.base.store import Store
                Store("chdb://{path}")
                print("ready", flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        cli = subprocess.run(
            [sys.executable, "-m", "modeltel.analyzer.cli", "serve", "--clickhouse-url", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 3, cli.stderr
        assert cli.stderr.startswith("modeltel: error: the embedded store")
        assert "open in another process" in cli.stderr and "--server" in cli.stderr
        assert "Traceback" not in cli.stderr
    finally:
        holder.kill()
        holder.communicate()
