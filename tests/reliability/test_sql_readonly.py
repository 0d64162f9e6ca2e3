"""``POST /api/sql`` stays read-only whatever the user sends: writes, setting overrides,
multi-statements, KILL/SYSTEM, INTO OUTFILE, and every door out of the database (``file()``,
``url()``, ``remote()``, ``s3()`` …) are refused with a 400 that says why; time and row limits
hold; the store is unchanged afterwards."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import httpx
import pytest

from modeltel.analyzer.base.store import Store
from support.reliability import PROTOBUF, prediction_spans
from support.servers import new_database_name, start_server

SECRET = "TOPSECRET-4c1d"


@pytest.fixture(scope="module")
def seeded(store_url: str):
    """One server for the module (every test leaves the store as it found it)."""
    store = Store(store_url, new_database_name())
    server, stop = start_server(store)
    try:
        answer = httpx.post(
            server.url + "/v1/traces",
            content=prediction_spans(["a", "b", "c"]),
            headers=PROTOBUF,
            timeout=60,
        )
        assert answer.status_code == 200
        yield server
    finally:
        stop()
        store.command(f"DROP DATABASE IF EXISTS `{store.database}`")
        store.close()


def _sql(server, query: str, **limits) -> httpx.Response:
    return httpx.post(server.url + "/api/sql", json={"query": query, **limits}, timeout=60)


def _tables(server) -> list[str]:
    rows = _sql(server, "SELECT name FROM system.tables WHERE database = currentDatabase()")
    return sorted(r[0] for r in rows.json()["rows"])


WRITES = [
    "INSERT INTO ml_results (model, version, kind, status) VALUES ('x', '1', 'drift', 'ok')",
    "INSERT INTO ml_results SELECT * FROM ml_results",
    "ALTER TABLE ml_predictions DELETE WHERE 1",
    "ALTER TABLE ml_predictions UPDATE model = 'x' WHERE 1",
    "DELETE FROM ml_predictions WHERE 1",
    "DROP TABLE ml_predictions",
    "DROP DATABASE IF EXISTS default",
    "TRUNCATE TABLE otel_traces",
    "CREATE TABLE evil (x UInt8) ENGINE = Memory",
    "CREATE VIEW evil AS SELECT 1",
    "RENAME TABLE ml_labels TO evil",
    "DETACH TABLE ml_labels",
    "OPTIMIZE TABLE ml_predictions FINAL",
    "SYSTEM FLUSH LOGS",
    "SYSTEM SHUTDOWN",
    "SYSTEM DROP DNS CACHE",
    "KILL QUERY WHERE 1",
    "KILL MUTATION WHERE 1",
    "GRANT ALL ON *.* TO default",
    "CREATE USER evil IDENTIFIED BY 'x'",
    "BACKUP TABLE ml_predictions TO File('/tmp/modeltel-backup')",
    "  /* comment */ -- another\n  DROP TABLE ml_predictions",
    "SET readonly = 0",
    "SET max_result_rows = 0",
]


@pytest.mark.parametrize("query", WRITES)
def test_writes_and_admin_statements_are_refused(seeded, query: str) -> None:
    before = _tables(seeded)
    answer = _sql(seeded, query)
    assert answer.status_code == 400, answer.text
    assert "read-only" in answer.json()["detail"]
    assert _tables(seeded) == before
    count = _sql(seeded, "SELECT count() FROM ml_predictions").json()["rows"]
    assert count == [[3]]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("SELEC 1", "the query has a syntax error at position 1 ('SELEC'): maybe you meant SELECT"),
        (
            "DROPP TABLE ml_predictions",
            "the query has a syntax error at position 1 ('DROPP'): maybe you meant DROP",
        ),
        (
            "SELEC 1; DROP TABLE ml_predictions",
            "the query has a syntax error at position 1 ('SELEC'): maybe you meant SELECT",
        ),
        ("SELECT 1 FROM", "the query has a syntax error at position 14 (end of query): "),
    ],
)
def test_typos_are_syntax_errors_not_read_only_refusals(seeded, query: str, reason: str) -> None:
    """A mistyped statement says where ClickHouse's parser stopped; nothing runs."""
    before = _tables(seeded)
    answer = _sql(seeded, query)
    assert answer.status_code == 400, answer.text
    detail = answer.json()["detail"]
    assert detail.startswith(reason), detail
    assert "read-only" not in detail
    assert _tables(seeded) == before
    assert _sql(seeded, "SELECT count() FROM ml_predictions").json()["rows"] == [[3]]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("SELECT 1 SETTINGS readonly = 0", "may not change settings"),
        ("SELECT 1 SETTINGS readonly = 2", "may not change settings"),
        ("SELECT count() FROM numbers(10) SETTINGS max_result_rows = 0", "may not change settings"),
        ("SELECT 1 SETTINGS max_execution_time = 100000", "may not change settings"),
        ("SELECT 1; DROP TABLE ml_predictions", ""),
        ("SELECT 1; SELECT 2", "one statement at a time"),
        ("SELECT 1;\nINSERT INTO ml_results (model) VALUES ('x')", ""),
    ],
)
def test_setting_overrides_and_multi_statements_are_refused(
    seeded, query: str, reason: str
) -> None:
    before = _tables(seeded)
    answer = _sql(seeded, query)
    assert answer.status_code == 400, answer.text
    detail = answer.json()["detail"]
    assert reason in detail
    assert _tables(seeded) == before
    assert _sql(seeded, "SELECT count() FROM ml_results").json()["rows"] == [[0]]


