"""Store: the 0.1.0 baseline and later migrations, stores of earlier builds, the exporter's
schema, cluster DDL and the embedded-store lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from modeltel.analyzer.base.errors import StoreError
from modeltel.analyzer.base.schema import (
    Layout,
    Table,
    View,
    all_statements,
    attributions,
    ingest_limits,
    migrations,
    ml,
    otel,
    reference_profiles,
    results_latest,
    staging,
)
from modeltel.analyzer.base.schema.migrations import (
    BASELINE,
    MIGRATIONS,
    MIGRATIONS_TABLE,
    Migration,
)
from modeltel.analyzer.base.store import Store
from support.servers import new_database_name

DECLARING_MODULES = (
    otel,
    ml,
    staging,
    attributions,
    ingest_limits,
    results_latest,
    reference_profiles,
)

EARLIER_BUILD_MIGRATIONS = [
    (1, "collector clickhouseexporter tables"),
    (2, "ml tables and projection views"),
    (3, "receiver staging"),
    (4, "latest result per series"),
    (5, "prediction id join keys"),
    (6, "ml_features time codec for window scans"),
    (7, "feature attributions"),
    (8, "reference profiles for drift"),
    (9, "span limits in the views and ingest issues"),
]
"""The ledger of a store made by a development build before the 0.1.0 baseline."""


def _declared() -> tuple[set[str], set[str]]:
    """The names of every Table and View the schema modules declare."""
    tables: set[str] = set()
    views: set[str] = set()
    for module in DECLARING_MODULES:
        for value in vars(module).values():
            if isinstance(value, Table):
                tables.add(value.name)
            elif isinstance(value, View):
                views.add(value.name)
    return tables, views


def _ledger(store: Store) -> list[tuple[int, str]]:
    return [
        (int(v), str(n))
        for v, n in store.query_rows(
            f"SELECT version, name FROM {store.table('modeltel_migrations')} FINAL ORDER BY version"
        )
    ]


@pytest.fixture
def other_database(store: Store) -> Iterator[str]:
    """The name of a database of its own (dropped after the test), on the store's server."""
    name = new_database_name("earlier")
    try:
        yield name
    finally:
        store.command(f"DROP DATABASE IF EXISTS `{name}`")


def _write_ledger(store: Store, database: str, rows: list[tuple[int, str]]) -> None:
    """A database whose migrations table holds ``rows``, written by SQL as a build wrote it."""
    layout = Layout(database=database)
    store.command(f"CREATE DATABASE `{database}`")
    for statement in layout.create_table(MIGRATIONS_TABLE):
        store.command(statement)
    values = ", ".join(f"({version}, '{name}')" for version, name in rows)
    store.command(f"INSERT INTO `{database}`.modeltel_migrations (version, name) VALUES {values}")


def test_a_new_store_records_the_baseline_and_every_migration(store: Store) -> None:
    assert _ledger(store) == [(m.version, m.name) for m in MIGRATIONS]
    assert MIGRATIONS[0] is BASELINE and BASELINE.version == 1
    assert store.migrate() == [] and store.pending_migrations() == []
    again = Store(store.url, store.database)
    try:
        assert again.migrate() == []
        assert _ledger(again) == [(m.version, m.name) for m in MIGRATIONS]
    finally:
        again.close()


def test_the_baseline_creates_every_declared_table_and_view(store: Store) -> None:
    tables, views = _declared()
    assert tables == {t.name for t in migrations.BASELINE_TABLES}
    assert views == {v.name for v in migrations.BASELINE_VIEWS}
    stored = dict(
        store.query_rows(
            "SELECT name, engine FROM system.tables WHERE database = currentDatabase()"
        )
    )
    assert set(stored) == tables | views | {"modeltel_migrations"}
    assert all(stored[name] == "MaterializedView" for name in views)


def test_the_baseline_has_what_earlier_builds_altered_in(store: Store) -> None:
    """The declarations hold what the development builds added by ALTER: the id join keys,
    the time codec of ml_features and the receiver's attribution and limit columns."""
    columns = {
        (table, name): (type_, kind, codec)
        for table, name, type_, kind, codec in store.query_rows(
            "SELECT table, name, type, default_kind, compression_codec FROM system.columns "
            "WHERE database = currentDatabase()"
        )
    }
    for table in ("ml_predictions", "ml_labels"):
        assert columns[(table, "id_key")][:2] == ("UInt128", "MATERIALIZED")
    assert columns[("ml_features", "timestamp")] == (
        "DateTime64(9)",
        "",
        "CODEC(Delta(8), ZSTD(1))",
    )
    for name in (
        "MlAttributions",
        "MlAttributionNum",
        "MlAttributionText",
        "MlRows",
        "MlDeclaredSize",
        "MlIssue",
        "MlIssueSize",
        "MlIssueLimit",
    ):
        assert ("otel_traces_ingest", name) in columns
    assert not any("ALTER" in statement for statement in all_statements(Layout("otel")))


