"""Hostile OTLP input, property-based: mutated protobuf, arbitrary OTLP-shaped JSON, invalid
UTF-8, deep nesting, extreme numbers and broken compression.

In-process, every payload either decodes and converts into table columns (and, for spans, the
Arrow table the writer inserts) or is refused with :class:`InputError`; nothing else may
escape. Posted to a running receiver, every answer is 200 or a 4xx carrying a message, never
a 5xx, and the server stays healthy. (Longer runs: ``bench/fuzz_otlp.py``.)
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeltel.analyzer.base.errors import InputError
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.ingest.decode import JSON, PROTOBUF, decompress, parse_request
from modeltel.analyzer.ingest.pipeline import IngestPipeline, traces_arrow
from modeltel.analyzer.ingest.rows import log_columns, metric_columns, trace_columns
from modeltel.analyzer.server.app import ServerConfig
from support.otlp_fuzz import REQUESTS, compressed, json_bodies, mutated
from support.reliability import start_app
from support.servers import new_database_name

SIGNALS = ["traces", "logs", "metrics"]
FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
OVER_HTTP = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
LIMIT = 1 << 20


def decode_and_convert(signal: str, body: bytes, content_type: str) -> int:
    """What the receiver does before the writer: rows accepted, or InputError."""
    message = parse_request(signal, body, content_type)  # type: ignore[arg-type]
    if signal == "traces":
        cols, _, _ = trace_columns(message)
        if cols["Timestamp"]:
            traces_arrow(cols)
        return len(cols["Timestamp"])
    if signal == "logs":
        cols, _, _ = log_columns(message)
        return len(cols["Timestamp"])
    tables, _, _ = metric_columns(message)
    return sum(len(next(iter(c.values()))) for c in tables.values())


def accepts_or_refuses(signal: str, body: bytes, content_type: str) -> None:
    try:
        decode_and_convert(signal, body, content_type)
    except InputError as exc:
        assert str(exc), "a refusal must say why"


# -- in process: the decoders and the row conversion ------------------------------------------


@pytest.mark.parametrize("signal", SIGNALS)
@FAST
@given(data=st.data())
def test_valid_requests_with_extreme_values_convert(signal: str, data: st.DataObject) -> None:
    request = data.draw(REQUESTS[signal])
    accepts_or_refuses(signal, request.SerializeToString(), PROTOBUF)
    # The same request as OTLP/JSON (hex ids, as the SDKs send it).
    document = json_format.MessageToJson(request)
    accepts_or_refuses(signal, document.encode(), JSON)


@pytest.mark.parametrize("signal", SIGNALS)
@FAST
@given(data=st.data())
def test_mutated_protobuf_converts_or_is_refused(signal: str, data: st.DataObject) -> None:
    body = data.draw(REQUESTS[signal]).SerializeToString()
    accepts_or_refuses(signal, data.draw(mutated(body)), PROTOBUF)


@pytest.mark.parametrize("signal", SIGNALS)
@FAST
@given(data=st.data())
def test_arbitrary_json_converts_or_is_refused(signal: str, data: st.DataObject) -> None:
    accepts_or_refuses(signal, data.draw(json_bodies(signal)), JSON)


@FAST
@given(data=st.data())
def test_broken_compression_is_refused_cleanly(data: st.DataObject) -> None:
    body = data.draw(REQUESTS["traces"]).SerializeToString()
    payload, encoding = data.draw(compressed(body))
    try:
        out = decompress(payload, encoding, LIMIT)
    except InputError as exc:  # includes PayloadTooLargeError
        assert str(exc)
        return
    accepts_or_refuses("traces", out, PROTOBUF)


# -- over HTTP: a running receiver ----------------------------------------------------------


@pytest.fixture(scope="module")
def receiver(store_url: str) -> Iterator[str]:
    """The receiver app under uvicorn; no linger, so accepted fuzz cases are stored fast."""
    store = Store(store_url, new_database_name())
    pipeline = IngestPipeline(store, writers=2, linger=0.0)
    running = start_app(store, ServerConfig(max_body_bytes=LIMIT), pipeline)
    try:
        yield running.url
        assert httpx.get(running.url + "/healthz", timeout=60).status_code == 200
    finally:
        running.stop()
        store.command(f"DROP DATABASE IF EXISTS `{store.database}`")
        store.close()


@pytest.fixture(scope="module")
def client(receiver: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=receiver, timeout=60) as http:
        yield http


def post(client: httpx.Client, signal: str, body: bytes, content_type: str, **headers: str):
    answer = client.post(
        f"/v1/{signal}", content=body, headers={"Content-Type": content_type, **headers}
    )
    assert answer.status_code < 500, (answer.status_code, answer.text[:500])
    if answer.status_code != 200:
        assert answer.status_code in (400, 413, 415), answer.status_code
        assert answer.content, "a refusal must carry a google.rpc.Status with a message"
    return answer


@pytest.mark.parametrize("signal", SIGNALS)
@OVER_HTTP
@given(data=st.data())
def test_receiver_never_answers_5xx_to_mutated_protobuf(
    client: httpx.Client, signal: str, data: st.DataObject
) -> None:
    body = data.draw(REQUESTS[signal]).SerializeToString()
    if data.draw(st.booleans()):
        body = data.draw(mutated(body))
    post(client, signal, body, PROTOBUF)


@pytest.mark.parametrize("signal", SIGNALS)
@OVER_HTTP
@given(data=st.data())
def test_receiver_never_answers_5xx_to_hostile_json(
    client: httpx.Client, signal: str, data: st.DataObject
) -> None:
    answer = post(client, signal, data.draw(json_bodies(signal)), JSON)
    if answer.status_code == 400:
        assert answer.json()["message"]


@OVER_HTTP
@given(data=st.data())
def test_receiver_never_answers_5xx_to_broken_compression(
    client: httpx.Client, data: st.DataObject
) -> None:
    body = data.draw(REQUESTS["traces"]).SerializeToString()
    payload, encoding = data.draw(compressed(body))
    post(client, "traces", payload, PROTOBUF, **{"Content-Encoding": encoding})


def test_known_nasty_payloads(client: httpx.Client) -> None:
    """Cases worth pinning: bombs, depth, huge numbers, wrong media types."""
    import gzip

    bomb = gzip.compress(b"\x00" * (LIMIT * 4))
    assert post(client, "traces", bomb, PROTOBUF, **{"Content-Encoding": "gzip"}).status_code == 413
    deep = b"[" * 200_000 + b"]" * 200_000
    assert post(client, "traces", deep, JSON).status_code in (400, 413)
    huge = (
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "1'
        + b"9" * 400
        + b'"}]}]}]}'
    )
    assert post(client, "traces", huge, JSON).status_code == 400
    assert post(client, "traces", b"\xff\xfe\x00", JSON).status_code == 400
    assert post(client, "traces", b"", PROTOBUF).status_code == 200  # an empty export is valid
    assert post(client, "logs", b"{}", JSON).status_code == 200
    assert post(client, "metrics", b"null", JSON).status_code == 400
    assert post(client, "traces", b"hello", "text/plain").status_code == 415
