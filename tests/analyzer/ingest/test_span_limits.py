"""Sizes a span declares or implies are bounded on both paths: the receiver (OTLP/HTTP into a
real server) and rows inserted straight into ``otel_traces`` as a Collector writes them.

Rows come from what a span carries, never from ``ml.batch.size``; a span breaking a limit is
counted (partial success, ``/metrics``, ``ml_ingest_issues``) and never fails its neighbours.
"""

from __future__ import annotations

import json

import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.limits import Limits
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.server.app import ServerConfig
from support.collector import assert_same_ml_rows, collector_copy
from support.servers import start_server
from support.spans import value

PROTO = {"Content-Type": "application/x-protobuf"}
MIB = 1 << 20


def nested(depth: int) -> AnyValue:
    """An attribute value nesting ``depth`` arrays (parsed from its wire form: the protobuf
    runtime copies no deeper than its own limit)."""
    return AnyValue.FromString(nested_wire(depth))


def nested_wire(depth: int) -> bytes:
    """The wire bytes of an ``AnyValue`` nesting ``depth`` arrays around a string."""
    wire = AnyValue(string_value="x").SerializeToString()
    for _ in range(depth):
        inner = b"\x0a" + _varint(len(wire)) + wire  # ArrayValue.values
        wire = b"\x2a" + _varint(len(inner)) + inner  # AnyValue.array_value
    return wire


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def span(i: int, attrs: dict) -> Span:
    return Span(
        trace_id=(5000 + i).to_bytes(16, "big"),
        span_id=(9000 + i).to_bytes(8, "big"),
        name="predict m",
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=1_700_000_000_000_000_000 + i * 1_000_000,
        end_time_unix_nano=1_700_000_000_002_000_000 + i * 1_000_000,
        attributes=[KeyValue(key=k, value=value(v)) for k, v in attrs.items()],
    )


def request(*spans: Span) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=list(spans))])]
    )


def good(pid: str, **extra) -> dict:
    return {
        "ml.model.name": "m",
        "ml.model.version": "1",
        "ml.prediction.id": pid,
        "ml.feature.a": 1.5,
        "ml.prediction.score": 0.5,
        **extra,
    }


def post(url: str, req: ExportTraceServiceRequest) -> ExportTraceServiceResponse:
    response = httpx.post(
        url + "/v1/traces", content=req.SerializeToString(), headers=PROTO, timeout=120
    )
    assert response.status_code == 200, response.content[:300]
    return ExportTraceServiceResponse.FromString(response.content)


def ids_of(store: Store) -> list[str]:
    return [r[0] for r in store.query_rows("SELECT prediction_id FROM ml_predictions ORDER BY 1")]


def issues(store: Store) -> list[tuple]:
    return store.query_rows(
        "SELECT span_id, reason, skipped, predictions, declared_size, size, max_size "
        "FROM ml_ingest_issues ORDER BY span_id"
    )


SPAN_ID = f"{9000:016x}"


# -- the receiver ---------------------------------------------------------------------------


@pytest.mark.parametrize("declared", [10**9, 10**8])
def test_declared_batch_size_never_pads(server, declared: int) -> None:
    """One id and ``ml.batch.size`` of a billion: one row, the size kept as a quality fact."""
    reply = post(server.url, request(span(0, good("only", **{"ml.batch.size": declared}))))
    assert reply.partial_success.rejected_spans == 0
    rows = server.store.query_rows("SELECT prediction_id, batch_size FROM ml_predictions")
    assert rows == [("only", 1)]
    assert issues(server.store) == [(SPAN_ID, "batch_size_mismatch", 0, 1, declared, declared, 0)]
    assert server.pipeline.stats.batch_size_mismatches == 1


