"""``modeltel serve --tls-cert/--tls-key`` with a token: the SDK exporters trust a
self-signed certificate (HTTP via ``certificate_file``, gRPC via
``OTEL_EXPORTER_OTLP_CERTIFICATE``) and send the token from ``OTEL_EXPORTER_OTLP_HEADERS``;
the CLI reaches the server with ``--server https://…`` and ``MODELTEL_API_TOKEN``."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from support.reliability import ServeProcess, self_signed_certificate
from support.servers import free_port

TOKEN = "tls-token-0b5e"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, Path]]:
    root = tmp_path_factory.mktemp("tls")
    cert, key = self_signed_certificate(root)
    server = ServeProcess(
        store_url=f"chdb://{root / 'store'}",
        log=root / "serve.log",
        grpc_port=free_port(),
        scheme="https",
        env={"MODELTEL_API_TOKEN": TOKEN},
        extra_args=["--tls-cert", str(cert), "--tls-key", str(key)],
    )
    server.start()
    try:
        yield server, cert
    finally:
        server.stop()


def _send(exporter, model: str) -> str:
    provider = TracerProvider(resource=Resource.create({"service.name": "tls-test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span(
        f"predict {model}", attributes={"ml.model.name": model, "ml.prediction.id": model}
    ):
        pass
    provider.shutdown()
    return model


def _cli(*args: str, token: str | None = TOKEN, cert: Path | None = None):
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    env.pop("MODELTEL_API_TOKEN", None)
    if token:
        env["MODELTEL_API_TOKEN"] = token
    if cert:
        env["SSL_CERT_FILE"] = str(cert)  # urllib trusts the self-signed certificate
    return subprocess.run(
        [sys.executable, "-m", "modeltel.analyzer.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_sdk_exporters_over_tls_with_token(
    tls_server: tuple[ServeProcess, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, cert = tls_server
    # requests lets these variables override a session's own CA file (psf/requests#3829).
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer%20{TOKEN}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(cert))
    _send(
        OTLPSpanExporter(endpoint=server.url + "/v1/traces", certificate_file=str(cert)),
        "over-https",
    )
    _send(GrpcSpanExporter(endpoint=f"127.0.0.1:{server.grpc_port}", insecure=False), "over-grpcs")

    answer = _cli(
        "sql",
        "SELECT model, count() FROM ml_predictions GROUP BY model ORDER BY model",
        "--format",
        "csv",
        "--server",
        server.url,
        cert=cert,
    )
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.splitlines() == ["model,count()", "over-grpcs,1", "over-https,1"]


def test_clients_that_do_not_trust_the_certificate_or_lack_the_token_are_refused(
    tls_server: tuple[ServeProcess, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, cert = tls_server
    # The certificate is not trusted by default: the handshake fails.
    context = ssl.create_default_context()
    with pytest.raises(ssl.SSLCertVerificationError):
        import http.client

        conn = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=60, context=context)
        try:
            conn.request("GET", "/healthz")
        finally:
            conn.close()
    # Trusted, but no token: 401 from the API, a clear message from the CLI (exit 2).
    trusted = ssl.create_default_context(cafile=str(cert))
    import http.client

    conn = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=60, context=trusted)
    try:
        conn.request("GET", "/api/models")
        assert conn.getresponse().status == 401
    finally:
        conn.close()
    answer = _cli("models", "--server", server.url, token=None, cert=cert)
    assert answer.returncode == 2
    assert "MODELTEL_API_TOKEN" in answer.stderr and "needs a token" in answer.stderr
    # Plain HTTP against the TLS port gets nowhere.
    plain = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            plain.request("GET", "/healthz")
            plain.getresponse().read()
    finally:
        plain.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "{cert}"], "TLS needs both --tls-cert and --tls-key; --tls-key is missing"),
        (["--tls-cert", "{cert}", "--tls-key", "{missing}"], "--tls-key {missing}: cannot read"),
        (["--tls-cert", "{junk}", "--tls-key", "{cert}"], "--tls-cert {junk}: not a PEM file"),
    ],
)
def test_bad_tls_options_fail_fast_naming_the_option(
    tmp_path: Path, args: list[str], message: str
) -> None:
    cert, _ = self_signed_certificate(tmp_path)
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    names = {"cert": cert, "missing": tmp_path / "nope.key", "junk": junk}
    args = [a.format(**names) for a in args]
    answer = _cli(
        "serve",
        "--clickhouse-url",
        f"chdb://{tmp_path / 'store'}",
        "--port",
        "0",
        "--grpc-port",
        "0",
        *args,
    )
    assert answer.returncode == 2
    assert message.format(**names) in answer.stderr
    assert "Traceback" not in answer.stderr
