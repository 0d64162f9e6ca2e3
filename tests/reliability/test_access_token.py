"""The API token: the OTel SDK's own exporters (HTTP and gRPC) configured the standard way
(``OTEL_EXPORTER_OTLP_HEADERS``) get in, everyone else gets 401/UNAUTHENTICATED; the page and
/metrics are open or protected by configuration; /healthz stays open."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import grpc
import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from modeltel.analyzer.server.app import ServerConfig
from modeltel.analyzer.server.auth import AccessPolicy, TokenInterceptor
from modeltel.analyzer.server.otlp_grpc import start_grpc_server
from support.reliability import prediction_spans
from support.servers import start_server

TOKEN = "tok-7f3a9c1e-very-secret"


class Running:
    def __init__(self, url: str, grpc_endpoint: str, store) -> None:
        self.url, self.grpc_endpoint, self.store = url, grpc_endpoint, store


def _serve(store, policy: AccessPolicy) -> Iterator[Running]:
    running, stop = start_server(store, ServerConfig(access=policy))
    grpc_server, grpc_port = start_grpc_server(
        running.pipeline,
        "127.0.0.1",
        0,
        max_message_bytes=1 << 20,
        interceptors=(TokenInterceptor(policy),),
    )
    try:
        yield Running(running.url, f"127.0.0.1:{grpc_port}", store)
    finally:
        grpc_server.stop(grace=1).wait()
        stop()


@pytest.fixture
def guarded(store) -> Iterator[Running]:
    """Token required; page and /metrics left open (the default)."""
    yield from _serve(store, AccessPolicy(token=TOKEN))


@pytest.fixture
def locked_down(store) -> Iterator[Running]:
    """Token required everywhere but /healthz."""
    yield from _serve(store, AccessPolicy(token=TOKEN, protect_page=True, protect_metrics=True))


def _export(exporter: SpanExporter, model: str) -> bool:
    """Send one prediction span through the SDK; True when the exporter reports success."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "auth-test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span(
        f"predict {model}",
        attributes={"ml.model.name": model, "ml.prediction.id": f"{model}-1", "ml.feature.x": 1.0},
    ):
        pass
    provider.shutdown()
    result = exporter.export(memory.get_finished_spans())
    exporter.shutdown()
    return result.name == "SUCCESS"