def test_batch_rows_come_from_what_the_span_carries(server) -> None:
    spans = [
        # ids decide: longer arrays are cut, shorter ones padded with missing values
        span(
            0,
            {
                "ml.model.name": "m",
                "ml.prediction.id": ["a", "b", "c"],
                "ml.batch.size": 1_000_000_000,
                "ml.feature.long": [1.0, 2.0, 3.0, 4.0, 5.0],
                "ml.feature.short": [7.0],
                "ml.prediction.score": [0.1] * 50,
            },
        ),
        # no id array: the longest value array, cut to the declared size
        span(
            1,
            {
                "ml.model.name": "m",
                "ml.batch.size": 1_000_000_000,
                "ml.feature.x": [1.0, 2.0],
                "ml.prediction.label": ["p", "q", "r", "s"],
            },
        ),
        span(2, {"ml.model.name": "m", "ml.batch.size": 2, "ml.feature.x": [1.0, 2.0, 3.0]}),
    ]
    assert post(server.url, request(*spans)).partial_success.rejected_spans == 0
    store = server.store
    features = store.query_rows(
        "SELECT prediction_id, feature, value_num FROM ml_features "
        "WHERE prediction_id IN ('a', 'b', 'c') ORDER BY 1, 2"
    )
    assert features == [
        ("a", "long", 1.0), ("a", "short", 7.0),
        ("b", "long", 2.0), ("b", "short", None),
        ("c", "long", 3.0), ("c", "short", None),
    ]  # fmt: skip
    sizes = dict(store.query_rows("SELECT span_id, max(batch_size) FROM ml_predictions GROUP BY 1"))
    assert sizes == {SPAN_ID: 3, f"{9001:016x}": 4, f"{9002:016x}": 2}
    labels = store.query_rows(
        f"SELECT prediction_label FROM ml_predictions WHERE span_id = '{9001:016x}' ORDER BY 1"
    )
    assert labels == [("p",), ("q",), ("r",), ("s",)]
    assert [r[1] for r in issues(store)] == ["batch_size_mismatch"] * 2  # 2 of 3 is no mismatch


def test_a_span_over_a_row_limit_is_stored_but_not_projected(server) -> None:
    rows = Limits().max_span_rows + 1
    hostile = span(1, {"ml.model.name": "m", "ml.prediction.id": [f"i{k}" for k in range(rows)]})
    reply = post(server.url, request(span(0, good("ok")), hostile, span(2, good("ok2"))))
    assert reply.partial_success.rejected_spans == 1
    message = reply.partial_success.error_message
    assert f"carries {rows:,} rows" in message and "MODELTEL_MAX_SPAN_ROWS" in message
    assert "limit of 100,000" in message and "stored in otel_traces, not projected" in message
    store = server.store
    assert ids_of(store) == ["ok", "ok2"]
    assert store.query_rows("SELECT count() FROM otel_traces") == [(3,)]
    assert issues(store) == [(f"{9001:016x}", "span_rows", 1, rows, 0, rows, 100_000)]
    assert server.pipeline.rejected_counts() == {("traces", "span_rows"): 1}


def test_padding_cannot_explode_a_span(server) -> None:
    """2,000 ids × 1,000 empty features would write two million ml_features rows."""
    attrs = {"ml.model.name": "m", "ml.prediction.id": [f"p{k}" for k in range(2_000)]}
    attrs.update({f"ml.feature.f{k}": [] for k in range(1_000)})
    reply = post(server.url, request(span(0, good("ok")), span(1, attrs)))
    assert reply.partial_success.rejected_spans == 1
    assert "2,002,000 ml rows" in reply.partial_success.error_message
    assert "MODELTEL_MAX_PROJECTED_ROWS" in reply.partial_success.error_message
    assert ids_of(server.store) == ["ok"]
    assert server.store.query_rows("SELECT count() FROM ml_features") == [(1,)]
    assert [r[1:4] for r in issues(server.store)] == [("projected_rows", 1, 2_000)]


def test_one_request_shares_the_projected_rows_limit(store) -> None:
    limits = Limits(max_projected_rows=100)
    running, stop = start_server(store, ServerConfig(limits=limits))
    try:
        batch = [
            span(k, {"ml.model.name": "m", "ml.prediction.id": [f"s{k}-{j}" for j in range(20)],
                     "ml.feature.a": [1.0] * 20})
            for k in range(4)
        ]  # fmt: skip
        reply = post(running.url, request(*batch))
        assert reply.partial_success.rejected_spans == 2  # 40 rows each: two fit in 100
        assert "one request would write 120 ml rows" in reply.partial_success.error_message
        assert "limit of 100 (MODELTEL_MAX_PROJECTED_ROWS)" in reply.partial_success.error_message
        assert store.query_rows("SELECT count() FROM ml_predictions") == [(40,)]
        assert store.query_rows("SELECT count() FROM otel_traces") == [(4,)]
        assert {r[1] for r in issues(store)} == {"request_rows"}
    finally:
        stop()


