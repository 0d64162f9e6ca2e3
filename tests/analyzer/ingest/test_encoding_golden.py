"""Attribute values are stored exactly as the collector's ClickHouse exporter stores them
(pdata ``Value.AsString``), whether formatted in Python or, for large double arrays, by the
staging view in ClickHouse."""

from __future__ import annotations

import math

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from modeltel.analyzer.ingest.values import as_string, go_float

# (value, string Go's strconv/encoding/json produce: ES6 number formatting)
GO_FLOATS = [
    (1.0, "1"),
    (-0.0, "-0"),
    (0.0, "0"),
    (0.1, "0.1"),
    (1.5, "1.5"),
    (-2.25, "-2.25"),
    (1e20, "100000000000000000000"),
    (1e21, "1e+21"),
    (1.5e21, "1.5e+21"),
    (123456789012345680000.0, "123456789012345680000"),
    (1e-6, "0.000001"),
    (1e-7, "1e-7"),
    (1.5e-7, "1.5e-7"),
    (1.2345e-10, "1.2345e-10"),
    (5e-324, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (2.0**53, "9007199254740992"),
    (1e16, "10000000000000000"),
    (0.30000000000000004, "0.30000000000000004"),
    (float("nan"), "json: unsupported value: NaN"),
    (float("inf"), "json: unsupported value: +Inf"),
    (float("-inf"), "json: unsupported value: -Inf"),
]


@pytest.mark.parametrize(("value", "expected"), GO_FLOATS)
def test_go_float(value: float, expected: str) -> None:
    assert go_float(value) == expected


def arr(*values: AnyValue) -> AnyValue:
    return AnyValue(array_value=ArrayValue(values=list(values)))


def kvlist(**values: AnyValue) -> AnyValue:
    return AnyValue(
        kvlist_value=KeyValueList(values=[KeyValue(key=k, value=v) for k, v in values.items()])
    )


def S(v: str) -> AnyValue:
    return AnyValue(string_value=v)


def Int(v: int) -> AnyValue:
    return AnyValue(int_value=v)


def D(v: float) -> AnyValue:
    return AnyValue(double_value=v)


def B(v: bool) -> AnyValue:
    return AnyValue(bool_value=v)


GOLDEN = [
    (S("plain"), "plain"),
    (S(""), ""),
    (Int(-42), "-42"),
    (Int(9223372036854775807), "9223372036854775807"),
    (D(3.0), "3"),
    (B(True), "true"),
    (B(False), "false"),
    (AnyValue(bytes_value=b"\x00\xffmodel"), "AP9tb2RlbA=="),
    (AnyValue(), ""),
    (arr(D(1.0), AnyValue(), D(2.5)), "[1,null,2.5]"),
    (arr(S("a"), S('q"uote'), S("<tag>&"), AnyValue()), '["a","q\\"uote","<tag>&",null]'),
    (arr(Int(1), B(True), S("x")), '[1,true,"x"]'),
    (arr(D(1e21), D(1e-7)), "[1e+21,1e-7]"),
    (arr(D(1.0), D(math.nan)), ""),
    (arr(), "[]"),
    (kvlist(b=Int(2), a=S("x")), '{"a":"x","b":2}'),
    (kvlist(nested=arr(D(0.5)), flag=B(False)), '{"flag":false,"nested":[0.5]}'),
    (arr(S("line\nbreak\ttab\u2028")), '["line\\nbreak\\ttab\\u2028"]'),
    (arr(AnyValue(bytes_value=b"hi")), '["aGk="]'),
]


@pytest.mark.parametrize(("value", "expected"), GOLDEN)
def test_as_string(value: AnyValue, expected: str) -> None:
    assert as_string(value) == expected


def test_large_double_arrays_formatted_in_clickhouse_match_python(server) -> None:
    """Arrays long enough for the numeric fast path are formatted by the staging view."""
    import numpy as np
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    rng = np.random.default_rng(7)
    magnitudes = 10.0 ** rng.integers(-12, 25, 64)
    values = [*(rng.normal(size=64) * magnitudes).tolist(), 1.0, 0.0, -0.0, 1e21, 1e-7, 2.5]
    provider = TracerProvider()
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=server.url + "/v1/traces"))
    )
    with provider.get_tracer("t").start_as_current_span(
        "predict m", attributes={"ml.feature.big": values, "ml.feature.small": values[:3]}
    ):
        pass
    provider.shutdown()
    stored = server.store.query_rows("SELECT SpanAttributes FROM otel_traces")[0][0]
    expected = as_string(arr(*(D(v) for v in values)))
    assert stored["ml.feature.big"] == expected
    assert stored["ml.feature.small"] == as_string(arr(*(D(v) for v in values[:3])))
