"""Hypothesis strategies for hostile OTLP payloads: structurally valid requests with extreme
values, byte-level mutations of their protobuf encoding, arbitrary JSON shaped like OTLP/JSON
and broken compression. Used by the fuzz tests and by ``bench/fuzz_otlp.py``."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1 import metrics_pb2 as m
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

U64 = st.one_of(
    st.integers(0, 2**64 - 1),
    st.sampled_from([0, 1, 2**63 - 1, 2**63, 2**64 - 1, 1_700_000_000_000_000_000]),
)
I64 = st.integers(-(2**63), 2**63 - 1)
I32 = st.integers(-(2**31), 2**31 - 1)
DOUBLE = st.floats(allow_nan=True, allow_infinity=True)
TEXT = st.text(max_size=24)
KEYS = st.one_of(
    st.sampled_from(
        [
            "ml.model.name",
            "ml.model.version",
            "ml.task",
            "ml.prediction.id",
            "ml.feature.age",
            "ml.feature.plan",
            "ml.feature.categorical",
            "ml.prediction.label",
            "ml.prediction.score",
            "ml.prediction.value",
            "ml.batch.size",
            "ml.label",
            "ml.label.value",
            "service.name",
            "event.name",
        ]
    ),
    TEXT,
)


def _scalar() -> st.SearchStrategy[AnyValue]:
    return st.one_of(
        st.builds(lambda v: AnyValue(string_value=v), TEXT),
        st.builds(lambda v: AnyValue(bool_value=v), st.booleans()),
        st.builds(lambda v: AnyValue(int_value=v), I64),
        st.builds(lambda v: AnyValue(double_value=v), DOUBLE),
        st.builds(lambda v: AnyValue(bytes_value=v), st.binary(max_size=12)),
        st.just(AnyValue()),
    )


ANY_VALUE: st.SearchStrategy[AnyValue] = st.recursive(
    _scalar(),
    lambda inner: st.one_of(
        st.builds(
            lambda vs: AnyValue(array_value=ArrayValue(values=vs)), st.lists(inner, max_size=6)
        ),
        st.builds(
            lambda kvs: AnyValue(kvlist_value=KeyValueList(values=kvs)),
            st.lists(st.builds(lambda k, v: KeyValue(key=k, value=v), KEYS, inner), max_size=3),
        ),
    ),
    max_leaves=8,
)
DOUBLE_ARRAYS = st.builds(
    lambda vs: AnyValue(array_value=ArrayValue(values=[AnyValue(double_value=v) for v in vs])),
    st.lists(DOUBLE, min_size=16, max_size=18),  # the receiver's fast path for double arrays
)
ATTRIBUTES = st.lists(
    st.builds(lambda k, v: KeyValue(key=k, value=v), KEYS, st.one_of(ANY_VALUE, DOUBLE_ARRAYS)),
    max_size=5,
)
IDS = st.one_of(st.binary(min_size=16, max_size=16), st.binary(max_size=20))
SPAN_IDS = st.one_of(st.binary(min_size=8, max_size=8), st.binary(max_size=10))
RESOURCE = st.builds(lambda a: Resource(attributes=a), ATTRIBUTES)
SCOPE = st.builds(lambda n, v: InstrumentationScope(name=n, version=v), TEXT, TEXT)

SPAN = st.builds(
    lambda trace_id, span_id, parent, name, kind, start, end, attrs, code, message, events, links: (
        Span(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent,
            name=name,
            kind=kind,
            start_time_unix_nano=start,
            end_time_unix_nano=end,
            attributes=attrs,
            status=Status(code=code, message=message),
            events=events,
            links=links,
        )
    ),
    IDS,
    SPAN_IDS,
    st.one_of(st.just(b""), SPAN_IDS),
    TEXT,
    I32,
    U64,
    U64,
    ATTRIBUTES,
    I32,
    TEXT,
    st.lists(
        st.builds(
            lambda t, n, a: Span.Event(time_unix_nano=t, name=n, attributes=a),
            U64,
            TEXT,
            ATTRIBUTES,
        ),
        max_size=1,
    ),
    st.lists(
        st.builds(
            lambda t, s, a: Span.Link(trace_id=t, span_id=s, attributes=a),
            IDS,
            SPAN_IDS,
            ATTRIBUTES,
        ),
        max_size=1,
    ),
)
TRACES = st.builds(
    lambda resource, scope, spans: ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(resource=resource, scope_spans=[ScopeSpans(scope=scope, spans=spans)])
        ]
    ),
    RESOURCE,
    SCOPE,
    st.lists(SPAN, max_size=3),
)

LOG = st.builds(
    lambda t, o, sev, text, body, attrs, trace_id, span_id, flags, event: LogRecord(
        time_unix_nano=t,
        observed_time_unix_nano=o,
        severity_number=sev,
        severity_text=text,
        body=body,
        attributes=attrs,
        trace_id=trace_id,
        span_id=span_id,
        flags=flags,
        event_name=event,
    ),
    U64,
    U64,
    I32,
    TEXT,
    ANY_VALUE,
    ATTRIBUTES,
    IDS,
    SPAN_IDS,
    st.integers(0, 2**32 - 1),
    st.one_of(st.just("ml.label"), TEXT),
)
LOGS = st.builds(
    lambda resource, scope, records: ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=resource, scope_logs=[ScopeLogs(scope=scope, log_records=records)]
            )
        ]
    ),
    RESOURCE,
    SCOPE,
    st.lists(LOG, max_size=3),
)


def _number_point(attrs, start, time, value, as_int, flags):
    point = m.NumberDataPoint(attributes=attrs, start_time_unix_nano=start, time_unix_nano=time)
    if as_int is not None:
        point.as_int = as_int
    else:
        point.as_double = value
    point.flags = flags
    return point


NUMBER_POINT = st.builds(
    _number_point, ATTRIBUTES, U64, U64, DOUBLE, st.one_of(st.none(), I64), st.integers(0, 3)
)
HISTOGRAM_POINT = st.builds(
    lambda attrs, t, count, total, buckets, bounds, lo, hi: m.HistogramDataPoint(
        attributes=attrs,
        time_unix_nano=t,
        count=count,
        sum=total,
        bucket_counts=buckets,
        explicit_bounds=bounds,  # lengths deliberately not matched to the buckets
        min=lo,
        max=hi,
    ),
    ATTRIBUTES,
    U64,
    U64,
    DOUBLE,
    st.lists(U64, max_size=6),
    st.lists(DOUBLE, max_size=6),
    DOUBLE,
    DOUBLE,
)
EXP_POINT = st.builds(
    lambda attrs, t, count, scale, zero, offset, buckets: m.ExponentialHistogramDataPoint(
        attributes=attrs,
        time_unix_nano=t,
        count=count,
        scale=scale,
        zero_count=zero,
        positive=m.ExponentialHistogramDataPoint.Buckets(offset=offset, bucket_counts=buckets),
        negative=m.ExponentialHistogramDataPoint.Buckets(offset=-offset, bucket_counts=buckets),
    ),
    ATTRIBUTES,
    U64,
    U64,
    I32,
    U64,
    st.integers(-(2**31) + 1, 2**31 - 1),
    st.lists(U64, max_size=6),
)
SUMMARY_POINT = st.builds(
    lambda attrs, t, count, total, qs: m.SummaryDataPoint(
        attributes=attrs,
        time_unix_nano=t,
        count=count,
        sum=total,
        quantile_values=[m.SummaryDataPoint.ValueAtQuantile(quantile=q, value=v) for q, v in qs],
    ),
    ATTRIBUTES,
    U64,
    U64,
    DOUBLE,
    st.lists(st.tuples(DOUBLE, DOUBLE), max_size=4),
)


def _metric(name, unit, kind, points, temporality, monotonic):
    metric = m.Metric(name=name, unit=unit, description="fuzz")
    if kind == "gauge":
        metric.gauge.data_points.extend(points[0])
    elif kind == "sum":
        metric.sum.data_points.extend(points[0])
        metric.sum.aggregation_temporality = temporality
        metric.sum.is_monotonic = monotonic
    elif kind == "histogram":
        metric.histogram.data_points.extend(points[1])
        metric.histogram.aggregation_temporality = temporality
    elif kind == "exponential":
        metric.exponential_histogram.data_points.extend(points[2])
        metric.exponential_histogram.aggregation_temporality = temporality
    elif kind == "summary":
        metric.summary.data_points.extend(points[3])
    return metric


METRIC = st.builds(
    _metric,
    st.one_of(st.sampled_from(["ml.predictions", "ml.drift.score"]), TEXT),
    TEXT,
    st.sampled_from(["gauge", "sum", "histogram", "exponential", "summary", "empty"]),
    st.tuples(
        st.lists(NUMBER_POINT, max_size=2),
        st.lists(HISTOGRAM_POINT, max_size=2),
        st.lists(EXP_POINT, max_size=2),
        st.lists(SUMMARY_POINT, max_size=2),
    ),
    I32,
    st.booleans(),
)
METRICS = st.builds(
    lambda resource, scope, metrics: ExportMetricsServiceRequest(
        resource_metrics=[
            m.ResourceMetrics(
                resource=resource, scope_metrics=[m.ScopeMetrics(scope=scope, metrics=metrics)]
            )
        ]
    ),
    RESOURCE,
    SCOPE,
    st.lists(METRIC, max_size=2),
)

REQUESTS = {"traces": TRACES, "logs": LOGS, "metrics": METRICS}


# -- byte mutations ---------------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, body: bytes) -> bytes:
    """``body`` after 1–4 random edits: bit flips, truncation, insertion, deletion,
    duplication, overwrite with varint-looking bytes."""
    data = bytearray(body)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "dup", "varint"]))
        at = draw(st.integers(0, len(data))) if data else 0
        if op == "flip" and data:
            at = min(at, len(data) - 1)
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif op == "dup":
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
        elif op == "varint":
            data[at:at] = draw(
                st.sampled_from([b"\xff" * 10, b"\x80" * 11, b"\x0a\xff\xff\xff\x0f"])
            )
    return bytes(data)


# -- JSON ------------------------------------------------------------------------------------

JSON_KEYS = st.one_of(
    st.sampled_from(
        [
            "resourceSpans",
            "resourceLogs",
            "resourceMetrics",
            "resource",
            "attributes",
            "scopeSpans",
            "scopeLogs",
            "scopeMetrics",
            "spans",
            "logRecords",
            "metrics",
            "traceId",
            "spanId",
            "parentSpanId",
            "name",
            "kind",
            "startTimeUnixNano",
            "endTimeUnixNano",
            "timeUnixNano",
            "key",
            "value",
            "stringValue",
            "intValue",
            "doubleValue",
            "boolValue",
            "arrayValue",
            "kvlistValue",
            "bytesValue",
            "values",
            "body",
            "gauge",
            "sum",
            "histogram",
            "dataPoints",
            "asDouble",
            "asInt",
            "bucketCounts",
            "explicitBounds",
            "status",
            "code",
        ]
    ),
    st.text(max_size=8),
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["NaN", "Infinity", "-1", "18446744073709551616", "5b8efff798038103", "zz"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(JSON_KEYS, inner, max_size=6)
    ),
    max_leaves=40,
)


def json_document(request_key: str) -> st.SearchStrategy[Any]:
    """Arbitrary JSON, most of it starting like an OTLP/JSON request of that signal."""
    return st.one_of(
        JSON_VALUES,
        st.dictionaries(st.just(request_key), JSON_VALUES, min_size=1),
        st.builds(
            lambda spans: {request_key: [{"scopeSpans": [{"spans": spans}]}]},
            st.lists(st.dictionaries(JSON_KEYS, JSON_VALUES, max_size=8), max_size=3),
        ),
    )


def deep_json(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


JSON_ROOT_KEY = {"traces": "resourceSpans", "logs": "resourceLogs", "metrics": "resourceMetrics"}


@st.composite
def json_bodies(draw: st.DrawFn, signal: str) -> bytes:
    """OTLP/JSON-ish bodies: valid JSON of any shape, then sometimes broken bytes."""
    document = draw(json_document(JSON_ROOT_KEY[signal]))
    text = json.dumps(document).encode()
    how = draw(st.sampled_from(["as is", "as is", "mutate", "bad utf-8", "deep"]))
    if how == "mutate":
        return draw(mutated(text))
    if how == "bad utf-8":
        at = draw(st.integers(0, len(text)))
        return (
            text[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"])) + text[at:]
        )
    if how == "deep":
        return deep_json(draw(st.integers(100, 50_000)))
    return text


@st.composite
def compressed(draw: st.DrawFn, body: bytes) -> tuple[bytes, str]:
    """``body`` gzip- or deflate-encoded, then maybe corrupted or mislabelled."""
    encoding = draw(st.sampled_from(["gzip", "deflate", "gzip", "br", "identity"]))
    data = gzip.compress(body) if encoding != "deflate" else zlib.compress(body)
    how = draw(st.sampled_from(["intact", "mutate", "truncate", "random"]))
    if how == "mutate":
        data = draw(mutated(data))
    elif how == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif how == "random":
        data = draw(st.binary(max_size=200))
    return data, encoding
