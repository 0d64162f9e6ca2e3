"""Helpers of the reliability tests: ``modeltel serve`` as a subprocess on its own store,
OTLP requests whose prediction ids the client counts, self-signed certificates."""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import json
import logging
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from opentelemetry.sdk.resources import Resource as SdkResource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from modeltel.analyzer.base.store import Store
from modeltel.analyzer.demo.servers import ThreadedServer
from modeltel.analyzer.ingest.pipeline import IngestPipeline
from modeltel.analyzer.server.app import ServerConfig, create_app

PROTOBUF = {"Content-Type": "application/x-protobuf"}


# -- OTLP payloads -------------------------------------------------------------------------


def _kv(key: str, value: str | float) -> KeyValue:
    if isinstance(value, str):
        return KeyValue(key=key, value=AnyValue(string_value=value))
    return KeyValue(key=key, value=AnyValue(double_value=float(value)))


def prediction_spans(ids: Sequence[str], model: str = "churn") -> bytes:
    """One prediction span per id (three features), as an OTLP/protobuf request body."""
    now = time.time_ns()
    spans = [
        Span(
            trace_id=uuid.uuid4().bytes,
            span_id=uuid.uuid4().bytes[:8],
            name=f"predict {model}",
            kind=Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=now,
            end_time_unix_nano=now + 1_000_000,
            attributes=[
                _kv("ml.model.name", model),
                _kv("ml.model.version", "1"),
                _kv("ml.prediction.id", pid),
                _kv("ml.feature.age", 30 + i % 40),
                _kv("ml.feature.income", 1000.0 * (i % 7)),
                _kv("ml.feature.plan", ["basic", "gold"][i % 2]),
                KeyValue(
                    key="ml.feature.categorical",
                    value=AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="plan")])),
                ),
                _kv("ml.prediction.label", str(i % 2)),
                _kv("ml.prediction.score", (i % 10) / 10),
            ],
        )
        for i, pid in enumerate(ids)
    ]
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[_kv("service.name", "reliability")]),
                scope_spans=[ScopeSpans(spans=spans)],
            )
        ]
    )
    return request.SerializeToString()


def log_every_grpc_retry(monkeypatch: Any) -> None:
    """Let every retry message of the SDK's gRPC exporter through for this test.

    Its logger drops a message whose template it logged last within the same 20 s
    (``DuplicateFilter``), so a test that follows another gRPC test closely would see none.
    """
    logger = logging.getLogger("opentelemetry.exporter.otlp.proto.grpc.exporter")
    monkeypatch.setattr(logger, "filters", [])


