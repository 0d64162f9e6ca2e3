"""The store coming back: ``modeltel serve`` on an ``http://`` ClickHouse URL that is down at
start and goes down again mid-ingest. While it is down the receiver answers 503 with
Retry-After (gRPC: UNAVAILABLE with RetryInfo) and the OTel SDK's exporter, HTTP or gRPC,
keeps its batch and retries; once the store is back
the receiver creates the database and applies the 0.1.0 baseline on first use (recorded once,
with every migration, in ``modeltel_migrations``), the retried batches are stored, and nothing
acknowledged is missing or stored twice.

The store is ClickHouse's HTTP interface in front of chDB (``chdb_http_store.py``), run as
its own process so it can be killed and restarted on the same port and data."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from modeltel.analyzer.base.schema.migrations import MIGRATIONS
from modeltel.analyzer.base.store import Store
from support.chdb_http_store import HttpStore
from support.reliability import (
    ServeProcess,
    closed_port,
    log_every_grpc_retry,
    sdk_prediction_spans,
)
from support.servers import free_port, new_database_name


class Export(threading.Thread):
    """One SDK exporter's ``export`` call (with its own retries) in the background."""

    def __init__(self, server: ServeProcess, protocol: str, spans: list[ReadableSpan]) -> None:
        super().__init__(daemon=True)
        self.exporter: SpanExporter
        if protocol == "grpc":
            self.exporter = GrpcSpanExporter(
                endpoint=f"127.0.0.1:{server.grpc_port}", insecure=True, timeout=90
            )
        else:
            self.exporter = OTLPSpanExporter(endpoint=server.url + "/v1/traces", timeout=90)
        self.spans = spans
        self.result: SpanExportResult | None = None

    def run(self) -> None:
        try:
            self.result = self.exporter.export(self.spans)
        finally:
            self.exporter.shutdown()


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_nothing_acknowledged_is_lost_when_the_store_goes_away_and_comes_back(
    protocol: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log_every_grpc_retry(monkeypatch)
    caplog.set_level(logging.WARNING, logger="opentelemetry.exporter")
    database = new_database_name()
    store = HttpStore(tmp_path / "clickhouse", closed_port(), tmp_path / "store.log")
    server = ServeProcess(
        store_url=store.url,
        log=tmp_path / "serve.log",
        grpc_port=free_port(),
        extra_args=["--database", database],
    )
    server.start(wait_healthy=False)
    try:
        # 1. The store is down from the start: the export is refused and retried.
        first = Export(server, protocol, sdk_prediction_spans("before", 40))
        first.start()
        _wait_for_retries(caplog, 1)
        assert first.is_alive() and first.result is None
        assert server.get("/healthz")[0] == 503

        # 2. The store comes up: the receiver sets the database up and the retry is stored.
        store.start()
        first.join(90)
        assert first.result is SpanExportResult.SUCCESS
        assert server.get("/healthz")[0] == 200

        # 3. While it is up, exports are acknowledged at once.
        second = Export(server, protocol, sdk_prediction_spans("up", 40))
        second.run()
        assert second.result is SpanExportResult.SUCCESS

        # 4. The store dies (SIGKILL) and comes back on the same data.
        store.kill()
        retries_before = _retries(caplog)
        third = Export(server, protocol, sdk_prediction_spans("outage", 40))
        third.start()
        _wait_for_retries(caplog, retries_before + 1)
        assert third.is_alive() and third.result is None
        store.start()
        third.join(90)
        assert third.result is SpanExportResult.SUCCESS

        after = Store(store.url, database, migrate=False)
        try:
            ledger = after.query_rows(
                f"SELECT version, name, count() FROM {after.table('modeltel_migrations')} "
                "GROUP BY version, name ORDER BY version"
            )
            assert ledger == [(m.version, m.name, 1) for m in MIGRATIONS]
            assert after.pending_migrations() == []
            ids = after.query_rows(
                f"SELECT prediction_id, count() FROM {after.table('ml_predictions')} "
                "GROUP BY prediction_id"
            )
            spans = after.query_rows(
                f"SELECT count() FROM {after.table('otel_traces')} "
                "WHERE SpanAttributes['ml.model.name'] = 'churn'"
            )[0][0]
        finally:
            after.close()
        expected = {f"{p}-{i}" for p in ("before", "up", "outage") for i in range(40)}
        assert {row[0] for row in ids} == expected
        assert all(row[1] == 1 for row in ids), "a retried batch was stored twice"
        assert spans == len(expected)
    finally:
        server.stop()
        store.kill()
    log = (tmp_path / "serve.log").read_text()
    assert "the store is unavailable" in log and "available again" in log
    assert "Traceback" not in log


def _retries(caplog: pytest.LogCaptureFixture) -> int:
    return sum("retrying in" in record.getMessage() for record in caplog.records)


def _wait_for_retries(caplog: pytest.LogCaptureFixture, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _retries(caplog) < count:
        assert time.monotonic() < deadline, f"the exporter did not retry: {caplog.text}"
        time.sleep(0.1)
