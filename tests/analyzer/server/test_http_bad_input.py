"""OTLP/HTTP contract: JSON and protobuf, gzip, partial success and every refusal."""

from __future__ import annotations

import gzip
import json
import threading
import time
from typing import Any

import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from modeltel.analyzer.ingest.pipeline import IngestPipeline
from modeltel.analyzer.server.app import ServerConfig
from support.servers import start_server

PROTO = {"Content-Type": "application/x-protobuf"}
TRACE_ID = "5b8efff798038103d269b633813fc60c"


def span(trace_id: bytes = bytes.fromhex(TRACE_ID), span_id: bytes = b"\x01" * 8, **attrs) -> Span:
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        name="predict m",
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=1_700_000_000_000_000_000,
        end_time_unix_nano=1_700_000_000_002_000_000,
        attributes=[KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in attrs.items()],
    )


def request(*spans: Span) -> bytes:
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=list(spans))])]
    ).SerializeToString()


def test_hand_written_otlp_json_request(server) -> None:
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "scorer"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "modeltel.instrumentation", "version": "0.1.0"},
                        "spans": [
                            {
                                "traceId": TRACE_ID,
                                "spanId": "eee19b7ec3c1b174",
                                "parentSpanId": "eee19b7ec3c1b173",
                                "name": "predict churn",
                                "kind": 1,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000012500000",
                                "attributes": [
                                    {"key": "ml.model.name", "value": {"stringValue": "churn"}},
                                    {"key": "ml.prediction.id", "value": {"stringValue": "j1"}},
                                    {"key": "ml.feature.age", "value": {"doubleValue": 42.0}},
                                    {"key": "ml.feature.visits", "value": {"intValue": "7"}},
                                    {"key": "ml.prediction.score", "value": {"doubleValue": 0.75}},
                                ],
                                "status": {"code": 2, "message": "boom"},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    response = httpx.post(server.url + "/v1/traces", json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    row = server.store.query_rows(
        "SELECT TraceId, SpanId, ParentSpanId, SpanKind, StatusCode, StatusMessage, Duration, "
        "ServiceName, ScopeName, SpanAttributes['ml.feature.age'], "
        "SpanAttributes['ml.feature.visits'], toUnixTimestamp64Nano(Timestamp) FROM otel_traces"
    )
    assert row == [
        (
            TRACE_ID,
            "eee19b7ec3c1b174",
            "eee19b7ec3c1b173",
            "Internal",
            "Error",
            "boom",
            12_500_000,
            "scorer",
            "modeltel.instrumentation",
            "42",
            "7",
            1_700_000_000_000_000_000,
        )
    ]
    assert server.store.query_rows(
        "SELECT prediction_id, prediction_score, latency_s, is_error FROM ml_predictions"
    ) == [("j1", 0.75, 0.0125, 1)]


def test_gzip_protobuf_and_partial_success(server) -> None:
    body = gzip.compress(
        request(
            span(**{"ml.model.name": "m", "ml.prediction.id": "ok"}),
            span(trace_id=b"\x01\x02\x03", **{"ml.model.name": "m", "ml.prediction.id": "bad"}),
        )
    )
    response = httpx.post(
        server.url + "/v1/traces",
        content=body,
        headers={**PROTO, "Content-Encoding": "gzip"},
        timeout=60,
    )
    assert response.status_code == 200
    reply = ExportTraceServiceResponse.FromString(response.content)
    assert reply.partial_success.rejected_spans == 1
    assert "16 bytes" in reply.partial_success.error_message
    assert server.store.query_rows("SELECT prediction_id FROM ml_predictions") == [("ok",)]


def status_of(response: httpx.Response) -> status_pb2.Status:
    if response.headers["content-type"] == "application/json":
        data = response.json()
        return status_pb2.Status(code=data.get("code", 0), message=data.get("message", ""))
    return status_pb2.Status.FromString(response.content)


# (body, headers, what the 400 answer says); the needle names the case
MALFORMED_BODIES = [
    (b"\xff\xff\xff\xff", PROTO, "not a valid OTLP traces protobuf"),
    (b"{not json", {"Content-Type": "application/json"}, "not valid JSON"),
    (b"[1, 2]", {"Content-Type": "application/json"}, "must be a JSON object"),
    (
        json.dumps(
            {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz", "spanId": "00"}]}]}]}
        ).encode(),
        {"Content-Type": "application/json"},
        "traceId is not valid hex",
    ),
    (
        json.dumps(
            {"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}
        ).encode(),
        {"Content-Type": "application/json"},
        "not a valid OTLP/JSON traces request",
    ),
    (
        gzip.compress(request(span()), mtime=0)[:-9],
        {**PROTO, "Content-Encoding": "gzip"},
        "truncated",
    ),
    (b"plain", {**PROTO, "Content-Encoding": "gzip"}, "not valid gzip"),
    (b"x", {**PROTO, "Content-Encoding": "br"}, "unsupported Content-Encoding"),
]


@pytest.mark.parametrize(
    ("body", "headers", "needle"),
    MALFORMED_BODIES,
    ids=[needle for _, _, needle in MALFORMED_BODIES],
)
def test_malformed_bodies_get_400_with_a_message(server, body, headers, needle) -> None:
    response = httpx.post(server.url + "/v1/traces", content=body, headers=headers, timeout=60)
    assert response.status_code == 400
    assert needle in status_of(response).message
    assert server.store.query_rows("SELECT count() FROM otel_traces") == [(0,)]


def test_wrong_media_type_and_method(server) -> None:
    response = httpx.post(
        server.url + "/v1/logs", content=b"x", headers={"Content-Type": "text/plain"}, timeout=60
    )
    assert response.status_code == 415
    assert "application/x-protobuf" in response.json()["message"]
    assert httpx.get(server.url + "/v1/metrics", timeout=60).status_code == 405


def test_oversize_bodies_get_413_before_and_after_decompression(store) -> None:
    running, stop = start_server(store, ServerConfig(max_body_bytes=4096))
    try:
        big = request(*(span(span_id=i.to_bytes(8, "big")) for i in range(200)))
        assert len(big) > 4096
        response = httpx.post(running.url + "/v1/traces", content=big, headers=PROTO, timeout=60)
        assert response.status_code == 413
        bomb = gzip.compress(b"\0" * 1_000_000)
        assert len(bomb) < 4096
        response = httpx.post(
            running.url + "/v1/traces",
            content=bomb,
            headers={**PROTO, "Content-Encoding": "gzip"},
            timeout=60,
        )
        assert response.status_code == 413
        assert "decompressed" in status_of(response).message
        small = httpx.post(
            running.url + "/v1/traces", content=request(span()), headers=PROTO, timeout=60
        )
        assert small.status_code == 200
    finally:
        stop()


def test_store_failure_answers_503_and_nothing_is_acknowledged(server) -> None:
    server.store.command("DROP TABLE otel_traces_ingest")
    response = httpx.post(
        server.url + "/v1/traces", content=request(span()), headers=PROTO, timeout=60
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    # the staging table comes from the baseline, which a store with an empty ledger runs again
    server.store.command("DELETE FROM modeltel_migrations WHERE 1")
    server.store.migrate()
    response = httpx.post(
        server.url + "/v1/traces", content=request(span()), headers=PROTO, timeout=60
    )
    assert response.status_code == 200
    assert server.store.query_rows("SELECT count() FROM otel_traces") == [(1,)]


class HeldPipeline(IngestPipeline):
    """The real write path whose writer waits for :attr:`release` before each insert: a
    store that is slow for as long as the test needs, not for a guessed time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.release = threading.Event()
        super().__init__(*args, **kwargs)

    def _write(self, group: Any) -> None:
        self.release.wait(60)
        super()._write(group)


def test_full_write_queue_answers_429_with_retry_after(store) -> None:
    pipeline = HeldPipeline(store, writers=1, max_pending_rows=1)
    running, stop = start_server(store, pipeline=pipeline)
    try:
        results: list[int] = []
        first = threading.Thread(
            target=lambda: results.append(
                httpx.post(
                    running.url + "/v1/traces", content=request(span()), headers=PROTO, timeout=60
                ).status_code
            )
        )
        first.start()
        deadline = time.monotonic() + 60  # a ceiling on a busy machine; the writer is held
        while pipeline.pending_rows == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        # one span, weighed with its bytes (ingest.BYTES_PER_ROW)
        assert pipeline.pending_rows > 0, "the first request never reached the write queue"
        second = httpx.post(
            running.url + "/v1/traces", content=request(span()), headers=PROTO, timeout=60
        )
        assert second.status_code == 429
        assert int(second.headers["Retry-After"]) >= 1
        pipeline.release.set()
        first.join(60)
        assert results == [200]
        assert store.query_rows("SELECT count() FROM otel_traces") == [(1,)]
    finally:
        stop()