def _stored(store, model: str) -> int:
    return int(
        store.query_rows(
            "SELECT count() FROM ml_predictions WHERE model = {m:String}", {"m": model}
        )[0][0]
    )


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_sdk_exporter_with_standard_headers_gets_in_and_others_do_not(
    transport: str, guarded: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    def exporter() -> SpanExporter:
        if transport == "http":
            return OTLPSpanExporter(endpoint=guarded.url + "/v1/traces", timeout=60)
        return GrpcSpanExporter(endpoint=guarded.grpc_endpoint, insecure=True, timeout=60)

    # No header at all, then a wrong token: refused, nothing stored.
    assert not _export(exporter(), "no-token")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20wrong-token")
    assert not _export(exporter(), "wrong-token")
    # The documented setting: accepted and stored.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer%20{TOKEN}")
    assert _export(exporter(), "right-token")

    assert _stored(guarded.store, "right-token") == 1
    assert _stored(guarded.store, "no-token") == 0
    assert _stored(guarded.store, "wrong-token") == 0


def test_otlp_http_refusal_is_401_with_challenge_and_status_body(guarded: Running) -> None:
    body = prediction_spans(["p1"])
    missing = httpx.post(
        guarded.url + "/v1/traces",
        content=body,
        headers={"Content-Type": "application/x-protobuf"},
        timeout=60,
    )
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="modeltel"'
    status = status_pb2.Status.FromString(missing.content)
    assert status.code == 16 and "Authorization: Bearer" in status.message

    wrong = httpx.post(
        guarded.url + "/v1/traces",
        content=body,
        headers={"Content-Type": "application/json", "Authorization": "Bearer nope"},
        timeout=60,
    )
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    assert wrong.json()["message"] == "the token is not valid"

    ok = httpx.post(
        guarded.url + "/v1/traces",
        content=body,
        headers={"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    )
    assert ok.status_code == 200


def test_grpc_refusal_is_unauthenticated(guarded: Running) -> None:
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    request = trace_service_pb2.ExportTraceServiceRequest.FromString(prediction_spans(["g1"]))
    with grpc.insecure_channel(guarded.grpc_endpoint) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        for metadata in [(), (("authorization", "Bearer bad"),), (("authorization", TOKEN),)]:
            with pytest.raises(grpc.RpcError) as refused:
                stub.Export(request, metadata=metadata, timeout=60)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        stub.Export(request, metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=60)
    assert _stored(guarded.store, "churn") == 1


def test_api_needs_token_page_and_metrics_open_by_default(guarded: Running) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    for method, path in [
        ("GET", "/api/models"),
        ("POST", "/api/sql"),
        ("GET", "/api/models/churn/report"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
    ]:
        answer = httpx.request(method, guarded.url + path, json={"query": "SELECT 1"}, timeout=60)
        assert answer.status_code == 401, path
        assert answer.json()["detail"].startswith("this endpoint needs a token")
        challenges = answer.headers.get_list("www-authenticate")
        assert 'Bearer realm="modeltel"' in challenges
    assert httpx.get(guarded.url + "/api/models", headers=bearer, timeout=60).status_code == 200
    sql = httpx.post(
        guarded.url + "/api/sql", json={"query": "SELECT 41 + 1"}, headers=bearer, timeout=60
    )
    assert sql.json()["rows"] == [[42]]
    for path in ["/", "/metrics", "/healthz", "/static/modeltel.css"]:
        assert httpx.get(guarded.url + path, timeout=60).status_code == 200, path


def test_protected_page_and_metrics(locked_down: Running) -> None:
    for path in ["/", "/models/churn", "/static/modeltel.js", "/metrics"]:
        answer = httpx.get(locked_down.url + path, timeout=60)
        assert answer.status_code == 401, path
        # Browsers show a login prompt for the Basic challenge.
        assert any(c.startswith("Basic ") for c in answer.headers.get_list("www-authenticate"))
    assert httpx.get(locked_down.url + "/healthz", timeout=60).status_code == 200
    # A browser's Basic credentials (any user, the token as password) and a bearer both work.
    basic = "Basic " + base64.b64encode(f"me:{TOKEN}".encode()).decode()
    page = httpx.get(locked_down.url + "/", headers={"Authorization": basic}, timeout=60)
    assert page.status_code == 200 and "modeltel" in page.text
    metrics = httpx.get(
        locked_down.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    )
    assert metrics.status_code == 200
    # The page's SQL form posts with the browser's cached credentials.
    sql = httpx.post(
        locked_down.url + "/api/sql",
        json={"query": "SELECT 1"},
        headers={"Authorization": basic},
        timeout=60,
    )
    assert sql.status_code == 200
    wrong_basic = "Basic " + base64.b64encode(b"me:guess").decode()
    refused = httpx.get(locked_down.url + "/", headers={"Authorization": wrong_basic}, timeout=60)
    assert refused.status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN.upper()}",
        f"Token {TOKEN}",
        TOKEN,
        "Basic !!!not-base64",
        "Basic " + base64.b64encode(TOKEN.encode()).decode(),  # no "user:" part
        "Bearer \udcff",
    ],
)
def test_only_the_exact_token_passes(header: str | None) -> None:
    policy = AccessPolicy(token=TOKEN)
    assert policy.check(header) is not None
    assert policy.check(f"Bearer {TOKEN}") is None
    assert policy.check(f"bearer   {TOKEN}  ") is None  # scheme is case-insensitive
    assert policy.check(f"Bearer {TOKEN}".encode("latin-1")) is None


def test_policy_from_environment_and_repr_hides_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from modeltel.analyzer.base.errors import ConfigError

    monkeypatch.setenv("MODELTEL_API_TOKEN", f"  {TOKEN}\n")
    monkeypatch.setenv("MODELTEL_PROTECT_METRICS", "yes")
    policy = AccessPolicy.from_settings()
    assert policy.token == TOKEN and policy.protect_metrics and not policy.protect_page
    assert TOKEN not in repr(policy) and TOKEN not in repr(ServerConfig(access=policy))
    assert policy.protects("/metrics") and not policy.protects("/healthz")
    assert AccessPolicy.from_settings(protect_metrics=False).protects("/metrics") is False
    monkeypatch.setenv("MODELTEL_API_TOKEN", "   ")
    assert not AccessPolicy.from_settings().enabled
    monkeypatch.setenv("MODELTEL_PROTECT_PAGE", "maybe")
    with pytest.raises(ConfigError, match="MODELTEL_PROTECT_PAGE='maybe' is not a boolean"):
        AccessPolicy.from_settings()


def test_without_a_token_nothing_is_checked(server) -> None:
    assert httpx.get(server.url + "/api/models", timeout=60).status_code == 200
    answer = httpx.post(server.url + "/api/sql", json={"query": "SELECT 1"}, timeout=60)
    assert json.loads(answer.text)["rows"] == [[1]]


def test_analyzer_service_metrics_follow_the_same_policy(store, monkeypatch) -> None:
    """``modeltel analyzer``'s own /metrics app honours the token and MODELTEL_PROTECT_METRICS."""
    from modeltel.analyzer.export.publisher import MetricsPublisher
    from modeltel.analyzer.server.metrics_endpoint import metrics_app
    from support.reliability import serve_asgi

    monkeypatch.setenv("MODELTEL_API_TOKEN", TOKEN)
    monkeypatch.setenv("MODELTEL_PROTECT_METRICS", "1")
    publisher = MetricsPublisher(store, exporter=False)
    server = serve_asgi(metrics_app(store, publisher))
    url = server.url
    try:
        assert httpx.get(url + "/metrics", timeout=60).status_code == 401
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.get(url + "/metrics", headers=bearer, timeout=60).status_code == 200
        assert httpx.get(url + "/healthz", timeout=60).status_code == 200
    finally:
        server.stop(timeout_s=20)
        publisher.shutdown()
