"""The store unreachable (an ``http://`` ClickHouse URL to a closed port): the receiver starts
anyway, answers 503 with Retry-After (gRPC: UNAVAILABLE with RetryInfo), the OTel SDK
exporters retry after the delay they are given, nothing is acknowledged, and no endpoint
answers 500. The store coming back is in ``test_store_returns.py``."""

from __future__ import annotations

import http.server
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from modeltel.analyzer.base.errors import StoreUnavailableError
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.server.app import ServerConfig
from modeltel.analyzer.server.otlp_grpc import start_grpc_server
from support.reliability import (
    PROTOBUF,
    ServeProcess,
    closed_port,
    log_every_grpc_retry,
    prediction_spans,
    sdk_prediction_spans,
)
from support.servers import new_database_name, start_server


@pytest.fixture
def down_server():
    store = Store(f"http://127.0.0.1:{closed_port()}", new_database_name(), lazy=True)
    assert not store.ready
    assert isinstance(store.last_error, StoreUnavailableError)
    running, stop = start_server(store, ServerConfig(store_retry_after=1))
    grpc_server, grpc_port = start_grpc_server(
        running.pipeline, "127.0.0.1", 0, max_message_bytes=1 << 20, store_retry_after=1
    )
    running.grpc_endpoint = f"127.0.0.1:{grpc_port}"
    try:
        yield running
    finally:
        grpc_server.stop(grace=1).wait()
        stop()
        store.close()


def test_receiver_answers_503_with_retry_after_and_nothing_is_acknowledged(down_server) -> None:
    answer = httpx.post(
        down_server.url + "/v1/traces",
        content=prediction_spans(["x1"]),
        headers=PROTOBUF,
        timeout=60,
    )
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    status = status_pb2.Status.FromString(answer.content)
    assert status.code == 14
    assert status.message.endswith(
        f"cannot reach the ClickHouse server at {down_server.store.url}: connection refused"
    ), status.message
    health = httpx.get(down_server.url + "/healthz", timeout=60)
    assert health.status_code == 503 and health.json()["status"] == "unavailable"
    # Every other endpoint says the store is unavailable instead of failing with a 500.
    for method, path, body in [
        ("POST", "/api/sql", {"query": "SELECT 1"}),
        ("GET", "/api/models", None),
        ("GET", "/", None),
        ("GET", "/models/churn", None),
        ("GET", "/metrics", None),
    ]:
        reply = httpx.request(method, down_server.url + path, json=body, timeout=30)
        assert reply.status_code in (200, 503), (path, reply.status_code, reply.text[:300])
    assert down_server.pipeline.stats.rows_stored == 0


def test_sdk_http_exporter_retries_after_the_given_delay(
    down_server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="opentelemetry.exporter")
    # The exporter retries until its timeout: 10 s leaves room for two retries after 1 s
    # each even when every answer is slow on a busy machine.
    exporter = OTLPSpanExporter(endpoint=down_server.url + "/v1/traces", timeout=10)
    started = time.monotonic()
    result = exporter.export(sdk_prediction_spans("d", 1))
    exporter.shutdown()
    assert result.name == "FAILURE"  # never acknowledged while the store is down
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retries) >= 2, retries
    assert all("retrying in 1.00s" in message for message in retries), retries
    assert time.monotonic() - started >= 2.0
    assert down_server.pipeline.stats.requests == len(retries) + 1


def test_sdk_grpc_exporter_retries_after_the_given_delay(
    down_server, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_every_grpc_retry(monkeypatch)
    caplog.set_level(logging.WARNING, logger="opentelemetry.exporter")
    exporter = GrpcSpanExporter(endpoint=down_server.grpc_endpoint, insecure=True, timeout=6)
    result = exporter.export(sdk_prediction_spans("d", 1))
    exporter.shutdown()
    assert result.name == "FAILURE"
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert retries
    # Every retry follows an answer of the receiver's (its RetryInfo gives the delay). The last
    # attempt may not reach it: the exporter gives that call only what is left of its timeout.
    assert down_server.pipeline.stats.requests >= len(retries)
    # The delay comes from the server's google.rpc.RetryInfo, not the exporter's backoff.
    assert all("retrying in 1.00s" in message for message in retries), retries
    assert down_server.pipeline.stats.rows_stored == 0


def test_modeltel_serve_starts_with_the_store_down(tmp_path: Path) -> None:
    server = ServeProcess(store_url=f"http://127.0.0.1:{closed_port()}", log=tmp_path / "serve.log")
    server.start(wait_healthy=False)
    try:
        assert server.get("/healthz")[0] == 503
        conn = server.connection()
        try:
            conn.request("POST", "/v1/traces", prediction_spans(["y1"]), PROTOBUF)
            response = conn.getresponse()
            response.read()
        finally:
            conn.close()
        assert response.status == 503
        assert response.getheader("Retry-After") == "5"
        server.signal(signal.SIGTERM)
        assert server.wait(60) == 0
    finally:
        server.stop()
    log = (tmp_path / "serve.log").read_text()
    assert "the store is unavailable" in log and "serving anyway" in log
    assert "Traceback" not in log


def _modeltel(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MODELTEL_NO_PROGRESS": "1", "NO_PROXY": "*"}
    return subprocess.run(
        [sys.executable, "-m", "modeltel.analyzer.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.parametrize(
    "command",
    [
        ["models"],
        ["sql", "SELECT 1"],
        ["analyze", "--model", "churn"],
        ["outliers", "churn"],
    ],
)
def test_other_commands_fail_fast_with_one_sentence_when_the_store_is_down(
    command: list[str],
) -> None:
    port = closed_port()
    answer = _modeltel(*command, "--clickhouse-url", f"http://analyst:s3cret@127.0.0.1:{port}")
    assert answer.returncode == 3
    # The whole of stderr: no driver warnings, no urllib3 retry text, no credentials.
    assert answer.stderr == (
        f"modeltel: error: cannot reach the ClickHouse server at http://127.0.0.1:{port}: "
        "connection refused\n"
    )


def test_a_name_that_does_not_resolve_is_said_so() -> None:
    answer = _modeltel("models", "--clickhouse-url", "http://nonexistent.invalid:8123")
    assert answer.returncode == 3
    assert answer.stderr == (
        "modeltel: error: cannot reach the ClickHouse server at http://nonexistent.invalid:8123: "
        "the name nonexistent.invalid does not resolve\n"
    )


def test_https_to_a_server_without_tls_is_a_tls_failure() -> None:
    """``https://`` turns TLS on (the URL's scheme is honoured): a plain-HTTP server on the
    other end is a TLS failure, not an HTTP answer."""
    plain = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=plain.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"https://127.0.0.1:{plain.server_port}"
        answer = _modeltel("sql", "SELECT 1", "--clickhouse-url", url)
    finally:
        plain.shutdown()
        plain.server_close()
    assert answer.returncode == 3
    assert answer.stderr == (
        f"modeltel: error: cannot reach the ClickHouse server at {url}: "
        "TLS failure: wrong version number\n"
    )


def test_the_store_unreachable_is_one_sentence_in_the_library_too() -> None:
    port = closed_port()
    with pytest.raises(StoreUnavailableError) as info:
        Store(f"http://127.0.0.1:{port}", new_database_name())
    assert str(info.value) == (
        f"cannot reach the ClickHouse server at http://127.0.0.1:{port}: connection refused"
    )