@pytest.mark.parametrize(
    "rows",
    [EARLIER_BUILD_MIGRATIONS, EARLIER_BUILD_MIGRATIONS[:3]],
    ids=["all-nine", "first-three"],
)
@pytest.mark.parametrize("migrate", [True, False])
def test_a_store_of_an_earlier_build_is_refused_at_open_with_one_sentence(
    store: Store, other_database: str, rows: list[tuple[int, str]], migrate: bool
) -> None:
    _write_ledger(store, other_database, rows)
    with pytest.raises(StoreError) as raised:
        Store(store.url, other_database, migrate=migrate)
    versions = ", ".join(str(v) for v, _ in rows)
    assert str(raised.value) == (
        f"the database {other_database} of the store {store.url} was made by an earlier "
        f"development build of modeltel (its migrations table records migrations {versions}, "
        "not the 0.1.0 baseline); export what you need from it with ClickHouse's own tools and "
        "open a new store directory or database (--clickhouse-url or --database)"
    )
    assert "\n" not in str(raised.value) and ". " not in str(raised.value)
    # refused before anything was created in it
    assert store.query_rows(
        "SELECT name FROM system.tables WHERE database = {d:String}",
        parameters={"d": other_database},
    ) == [("modeltel_migrations",)]


def test_a_store_without_the_baseline_among_known_numbers_is_refused(
    store: Store, other_database: str
) -> None:
    _write_ledger(store, other_database, [(1, "collector clickhouseexporter tables")])
    with pytest.raises(StoreError, match="earlier development build of modeltel"):
        Store(store.url, other_database)


def test_a_store_of_a_newer_modeltel_is_refused(store: Store, other_database: str) -> None:
    newer = (MIGRATIONS[-1].version + 1, "a later release step")
    _write_ledger(store, other_database, [(1, BASELINE.name), newer])
    with pytest.raises(StoreError) as raised:
        Store(store.url, other_database)
    assert "was made by a newer modeltel" in str(raised.value)
    assert str(raised.value).endswith("upgrade modeltel to open it")


def test_a_later_migration_runs_once_on_an_older_store_and_never_on_a_new_one(
    store: Store, other_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[str] = []

    def add_note(layout: Layout) -> list[str]:
        ran.append(layout.database)
        return [
            f"ALTER TABLE {layout.qualified('ml_results', local=True)}{layout.on_cluster} "
            "ADD COLUMN IF NOT EXISTS note String DEFAULT ''"
        ]

    later = Migration(MIGRATIONS[-1].version + 1, "results note", add_note)
    monkeypatch.setattr(migrations, "MIGRATIONS", (*MIGRATIONS, later))
    # the fixture's store has every migration but the later step: it runs, once
    assert store.pending_migrations() == [later.version]
    assert store.migrate() == [later.version]
    assert store.migrate() == []
    assert ran == [store.database]
    assert store.query_rows(f"SELECT note FROM {store.table('ml_results')}") == []
    assert _ledger(store) == [(m.version, m.name) for m in (*MIGRATIONS, later)]
    # a new store is created as declared and records the later step without running it
    fresh = Store(store.url, other_database)
    try:
        assert ran == [store.database]
        assert _ledger(fresh) == [(m.version, m.name) for m in (*MIGRATIONS, later)]
        assert fresh.migrate() == []
    finally:
        fresh.close()


RELEASE_0_1_0 = Path(__file__).parents[2] / "support" / "schema" / "baseline_0_1_0.sql"
"""Every statement a modeltel 0.1.0 store was created with (database ``db_0_1_0``)."""


def _schema(store: Store, database: str) -> tuple[list[tuple], dict[str, str]]:
    """The columns (table, position, name, type, default) and view queries of ``database``."""
    columns = store.query_rows(
        "SELECT table, position, name, type, default_kind, default_expression, "
        "compression_codec FROM system.columns WHERE database = {d:String} "
        "ORDER BY table, position",
        {"d": database},
    )
    views = store.query_rows(
        "SELECT name, as_select FROM system.tables WHERE database = {d:String} "
        "AND engine = 'MaterializedView'",
        {"d": database},
    )
    return [tuple(row) for row in columns], {
        name: select.replace(f"{database}.", "DB.") for name, select in views
    }


def test_a_0_1_0_store_is_migrated_to_the_declared_schema(
    store: Store, other_database: str
) -> None:
    statements = RELEASE_0_1_0.read_text().split(";\n-- next\n")
    _write_ledger(store, other_database, [(BASELINE.version, BASELINE.name)])
    for statement in filter(str.strip, statements):
        store.command(statement.replace("db_0_1_0", other_database))
    old = Store(store.url, other_database)
    try:
        assert _ledger(old) == [(m.version, m.name) for m in MIGRATIONS]
        assert _schema(old, other_database) == _schema(store, store.database)
        assert old.migrate() == []
    finally:
        old.close()


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