OUTSIDE = [
    "SELECT * FROM file('{secret}', 'LineAsString')",
    "SELECT * FROM file('{secret}')",
    "SELECT file('{secret}')",
    "SELECT arrayMap(p -> file(p), ['{secret}'])",
    "SELECT * FROM view(SELECT * FROM file('{secret}', 'LineAsString'))",
    "WITH t AS (SELECT * FROM file('{secret}', 'LineAsString')) SELECT * FROM t",
    "SELECT * FROM ml_predictions WHERE model IN (SELECT line FROM file('{secret}', 'RawBLOB'))",
    "DESCRIBE TABLE file('{secret}', 'CSVWithNames')",
    "EXPLAIN SELECT * FROM file('{secret}', 'LineAsString')",
    "SELECT * FROM `file`('{secret}', 'LineAsString')",
    "SELECT * FROM fileCluster('default', '{secret}')",
    "SELECT * FROM url('http://127.0.0.1:{port}/x', 'LineAsString')",
    "SELECT * FROM urlCluster('default', 'http://127.0.0.1:{port}/x')",
    "SELECT * FROM s3('http://127.0.0.1:{port}/bucket-name/x.csv', 'LineAsString')",
    "SELECT * FROM gcs('http://127.0.0.1:{port}/bucket-name/x.csv', 'LineAsString')",
    "SELECT * FROM iceberg('http://127.0.0.1:{port}/bucket-name/t')",
    "SELECT * FROM deltaLake('http://127.0.0.1:{port}/bucket-name/t')",
    "SELECT * FROM azureBlobStorage('http://127.0.0.1:{port}', 'c', 'b')",
    "SELECT * FROM hdfs('hdfs://127.0.0.1:{port}/x', 'TSV', 'a String')",
    "SELECT * FROM remote('127.0.0.1:{port}', system.one)",
    "SELECT * FROM remoteSecure('127.0.0.1:{port}', system.one)",
    "SELECT * FROM cluster('default', system.one)",
    "SELECT * FROM mysql('127.0.0.1:{port}', 'db', 't', 'u', 'p')",
    "SELECT * FROM postgresql('127.0.0.1:{port}', 'db', 't', 'u', 'p')",
    "SELECT * FROM mongodb('127.0.0.1:{port}', 'db', 'c', 'u', 'p', 'x String')",
    "SELECT * FROM redis('127.0.0.1:{port}', 'k', 'k String')",
    "SELECT * FROM odbc('DSN=x', 't')",
    "SELECT * FROM jdbc('x', 'y')",
    "SELECT * FROM sqlite('{secret}', 't')",
    "SELECT * FROM executable('cat {secret}', 'LineAsString', 'x String')",
    "SELECT * FROM python('x')",
    "SELECT * FROM input('a String')",
    "SELECT * FROM dictionary('d')",
]