HOSTILE_ATTRIBUTES = [
    (
        "attributes",
        {**good("x"), **{f"ml.feature.f{k}": float(k) for k in range(10_000)}},
        "span has 10,005 attributes, more than the limit of 4,096 (MODELTEL_MAX_SPAN_ATTRIBUTES)",
    ),
    (
        "key_length",
        {**good("x"), "ml.feature." + "k" * MIB: 1.0},
        "has 1,048,587 bytes, more than the limit of 1,024 (MODELTEL_MAX_ATTRIBUTE_KEY_BYTES)",
    ),
    (
        "value_length",
        {**good("x"), "ml.feature.text": "v" * (2 * MIB)},
        "has a value of 2,097,152 bytes, more than the limit of 1,048,576 "
        "(MODELTEL_MAX_ATTRIBUTE_VALUE_BYTES)",
    ),
    (
        "value_length",
        {**good("x"), "ml.feature.text": ["ok", "v" * (2 * MIB)]},
        "MODELTEL_MAX_ATTRIBUTE_VALUE_BYTES",
    ),
    (
        "value_depth",
        {**good("x"), "ml.feature.deep": nested(17)},
        "nests arrays/kvlists 17 levels deep, more than the limit of 16 (MODELTEL_MAX_VALUE_DEPTH)",
    ),
]


@pytest.mark.parametrize(
    ("reason", "attrs", "needle"), HOSTILE_ATTRIBUTES, ids=[c[0] for c in HOSTILE_ATTRIBUTES]
)
def test_a_span_over_an_attribute_limit_is_refused_alone(server, reason, attrs, needle) -> None:
    reply = post(
        server.url, request(span(0, good("before")), span(1, attrs), span(2, good("after")))
    )
    assert reply.partial_success.rejected_spans == 1
    assert needle in reply.partial_success.error_message
    assert ids_of(server.store) == ["after", "before"]
    assert server.store.query_rows("SELECT count() FROM otel_traces") == [(2,)]
    assert server.pipeline.rejected_counts() == {("traces", reason): 1}
    features = server.store.query_rows("SELECT max(length(feature)) FROM ml_features")
    assert features == [(1,)]  # nothing of the refused span became a feature


def test_json_bodies_are_bounded_per_span_too(server) -> None:
    body = json.loads(json_format.MessageToJson(request(span(0, good("ok")))))
    spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
    deep = json.loads(
        json_format.MessageToJson(span(1, {**good("deep"), "ml.feature.d": nested(20)}))
    )
    for item in (spans[0], deep):  # OTLP/JSON carries hex ids
        item["traceId"] = _b64hex(item["traceId"])
        item["spanId"] = _b64hex(item["spanId"])
    spans.append(deep)
    response = httpx.post(server.url + "/v1/traces", json=body)
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert "MODELTEL_MAX_VALUE_DEPTH" in response.json()["partialSuccess"]["errorMessage"]
    assert ids_of(server.store) == ["ok"]


def _b64hex(text: str) -> str:
    import base64

    return base64.b64decode(text).hex()


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_nesting_beyond_the_decoders_is_a_400_naming_the_limit(server, encoding) -> None:
    if encoding == "protobuf":
        # the span with one attribute (key "d") whose value nests 60 arrays, by hand
        value = nested_wire(60)
        key_value = b"\x0a\x01d\x12" + _varint(len(value)) + value
        wire = (
            span(0, good("x")).SerializeToString() + b"\x4a" + _varint(len(key_value)) + key_value
        )
        scope = b"\x12" + _varint(len(wire)) + wire
        resource = b"\x12" + _varint(len(scope)) + scope
        body = b"\x0a" + _varint(len(resource)) + resource
        response = httpx.post(server.url + "/v1/traces", content=body, headers=PROTO)
    else:
        deep = {"stringValue": "x"}
        for _ in range(60):
            deep = {"arrayValue": {"values": [deep]}}
        document = {"resourceSpans": [{"scopeSpans": [{"spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
            "attributes": [{"key": "ml.feature.d", "value": deep}]}]}]}]}  # fmt: skip
        response = httpx.post(server.url + "/v1/traces", json=document)
    assert response.status_code == 400
    assert b"MODELTEL_MAX_VALUE_DEPTH" in response.content
    assert server.store.query_rows("SELECT count() FROM otel_traces") == [(0,)]


