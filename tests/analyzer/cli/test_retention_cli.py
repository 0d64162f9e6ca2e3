"""``modeltel retention`` as a user runs it (the CLI entry point in this process), and the
retention applied at start by ``modeltel analyzer`` and ``modeltel serve`` (a real process fed
by the OTel SDK's exporter), whose page and ``/metrics`` show what each table costs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from modeltel.analyzer.base.store import Store
from modeltel.analyzer.cli import main
from support.reliability import ServeProcess
from support.results import series

CONFIG = "retention:\n  raw: 7d\n  predictions: 30d\n"


def config_file(tmp_path: Path, text: str = CONFIG) -> str:
    path = tmp_path / "modeltel.yaml"
    path.write_text(text)
    return str(path)


def table_lines(out: str) -> dict[str, list[str]]:
    """The printed table's rows by table name (cells split on runs of two spaces)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("TABLE"))
    rows = {}
    for line in lines[start + 2 :]:
        cells = [c.strip() for c in line.split("  ") if c.strip()]
        rows[cells[0]] = cells
    return rows


def ttl_of(store: Store, table: str) -> str:
    rows = store.query_rows(
        "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {t:String}",
        {"db": store.database, "t": table},
    )
    engine = str(rows[0][0])
    return engine.split(" TTL ")[1].split(" SETTINGS ")[0] if " TTL " in engine else ""


def test_the_command_shows_configured_and_applied_with_sizes_and_applies(
    store, tmp_path: Path, capsys
) -> None:
    now = datetime.now(UTC)
    store.insert(
        "otel_traces",
        [
            [now - timedelta(seconds=i), f"{i:032d}", f"{i:016d}", "svc", "predict"]
            for i in range(30)
        ],
        ["Timestamp", "TraceId", "SpanId", "ServiceName", "SpanName"],
    )
    options = ["--clickhouse-url", store.url, "--database", store.database]
    config = ["--config", config_file(tmp_path)]

    assert main(["retention", *options, *config]) == 0
    printed = capsys.readouterr()
    assert printed.out.splitlines()[0] == "retention: raw 7d, predictions 30d, results forever"
    rows = table_lines(printed.out)
    assert rows["otel_traces"][:5] == ["otel_traces", "raw", "7d", "forever", "30"]
    assert rows["ml_predictions"][:5] == ["ml_predictions", "predictions", "30d", "forever", "0"]
    assert rows["ml_reference"][:4] == ["ml_reference", "—", "kept", "forever"]
    assert rows["otel_traces"][5].endswith(("B", "KiB"))
    assert "differ from the configuration" in printed.err
    assert ttl_of(store, "otel_traces") == ""  # printing alone changes nothing

    assert main(["retention", *options, *config, "--apply"]) == 0
    printed = capsys.readouterr()
    assert printed.err.startswith("applied ") and "differ" not in printed.err
    rows = table_lines(printed.out)
    assert rows["otel_traces"][:5] == ["otel_traces", "raw", "7d", "7d", "30"]
    assert rows["ml_labels"][:4] == ["ml_labels", "predictions", "30d", "30d"]
    assert rows["ml_results"][:4] == ["ml_results", "results", "forever", "forever"]
    assert int(rows["total"][1]) >= 30
    assert ttl_of(store, "otel_traces") == "toDateTime(Timestamp) + toIntervalDay(7)"
    assert ttl_of(store, "ml_predictions") == "toDateTime(timestamp) + toIntervalDay(30)"

    assert main(["retention", *options, *config, "--apply"]) == 0
    assert capsys.readouterr().err.startswith("applied 0 changes")


def test_a_bad_retention_section_exits_2_with_its_sentence(tmp_path: Path, capsys) -> None:
    bad = config_file(tmp_path, "retention:\n  raw: a week\n")
    assert main(["retention", "--config", bad]) == 2
    assert capsys.readouterr().err.strip() == (
        "modeltel: error: config key retention.raw must be a duration like 7d, 12h or forever, "
        "got 'a week'"
    )
    bad = config_file(tmp_path, "retention:\n  spans: 7d\n")
    assert main(["analyzer", "--once", "--config", bad]) == 2
    assert "config key retention.spans is not known" in capsys.readouterr().err


def test_the_analyzer_applies_the_retention_at_start(store, tmp_path: Path, capsys) -> None:
    code = main(
        [
            "analyzer",
            "--once",
            "--config",
            config_file(tmp_path, "retention:\n  raw: 36h\n  results: 400d\n"),
            "--clickhouse-url",
            store.url,
            "--database",
            store.database,
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert ttl_of(store, "otel_logs") == "TimestampTime + toIntervalHour(36)"
    assert ttl_of(store, "ml_results") == "toDateTime(window_start) + toIntervalDay(400)"
    assert ttl_of(store, "ml_predictions") == ""


def send_spans(url: str, count: int) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces")))
    tracer = provider.get_tracer("t")
    for i in range(count):
        tracer.start_span("predict", attributes={"request": i}).end()
    provider.shutdown()


def test_serve_applies_it_at_start_and_shows_the_sizes_on_the_page_and_metrics(
    tmp_path: Path,
) -> None:
    server = ServeProcess(
        f"chdb://{tmp_path / 'store'}",
        tmp_path / "serve.log",
        env={"MODELTEL_CONFIG": config_file(tmp_path)},
    ).start()
    try:
        engine = server.sql(
            "SELECT engine_full FROM system.tables "
            "WHERE database = currentDatabase() AND name = 'otel_traces'"
        )[0][0]
        assert "TTL toDateTime(Timestamp) + toIntervalDay(7)" in engine

        send_spans(server.url, 12)
        deadline = time.monotonic() + 60
        while server.sql("SELECT count() FROM otel_traces")[0][0] < 12:
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.2)

        status, body = server.get("/metrics")
        assert status == 200
        text = body.decode()
        stored = series(text, "modeltel_store_bytes")
        rows = series(text, "modeltel_store_rows")
        assert rows[(("table", "otel_traces"),)] == 12
        assert stored[(("table", "otel_traces"),)] > 0
        tables = {
            t
            for (t,) in server.sql(
                "SELECT name FROM system.tables WHERE database = currentDatabase()"
            )
        }
        assert {labels[0][1] for labels in stored} <= tables  # one series per table, no more

        status, body = server.get("/?refresh=0")
        page = body.decode()
        assert status == 200 and "<h2 id='storage'>Storage</h2>" in page
        row = page.split("<code>otel_traces</code>")[1].split("</tr>")[0]
        assert "<td>raw</td><td>7d</td><td>12</td>" in row
    finally:
        server.stop()