@pytest.fixture
def listener():
    """A local TCP port that records whether anything connected to it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    connections: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            connections.append(conn)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield sock.getsockname()[1], connections
    stop.set()
    thread.join(2)
    sock.close()


@pytest.mark.parametrize("template", OUTSIDE)
def test_nothing_outside_the_database_is_reached(
    seeded, tmp_path: Path, listener, template: str
) -> None:
    port, connections = listener
    secret = tmp_path / "secret.csv"
    secret.write_text(f"{SECRET}\nline two\n")
    answer = _sql(seeded, template.format(secret=secret, port=port))
    assert answer.status_code == 400, answer.text
    detail = answer.json()["detail"]
    assert "not allowed" in detail or "read-only" in detail, detail
    assert SECRET not in answer.text
    assert connections == []


def test_into_outfile_writes_nothing(seeded, tmp_path: Path) -> None:
    for query in [
        "SELECT * FROM ml_predictions INTO OUTFILE '{out}'",
        "SELECT 1 INTO OUTFILE '{out}' TRUNCATE",
        "SHOW TABLES INTO OUTFILE '{out}'",
        "EXPLAIN SELECT 1 INTO OUTFILE '{out}'",
        "SELECT 1 INTO OUTFILE '{out}' AND STDOUT",
    ]:
        out = tmp_path / "out.txt"
        answer = _sql(seeded, query.format(out=out))
        assert answer.status_code == 400, answer.text
        assert "INTO OUTFILE is not allowed" in answer.json()["detail"]
        assert not out.exists()


@pytest.mark.parametrize(
    "query",
    [
        "SELECT model, count() FROM ml_predictions GROUP BY model",
        "WITH c AS (SELECT count() AS n FROM ml_predictions) SELECT n FROM c",
        "SELECT number FROM numbers(3)",
        "SELECT * FROM values('x UInt8', 1, 2)",
        "SELECT * FROM view(SELECT count() FROM ml_predictions)",
        "SELECT * FROM merge(currentDatabase(), '^ml_labels$')",
        "SELECT 'file(' || 'x' AS looks_like_a_call, ';' AS semicolon",
        "SHOW TABLES",
        "DESCRIBE TABLE ml_predictions",
        "EXISTS TABLE ml_predictions",
        "EXPLAIN SELECT count() FROM ml_predictions",
        "  -- a comment first\nSELECT 1",
        "(SELECT 1) UNION ALL (SELECT 2)",
        "SELECT 1;",
    ],
)
def test_reads_still_work(seeded, query: str) -> None:
    answer = _sql(seeded, query)
    assert answer.status_code == 200, answer.text
    assert answer.json()["row_count"] >= 0


def test_time_and_row_limits_hold(seeded) -> None:
    slow = _sql(seeded, "SELECT count() FROM system.numbers", timeout_s=1)
    assert slow.status_code == 400
    assert "time limit" in slow.json()["detail"]

    cut = _sql(seeded, "SELECT number FROM numbers(1000000)", max_rows=10)
    payload = cut.json()
    assert cut.status_code == 200
    assert payload["row_count"] == 10 and payload["truncated"] is True

    # Limits beyond the API's caps are refused up front, not raised.
    for limits in [{"max_rows": 10**9}, {"timeout_s": 10**6}, {"max_rows": 0}, {"timeout_s": -1}]:
        refused = _sql(seeded, "SELECT 1", **limits)
        assert refused.status_code == 422, limits
    # A query cannot lift the row limit from inside.
    inside = _sql(seeded, "SELECT number FROM numbers(100) SETTINGS max_result_rows = 0")
    assert inside.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"query": None},
        {"query": 42},
        {"query": ["SELECT 1"]},
        {"query": ""},
        {"query": "   ;;; "},
        {"query": "x" * 200_000},
        {"query": "SELECT 1", "max_rows": "lots"},
        {"query": "SELEC 1"},
        {"query": "SELECT \x00"},
        b'{"query": "SELECT \'\xff\xfe\'"}',
        b'{"query": "SELECT 1"',
        b"\x1f\x8b\x08garbage",
    ],
)
def test_malformed_sql_requests_get_4xx_with_a_message(seeded, body: dict | bytes) -> None:
    if isinstance(body, bytes):
        answer = httpx.post(
            seeded.url + "/api/sql",
            content=body,
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
    else:
        answer = httpx.post(seeded.url + "/api/sql", json=body, timeout=30)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["detail"]


def test_cli_sql_refuses_the_same(tmp_path: Path) -> None:
    """``modeltel sql`` on its own embedded store: exit 2 and the reason, no traceback."""
    import subprocess
    import sys

    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    answer = subprocess.run(
        [
            sys.executable,
            "-m",
            "modeltel.analyzer.cli",
            "sql",
            f"SELECT file('{secret}')",
            "--clickhouse-url",
            f"chdb://{tmp_path / 'store'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert answer.returncode == 2
    assert "the function file() is not allowed here" in answer.stderr
    assert SECRET not in answer.stdout + answer.stderr
    assert "Traceback" not in answer.stderr
