"""SQL exploration: ``run_sql`` over a real store, ``POST /api/sql`` and ``modeltel sql``."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from modeltel.analyzer.base.errors import ConfigError, QueryError
from modeltel.analyzer.sql import console as sql

COLUMNS = [
    "model",
    "version",
    "timestamp",
    "prediction_id",
    "task",
    "prediction_label",
    "prediction_score",
    "latency_s",
    "batch_size",
    "row_index",
    "is_error",
    "service_name",
]


def seed_predictions(store, count: int = 30) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [
        [
            "churn" if i % 3 else "fraud",
            "2",
            start + timedelta(minutes=i),
            f"p{i:03d}",
            "classification",
            "yes" if i % 2 else "no",
            i / count,
            0.001 * (i + 1),
            1,
            0,
            0,
            "api",
        ]
        for i in range(count)
    ]
    store.insert("ml_predictions", rows, COLUMNS)


def test_select_returns_typed_rows_and_columns(store) -> None:
    seed_predictions(store)
    result = sql.run_sql(
        store,
        "SELECT model, count() AS n, round(max(latency_s), 3) AS slowest FROM ml_predictions "
        "GROUP BY model ORDER BY model;",
    )
    assert result.columns == ["model", "n", "slowest"]
    assert result.types[1] == "UInt64"
    assert result.rows == [("churn", 20, 0.03), ("fraud", 10, 0.028)]
    assert not result.truncated


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO ml_results (model, version, kind, status) VALUES ('x', '1', 'drift', 'ok')",
        "DROP TABLE ml_predictions",
        "CREATE TABLE evil (x UInt8) ENGINE = Memory",
        "ALTER TABLE ml_predictions DELETE WHERE 1",
        "TRUNCATE TABLE ml_predictions",
    ],
)
def test_writes_are_refused_and_nothing_changes(store, statement: str) -> None:
    seed_predictions(store)
    with pytest.raises(QueryError, match="read-only"):
        sql.run_sql(store, statement)
    assert store.query_rows("SELECT count() FROM ml_predictions") == [(30,)]
    tables = {r[0] for r in store.query_rows("SHOW TABLES")}
    assert "evil" not in tables and "ml_predictions" in tables


def test_limits_cannot_be_lifted_from_inside_the_query(store) -> None:
    with pytest.raises(QueryError, match="may not change settings"):
        sql.run_sql(store, "SELECT 1 SETTINGS readonly = 0")
    with pytest.raises(QueryError, match="may not change settings"):
        sql.run_sql(store, "SELECT 1 SETTINGS max_result_rows = 0")


def test_row_limit_cuts_the_result_and_says_so(store) -> None:
    result = sql.run_sql(store, "SELECT number FROM numbers(100000)", max_rows=250)
    assert result.truncated
    assert len(result.rows) == 250
    assert result.rows[:3] == [(0,), (1,), (2,)]
    exact = sql.run_sql(store, "SELECT number FROM numbers(250)", max_rows=250)
    assert not exact.truncated and len(exact.rows) == 250


def test_time_limit_stops_a_long_query(store) -> None:
    with pytest.raises(QueryError, match="time limit"):
        sql.run_sql(store, "SELECT sum(sipHash64(number)) FROM numbers(100000000000)", timeout_s=1)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT 1 +", "syntax error at position 11 (end of query): expected one of: "),
        (
            "SELECT count( FROM ml_predictions",
            "syntax error at position 20 ('ml_predictions'): unmatched parentheses: '(' at "
            "position 13 is never closed",
        ),
        ("SELEC 1", "syntax error at position 1 ('SELEC'): maybe you meant SELECT"),
        ("SHOWW TABLES", "syntax error at position 1 ('SHOWW'): maybe you meant SHOW"),
        (
            "  -- a comment\n  SELEC 1",
            "syntax error at position 18 (line 2, column 3) ('SELEC'): maybe you meant SELECT",
        ),
        ("SELECT 'abc", "syntax error at position 8 ('abc): single quoted string is not closed"),
        ("SELECT count() FROM no_such_table", "does not exist"),
        ("SELECT 1; SELECT 2", "one statement"),
        ("   ", "empty"),
    ],
)
def test_bad_queries_get_one_clear_sentence(store, query: str, message: str) -> None:
    with pytest.raises(QueryError) as info:
        sql.run_sql(store, query)
    text = str(info.value)
    assert message in text
    assert "\n" not in text and "Stack trace" not in text and "SETTINGS" not in text


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            "DELET FROM ml_predictions WHERE 1",
            "the query has a syntax error at position 1 ('DELET'): maybe you meant DELETE",
        ),
        (
            "SELEC 1; DROP TABLE ml_predictions",
            "the query has a syntax error at position 1 ('SELEC'): maybe you meant SELECT",
        ),
        (
            "INSERT INTO ml_results (model) VALUES ('x'",
            "the query was refused because exploration is read-only",
        ),
    ],
)
def test_a_mistyped_statement_is_a_syntax_error_and_runs_nothing(
    store, statement: str, message: str
) -> None:
    seed_predictions(store)
    with pytest.raises(QueryError) as info:
        sql.run_sql(store, statement)
    assert str(info.value).startswith(message)
    assert store.query_rows("SELECT count() FROM ml_predictions") == [(30,)]
    assert store.query_rows("SELECT count() FROM ml_results") == [(0,)]


def test_bad_limits_are_config_errors(store) -> None:
    with pytest.raises(ConfigError, match="row limit"):
        sql.run_sql(store, "SELECT 1", max_rows=0)
    with pytest.raises(ConfigError, match="time limit"):
        sql.run_sql(store, "SELECT 1", timeout_s=-1)


def test_output_formats_round_trip() -> None:
    columns = ["name", "value", "tags", "at", "missing"]
    rows = [
        ("a,b", 1.5, ["x", "y"], datetime(2026, 1, 2, 3, 4, tzinfo=UTC), None),
        ("plain", float("nan"), [], datetime(2026, 1, 2, tzinfo=UTC), None),
    ]
    table = sql.format_table(columns, rows).splitlines()
    assert table[0].split() == columns
    assert set(table[1].replace(" ", "")) == {"-"}
    assert len({len(line) for line in table[:2]}) == 1
    parsed = list(csv.reader(io.StringIO(sql.format_csv(columns, rows))))
    assert parsed[0] == columns
    assert parsed[1] == ["a,b", "1.5", '["x","y"]', "2026-01-02T03:04:00+00:00", ""]
    records = json.loads(sql.format_json(columns, rows))
    assert records[0] == {
        "name": "a,b",
        "value": 1.5,
        "tags": ["x", "y"],
        "at": "2026-01-02T03:04:00+00:00",
        "missing": None,
    }
    assert records[1]["value"] is None
    with pytest.raises(ConfigError, match="unknown output format"):
        sql.render(columns, rows, "xml")


def test_api_answers_rows_and_refusals(server) -> None:
    seed_predictions(server.store)
    answer = httpx.post(
        server.url + "/api/sql",
        json={
            "query": "SELECT prediction_id FROM ml_predictions ORDER BY prediction_id",
            "max_rows": 5,
        },
        timeout=60,
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["columns"] == ["prediction_id"]
    assert body["rows"] == [["p000"], ["p001"], ["p002"], ["p003"], ["p004"]]
    assert body["truncated"] is True and body["row_count"] == 5
    refused = httpx.post(
        server.url + "/api/sql", json={"query": "DROP TABLE ml_labels"}, timeout=60
    )
    assert refused.status_code == 400
    assert "read-only" in refused.json()["detail"]
    assert (
        httpx.post(server.url + "/api/sql", json={"sql": "SELECT 1"}, timeout=60).status_code == 422
    )
    too_many = httpx.post(
        server.url + "/api/sql", json={"query": "SELECT 1", "max_rows": 10**9}, timeout=60
    )
    assert too_many.status_code == 422


def modeltel(*args: str, stdin: str | None = None, timeout: float = 120):
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "MODELTEL_NO_PROGRESS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "modeltel.analyzer.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=timeout,
        env=env,
    )


def test_cli_against_a_running_server(server) -> None:
    seed_predictions(server.store)
    query = "SELECT model, count() AS n FROM ml_predictions GROUP BY model ORDER BY model"
    done = modeltel("sql", "--server", server.url, query, "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["model,n", "churn,20", "fraud,10"]
    piped = modeltel(
        "sql", "--server", server.url, "-", "--format", "json", "--max-rows", "1", stdin=query
    )
    assert json.loads(piped.stdout) == [{"model": "churn", "n": 20}]
    assert "cut at 1 rows" in piped.stderr
    refused = modeltel("sql", "--server", server.url, "DELETE FROM ml_predictions WHERE 1")
    assert refused.returncode == 2
    assert refused.stderr.startswith("modeltel: error: ")
    assert "read-only" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


def test_cli_on_its_own_embedded_store_and_bad_arguments(tmp_path) -> None:
    url = f"chdb://{tmp_path / 'store'}"
    done = modeltel("sql", "--clickhouse-url", url, "SELECT count() AS n FROM ml_predictions")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["n", "-", "0"]
    typo = modeltel("sql", "--clickhouse-url", url, "SELEC 1")
    assert typo.returncode == 2
    assert typo.stderr == (
        "modeltel: error: the query has a syntax error at position 1 ('SELEC'): "
        "maybe you meant SELECT\n"
    )
    bad = modeltel("sql", "--clickhouse-url", url, "SELECT 1", "--max-rows", "0")
    assert bad.returncode == 2
    assert "row limit" in bad.stderr
    unreachable = modeltel("sql", "--server", "http://127.0.0.1:9", "SELECT 1")
    assert unreachable.returncode == 3
    assert "cannot reach the modeltel server" in unreachable.stderr