def sdk_prediction_spans(prefix: str, count: int) -> list[ReadableSpan]:
    """``count`` finished prediction spans, ids ``prefix-0`` …, made by the OTel SDK as a
    serving app makes them (for the SDK exporters)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=SdkResource.create({"service.name": "churn-api"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("serving")
    for i in range(count):
        attributes = {
            "ml.model.name": "churn",
            "ml.model.version": "3",
            "ml.prediction.id": f"{prefix}-{i}",
            "ml.feature.age": 20 + i % 50,
            "ml.feature.plan": ["basic", "gold"][i % 2],
            "ml.prediction.label": str(i % 2),
            "ml.prediction.score": (i % 10) / 10,
        }
        with tracer.start_as_current_span("predict churn", attributes=attributes):
            pass
    provider.shutdown()
    return list(memory.get_finished_spans())


# -- a server in a subprocess --------------------------------------------------------------


SERVING_LINE = re.compile(rb"modeltel serving on https?://[^ ]+:(\d+) ")


@dataclass
class ServeProcess:
    """``modeltel serve`` in a subprocess on ``store_url``; stderr goes to ``log``.

    ``port`` 0 (the default) lets the server bind any free port; :meth:`start` reads the one it
    got from the line it prints, so no test races another process for a port.
    """

    store_url: str
    log: Path
    port: int = 0
    grpc_port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    scheme: str = "http"
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0, wait_healthy: bool = True) -> ServeProcess:
        args = [
            sys.executable,
            "-m",
            "modeltel.analyzer.cli",
            "serve",
            "--clickhouse-url",
            self.store_url,
            "--port",
            str(self.port),
            "--grpc-port",
            str(self.grpc_port),
            "--analyze-every",
            "0",
            *self.extra_args,
        ]
        env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", **self.env}
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=log, env=env)
        self.wait_listening(timeout, wait_healthy, offset)
        return self

    def wait_listening(self, timeout: float, healthy: bool, log_offset: int = 0) -> None:
        """Wait until ``/healthz`` answers (200, or any status unless ``healthy``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"modeltel serve exited early:\n{self.log.read_text()}")
            if not self.port:
                served = SERVING_LINE.search(self.log.read_bytes()[log_offset:])
                if served is None:
                    time.sleep(0.1)
                    continue
                self.port = int(served.group(1))
            try:
                status = self.get("/healthz")[0]
            except OSError:
                status = None
            if status == 200 or (status is not None and not healthy):
                return
            time.sleep(0.1)
        raise AssertionError(f"modeltel serve did not come up:\n{self.log.read_text()}")

    def connection(self, timeout: float = 30.0) -> http.client.HTTPConnection:
        if self.scheme == "https":
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=timeout, context=context
            )
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        conn = self.connection(30)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def sql(self, query: str, token: str | None = None, max_rows: int = 100_000) -> Any:
        """Rows of a read-only query through ``POST /api/sql``."""
        conn = self.connection(60)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            body = json.dumps({"query": query, "max_rows": max_rows})
            conn.request("POST", "/api/sql", body, headers)
            response = conn.getresponse()
            payload = json.loads(response.read())
        finally:
            conn.close()
        assert response.status == 200, payload
        assert not payload["truncated"]
        return payload["rows"]

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit; safe to call twice."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def stored_prediction_ids(server: ServeProcess, token: str | None = None) -> set[str]:
    rows = server.sql(
        "SELECT DISTINCT SpanAttributes['ml.prediction.id'] FROM otel_traces", token, 100_000
    )
    return {row[0] for row in rows}


# -- senders that count what was acknowledged -----------------------------------------------


@dataclass
class Tally:
    acknowledged: set[str] = field(default_factory=set)
    statuses: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: str, ids: Iterable[str] = ()) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.acknowledged.update(ids)


def send_until(
    port: int,
    stop: threading.Event,
    tally: Tally,
    sender: int,
    spans_per_request: int = 20,
    max_requests: int = 10_000,
) -> None:
    """POST requests of fresh ids until ``stop`` (or the server goes away); count acks."""
    conn: http.client.HTTPConnection | None = None
    for n in range(max_requests):
        if stop.is_set():
            break
        ids = [f"s{sender}-r{n}-{k}" for k in range(spans_per_request)]
        body = prediction_spans(ids)
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("POST", "/v1/traces", body, PROTOBUF)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            tally.count("connection error")
            if conn is not None:
                conn.close()
                conn = None
            time.sleep(0.05)
            continue
        if response.status == 200:
            tally.count("200", ids)
        else:
            tally.count(str(response.status))
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
            time.sleep(0.02)
    if conn is not None:
        conn.close()


# -- an app in this process with a chosen pipeline ------------------------------------------


@dataclass
class InProcessServer:
    url: str
    pipeline: IngestPipeline
    server: ThreadedServer

    def stop(self) -> None:
        self.server.stop(timeout_s=20)
        self.pipeline.close()


def serve_asgi(app: object) -> ThreadedServer:
    """Any ASGI app under uvicorn in a thread, on a port of its own."""
    return ThreadedServer(app, log_level="error").start(timeout_s=20)


def start_app(store: Store, config: ServerConfig, pipeline: IngestPipeline) -> InProcessServer:
    """The HTTP app under uvicorn in a thread, with ``pipeline`` (e.g. without linger)."""
    server = serve_asgi(create_app(store, config, pipeline))
    return InProcessServer(server.url, pipeline, server)


# -- certificates --------------------------------------------------------------------------


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost/127.0.0.1 and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def closed_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