def test_limits_are_configurable_and_reported_on_metrics(store, monkeypatch) -> None:
    monkeypatch.setenv("MODELTEL_MAX_SPAN_ROWS", "5")
    monkeypatch.setenv("MODELTEL_MAX_SPAN_ATTRIBUTES", "8")
    limits = Limits.from_settings()
    assert (limits.max_span_rows, limits.max_attributes) == (5, 8)
    running, stop = start_server(store, ServerConfig(limits=limits))
    try:
        reply = post(running.url, request(
            span(0, {"ml.model.name": "m", "ml.prediction.id": list("abcdef")}),
            span(1, {**good("x"), **{f"k{k}": "v" for k in range(8)}}),
            span(2, good("fine")),
        ))  # fmt: skip
        assert reply.partial_success.rejected_spans == 2
        message = reply.partial_success.error_message
        assert "more than the limit of 5 (MODELTEL_MAX_SPAN_ROWS)" in message
        assert "more than the limit of 8 (MODELTEL_MAX_SPAN_ATTRIBUTES)" in message
        assert ids_of(store) == ["fine"]
        text = httpx.get(running.url + "/metrics").text
        receiver = 'modeltel_ingest_rejected_total{path="receiver",reason="%s",signal="traces"} 1.0'
        assert receiver % "span_rows" in text and receiver % "attributes" in text
        # the views apply the limits the server recorded
        recorded = dict(
            store.query_rows(
                "SELECT name, argMax(value, updated_at) FROM modeltel_limits GROUP BY name"
            )
        )
        assert recorded["max_span_rows"] == 5 and recorded["max_attributes"] == 8
    finally:
        stop()


@pytest.mark.parametrize("raw", ["0", "-3", "lots", "1.5"])
def test_a_bad_limit_variable_is_a_config_error_naming_it(monkeypatch, raw) -> None:
    monkeypatch.setenv("MODELTEL_MAX_PROJECTED_ROWS", raw)
    with pytest.raises(ConfigError, match="MODELTEL_MAX_PROJECTED_ROWS"):
        Limits.from_settings()


# -- rows inserted straight into otel_traces, as a Collector writes them -------------------------


def collector_row(i: int, attributes: dict[str, str]) -> list:
    return [
        1_700_000_000_000_000_000 + i,
        "ab" * 16,
        f"{i:016x}",
        "predict m",
        "collector",
        attributes,
        1_000_000,
    ]


def insert_as_collector(store: Store, rows: list[list]) -> None:
    store.insert(
        "otel_traces",
        rows,
        ["Timestamp", "TraceId", "SpanId", "SpanName", "ServiceName", "SpanAttributes", "Duration"],
    )


def ok_attrs(pid: str) -> dict[str, str]:
    return {"ml.model.name": "m", "ml.prediction.id": pid, "ml.feature.a": "1.5"}


def test_a_collector_insert_with_poison_spans_stores_every_good_one(store) -> None:
    many_ids = json.dumps([f"i{k}" for k in range(100_001)])
    padding = {
        "ml.model.name": "m",
        "ml.prediction.id": json.dumps([f"p{k}" for k in range(2_000)]),
    }
    padding.update({f"ml.feature.f{k}": "[]" for k in range(1_000)})
    hostile = {
        1: {**ok_attrs("x"), "ml.batch.size": "1000000000"},  # range() of a billion before
        2: {"ml.model.name": "m", "ml.batch.size": "100000000", "ml.feature.a": "[1,2]"},
        3: {"ml.model.name": "m", "ml.prediction.id": many_ids},
        4: padding,
        5: {**ok_attrs("y"), **{f"k{k}": "v" for k in range(5_000)}},
        6: {**ok_attrs("z"), "ml.feature." + "k" * MIB: "1"},
        7: {**ok_attrs("w"), "ml.feature.t": "v" * (2 * MIB)},
        8: {"ml.model.name": "m", "ml.prediction.id": '["a", "b"', "ml.feature.a": "[1"},
        9: {"ml.model.name": "m", "ml.prediction.id": '["c","d"]', "ml.feature.a": "[1,2,3]",
            "ml.feature.b": "[4]"},
    }  # fmt: skip
    rows = [collector_row(i, ok_attrs(f"good{i}")) for i in range(100, 140, 4)]
    rows += [collector_row(i, attrs) for i, attrs in hostile.items()]
    insert_as_collector(store, rows)  # one insert: it must not fail
    assert store.query_rows("SELECT count() FROM otel_traces") == [(len(rows),)]
    predicted = set(ids_of(store))
    assert {f"good{i}" for i in range(100, 140, 4)} <= predicted
    assert predicted - {f"good{i}" for i in range(100, 140, 4)} == {
        "x",  # one row, not a billion
        f"{2:016x}-0",  # a size-only batch: the two values it carries
        f"{2:016x}-1",
        '["a", "b"',  # ids that are not JSON: one prediction with that id
        "c",
        "d",
    }
    assert store.query_rows(
        "SELECT prediction_id, feature, value_num FROM ml_features "
        "WHERE prediction_id IN ('c', 'd') ORDER BY 1, 2"
    ) == [("c", "a", 1.0), ("c", "b", 4.0), ("d", "a", 2.0), ("d", "b", None)]
    found = {r[0]: r[1:] for r in issues(store)}
    assert found == {
        f"{1:016x}": ("batch_size_mismatch", 0, 1, 10**9, 10**9, 0),
        f"{2:016x}": ("batch_size_mismatch", 0, 2, 10**8, 10**8, 0),
        f"{3:016x}": ("span_rows", 1, 100_001, 0, 100_001, 100_000),
        f"{4:016x}": ("projected_rows", 1, 2_000, 0, 2_002_000, 2_000_000),
        f"{5:016x}": ("attributes", 1, 1, 0, 5_003, 4_096),
        f"{6:016x}": ("key_length", 1, 1, 0, MIB + 11, 1_024),
        f"{7:016x}": ("value_length", 1, 1, 0, 2 * MIB, MIB),
    }
    assert store.query_rows("SELECT max(length(feature)) FROM ml_features") == [(1,)]


def test_the_views_apply_the_limits_in_the_store(store) -> None:
    store.insert("modeltel_limits", [["max_span_rows", 3]], ["name", "value"])
    insert_as_collector(
        store,
        [
            collector_row(1, {"ml.model.name": "m", "ml.prediction.id": '["a","b","c"]'}),
            collector_row(2, {"ml.model.name": "m", "ml.prediction.id": '["d","e","f","g"]'}),
        ],
    )
    assert ids_of(store) == ["a", "b", "c"]
    assert [r[1:] for r in issues(store)] == [("span_rows", 1, 4, 0, 4, 3)]


MANY = [str(k) for k in range(100_001)]


def test_metrics_count_what_the_views_skipped(server) -> None:
    insert_as_collector(
        server.store,
        [
            collector_row(1, {"ml.model.name": "m", "ml.prediction.id": json.dumps(MANY)}),
            collector_row(2, {**ok_attrs("q"), "ml.batch.size": "7"}),
            collector_row(3, ok_attrs("r")),
        ],
    )  # fmt: skip
    text = httpx.get(server.url + "/metrics").text
    assert (
        'modeltel_ingest_rejected_total{path="otel_traces",reason="span_rows",signal="traces"} 1.0'
        in text
    )
    assert 'modeltel_ingest_batch_size_mismatch_total{path="otel_traces"} 1.0' in text
    assert 'modeltel_ingest_batch_size_mismatch_total{path="receiver"} 0.0' in text


# -- both paths give the same rows on hostile spans ---------------------------------------------


def test_both_paths_bound_hostile_spans_identically(server, store_url) -> None:
    spans = [
        span(0, good("g0")),
        span(1, {**good("one"), "ml.batch.size": 10**9}),
        span(2, {"ml.model.name": "m", "ml.batch.size": 10**8, "ml.feature.a": [1.0, 2.0, 3.0],
                 "ml.attribution.a": [0.5], "ml.prediction.score": [0.1] * 30}),
        span(3, {"ml.model.name": "m", "ml.prediction.id": ["a", "b"], "ml.batch.size": 9,
                 "ml.feature.a": [1.0] * 40, "ml.feature.b": ["x"], "ml.attribution.a": [1.0] * 3}),
        span(4, {"ml.model.name": "m", "ml.prediction.id": [f"r{k}" for k in range(100_001)]}),
        span(5, {"ml.model.name": "m", "ml.prediction.id": [f"p{k}" for k in range(2_000)],
                 **{f"ml.feature.f{k}": [] for k in range(1_000)}}),
        span(6, {"ml.model.name": "m", "ml.batch.size": "3", "ml.feature.a": "[1,2,3]"}),
        span(7, {"ml.model.name": "m", "ml.batch.size": "x", "ml.prediction.id": "[NaN]"}),
    ]  # fmt: skip
    post(server.url, request(*spans))
    received = server.store
    with collector_copy(store_url, received) as collector:
        assert_same_ml_rows(received, collector)
        sql = "SELECT * EXCEPT (received_at, source) FROM ml_ingest_issues ORDER BY span_id"
        assert received.query_rows(sql) == collector.query_rows(sql)
        assert {r[1] for r in issues(received)} == {
            "batch_size_mismatch",
            "span_rows",
            "projected_rows",
        }


# -- the other signals and the gRPC answer ------------------------------------------------------


def test_log_records_and_data_points_over_a_limit_are_refused_alone(server) -> None:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
        ExportLogsServiceRequest,
        ExportLogsServiceResponse,
    )
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
        ExportMetricsServiceResponse,
    )
    from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
    from opentelemetry.proto.metrics.v1.metrics_pb2 import (
        Gauge,
        Metric,
        NumberDataPoint,
        ResourceMetrics,
        ScopeMetrics,
    )

    def attrs(items: dict) -> list[KeyValue]:
        return [KeyValue(key=k, value=value(v)) for k, v in items.items()]

    label = {"ml.model.name": "m", "ml.prediction.id": "p1", "ml.label": "1"}
    records = [
        LogRecord(time_unix_nano=1_700_000_000_000_000_000, event_name="ml.label",
                  attributes=attrs(label)),
        LogRecord(time_unix_nano=1_700_000_000_000_000_000, event_name="ml.label",
                  attributes=attrs({**label, "ml.prediction.id": "p2", "k" * 2_000: "x"})),
    ]  # fmt: skip
    logs = ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=records)])]
    )
    response = httpx.post(
        server.url + "/v1/logs", content=logs.SerializeToString(), headers=PROTO, timeout=60
    )
    reply = ExportLogsServiceResponse.FromString(response.content)
    assert reply.partial_success.rejected_log_records == 1
    assert "1 log record: " in reply.partial_success.error_message
    assert "MODELTEL_MAX_ATTRIBUTE_KEY_BYTES" in reply.partial_success.error_message
    assert server.store.query_rows("SELECT prediction_id FROM ml_labels") == [("p1",)]

    points = [
        NumberDataPoint(time_unix_nano=1_700_000_000_000_000_000, as_double=1.0),
        NumberDataPoint(
            time_unix_nano=1_700_000_000_000_000_000,
            as_double=2.0,
            attributes=attrs({"deep": nested(20)}),
        ),
    ]
    metrics = ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(
                scope_metrics=[
                    ScopeMetrics(metrics=[Metric(name="g", gauge=Gauge(data_points=points))])
                ]
            )
        ]
    )
    response = httpx.post(
        server.url + "/v1/metrics", content=metrics.SerializeToString(), headers=PROTO, timeout=60
    )
    reply = ExportMetricsServiceResponse.FromString(response.content)
    assert reply.partial_success.rejected_data_points == 1
    assert "MODELTEL_MAX_VALUE_DEPTH" in reply.partial_success.error_message
    assert server.store.query_rows("SELECT Value FROM otel_metrics_gauge") == [(1.0,)]
    assert server.pipeline.rejected_counts() == {
        ("logs", "key_length"): 1,
        ("metrics", "value_depth"): 1,
    }


def test_grpc_answers_a_partial_success_naming_the_limit(server) -> None:
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    rows = Limits().max_span_rows + 1
    req = request(
        span(0, good("grpc-ok")),
        span(1, {"ml.model.name": "m", "ml.prediction.id": [f"g{k}" for k in range(rows)]}),
        span(2, {**good("grpc-bad"), "ml.feature." + "k" * 5_000: 1.0}),
    )
    with grpc.insecure_channel(server.grpc_endpoint) as channel:
        reply = trace_service_pb2_grpc.TraceServiceStub(channel).Export(req, timeout=120)
    assert reply.partial_success.rejected_spans == 2
    message = reply.partial_success.error_message
    assert "MODELTEL_MAX_SPAN_ROWS" in message and "MODELTEL_MAX_ATTRIBUTE_KEY_BYTES" in message
    assert ids_of(server.store) == ["grpc-ok"]
