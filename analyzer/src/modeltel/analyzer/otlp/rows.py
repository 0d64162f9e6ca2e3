"""Decoded OTLP requests → column data for the exporter's tables.

Each ``*_columns`` function returns ``(columns, rejected, message)``: a dict of column name →
list of values in the exporter's encodings (see :mod:`.values`), how many records were
rejected and why. Spans go to the ``otel_traces_ingest`` staging table, which carries extra
columns: ``SpanAttributesF64`` hands double arrays to ClickHouse as numbers, formatted there
(the staging view writes the same strings into ``otel_traces``), because formatting thousands
of floats per span in Python would cap batch ingest; the ``Ml*`` columns carry the span's
typed ml projection (:mod:`.projection`), so ClickHouse need not parse it back from strings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from modeltel.analyzer.otlp.projection import project
from modeltel.analyzer.otlp.values import (
    SPAN_KINDS,
    STATUS_CODES,
    as_string,
    attributes_map,
    go_float,
    service_name,
)

Columns = dict[str, list[Any]]

# ArrayValue wire layout of n non-null doubles: n × (0x0a, 0x09, 0x21, <8-byte double>).
_DOUBLE_ELEMENT = np.dtype([("tag", "u1"), ("size", "u1"), ("kind", "u1"), ("value", "<f8")])
_MIN_FAST_ARRAY = 16


def _double_array(value: Any) -> np.ndarray | None:
    """The doubles of an all-double, all-finite ``array_value``, or None (slow path)."""
    items = value.array_value.values
    if len(items) < _MIN_FAST_ARRAY:
        return None
    raw = value.array_value.SerializeToString()
    if len(raw) != 11 * len(items):
        return None
    elements = np.frombuffer(raw, dtype=_DOUBLE_ELEMENT)
    if not (
        (elements["tag"] == 0x0A).all()
        and (elements["size"] == 9).all()
        and (elements["kind"] == 0x21).all()
    ):
        return None
    doubles = elements["value"]
    if not np.isfinite(doubles).all():
        return None
    return doubles


def _span_attributes(
    attributes: Any,
) -> tuple[dict[str, str], dict[str, np.ndarray], dict[str, float]]:
    """Split span attributes into exporter strings and double arrays left for ClickHouse;
    also return the value of each scalar double attribute."""
    strings: dict[str, str] = {}
    doubles: dict[str, np.ndarray] = {}
    scalars: dict[str, float] = {}
    for kv in attributes:
        value = kv.value
        kind = value.WhichOneof("value")
        if kind == "string_value":
            strings[kv.key] = value.string_value
        elif kind == "double_value":
            number = value.double_value
            strings[kv.key] = go_float(number)
            scalars[kv.key] = number
        elif kind == "array_value":
            fast = _double_array(value)
            if fast is None:
                strings[kv.key] = as_string(value)
            else:
                doubles[kv.key] = fast
        else:
            strings[kv.key] = as_string(value)
    if doubles and len(doubles) + len(strings) > len(attributes):
        # A key repeated with different kinds: the last occurrence wins, as in pdata.
        for kv in attributes:
            if kv.key in doubles and kv.key in strings:
                last = [x for x in attributes if x.key == kv.key][-1]
                if last.value.WhichOneof("value") == "array_value" and (
                    _double_array(last.value) is not None
                ):
                    del strings[kv.key]
                else:
                    del doubles[kv.key]
    return strings, doubles, scalars


def _valid_id(raw: bytes, size: int) -> bool:
    return len(raw) in (0, size)


MAX_TIME_NS = 2**63 - 1
"""Latest time ``DateTime64(9)`` holds (2262-04-11); later uint64 times are rejected."""
_LATE = "a timestamp after 2262-04-11 (beyond DateTime64(9))"


TRACE_COLUMNS = (
    "Timestamp",
    "TraceId",
    "SpanId",
    "ParentSpanId",
    "TraceState",
    "SpanName",
    "SpanKind",
    "ServiceName",
    "ResourceAttributes",
    "ScopeName",
    "ScopeVersion",
    "SpanAttributes",
    "SpanAttributesF64",
    "Duration",
    "StatusCode",
    "StatusMessage",
    "Events.Timestamp",
    "Events.Name",
    "Events.Attributes",
    "Links.TraceId",
    "Links.SpanId",
    "Links.TraceState",
    "Links.Attributes",
    "Ml",
)
"""Staging columns; ``Ml`` holds each span's :class:`Projection` (expanded when encoding)."""


def trace_columns(request: ExportTraceServiceRequest) -> tuple[Columns, int, str]:
    """Spans → columns of ``otel_traces_ingest``."""
    cols: Columns = {name: [] for name in TRACE_COLUMNS}
    rejected = 0
    problem = ""
    for resource_spans in request.resource_spans:
        resource_attrs = attributes_map(resource_spans.resource.attributes)
        service = service_name(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope_name = scope_spans.scope.name
            scope_version = scope_spans.scope.version
            for span in scope_spans.spans:
                if not (
                    len(span.trace_id) == 16
                    and len(span.span_id) == 8
                    and _valid_id(span.parent_span_id, 8)
                ):
                    rejected += 1
                    problem = "span with a trace id not of 16 bytes or a span id not of 8 bytes"
                    continue
                if span.start_time_unix_nano > MAX_TIME_NS or any(
                    e.time_unix_nano > MAX_TIME_NS for e in span.events
                ):
                    rejected += 1
                    problem = f"span with {_LATE}"
                    continue
                strings, doubles, scalars = _span_attributes(span.attributes)
                span_id = span.span_id.hex()
                start = span.start_time_unix_nano
                end = span.end_time_unix_nano
                cols["Timestamp"].append(start)
                cols["TraceId"].append(span.trace_id.hex())
                cols["SpanId"].append(span_id)
                cols["ParentSpanId"].append(span.parent_span_id.hex())
                cols["TraceState"].append(span.trace_state)
                cols["SpanName"].append(span.name)
                kind = span.kind
                cols["SpanKind"].append(SPAN_KINDS[kind] if 0 <= kind < 6 else "Unspecified")
                cols["ServiceName"].append(service)
                cols["ResourceAttributes"].append(resource_attrs)
                cols["ScopeName"].append(scope_name)
                cols["ScopeVersion"].append(scope_version)
                cols["SpanAttributes"].append(strings)
                cols["SpanAttributesF64"].append(doubles)
                cols["Duration"].append(end - start if end > start else 0)
                code = span.status.code
                cols["StatusCode"].append(STATUS_CODES[code] if 0 <= code < 3 else "Unset")
                cols["StatusMessage"].append(span.status.message)
                events = span.events
                cols["Events.Timestamp"].append([e.time_unix_nano for e in events])
                cols["Events.Name"].append([e.name for e in events])
                cols["Events.Attributes"].append([attributes_map(e.attributes) for e in events])
                links = span.links
                cols["Links.TraceId"].append([link.trace_id.hex() for link in links])
                cols["Links.SpanId"].append([link.span_id.hex() for link in links])
                cols["Links.TraceState"].append([link.trace_state for link in links])
                cols["Links.Attributes"].append([attributes_map(link.attributes) for link in links])
                cols["Ml"].append(project(span_id, strings, doubles, scalars))
    return cols, rejected, problem


LOG_COLUMNS = (
    "Timestamp",
    "TraceId",
    "SpanId",
    "TraceFlags",
    "SeverityText",
    "SeverityNumber",
    "ServiceName",
    "Body",
    "ResourceSchemaUrl",
    "ResourceAttributes",
    "ScopeSchemaUrl",
    "ScopeName",
    "ScopeVersion",
    "ScopeAttributes",
    "LogAttributes",
    "EventName",
)


def log_columns(request: ExportLogsServiceRequest) -> tuple[Columns, int, str]:
    """Log records → columns of ``otel_logs`` (``TimestampTime`` is the table's DEFAULT)."""
    cols: Columns = {name: [] for name in LOG_COLUMNS}
    rejected = 0
    problem = ""
    for resource_logs in request.resource_logs:
        resource_attrs = attributes_map(resource_logs.resource.attributes)
        service = service_name(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope
            scope_attrs = attributes_map(scope.attributes)
            for record in scope_logs.log_records:
                if not (_valid_id(record.trace_id, 16) and _valid_id(record.span_id, 8)):
                    rejected += 1
                    problem = "log record with a trace id not of 16 bytes or a span id not of 8"
                    continue
                timestamp = record.time_unix_nano or record.observed_time_unix_nano
                if timestamp > MAX_TIME_NS:
                    rejected += 1
                    problem = f"log record with {_LATE}"
                    continue
                cols["Timestamp"].append(timestamp)
                cols["TraceId"].append(record.trace_id.hex())
                cols["SpanId"].append(record.span_id.hex())
                cols["TraceFlags"].append(record.flags & 0xFF)
                cols["SeverityText"].append(record.severity_text)
                cols["SeverityNumber"].append(max(0, min(255, record.severity_number)))
                cols["ServiceName"].append(service)
                cols["Body"].append(as_string(record.body))
                cols["ResourceSchemaUrl"].append(resource_logs.schema_url)
                cols["ResourceAttributes"].append(resource_attrs)
                cols["ScopeSchemaUrl"].append(scope_logs.schema_url)
                cols["ScopeName"].append(scope.name)
                cols["ScopeVersion"].append(scope.version)
                cols["ScopeAttributes"].append(scope_attrs)
                cols["LogAttributes"].append(attributes_map(record.attributes))
                cols["EventName"].append(getattr(record, "event_name", ""))
    return cols, rejected, problem


_METRIC_HEAD = (
    "ResourceAttributes",
    "ResourceSchemaUrl",
    "ScopeName",
    "ScopeVersion",
    "ScopeAttributes",
    "ScopeDroppedAttrCount",
    "ScopeSchemaUrl",
    "ServiceName",
    "MetricName",
    "MetricDescription",
    "MetricUnit",
    "Attributes",
    "StartTimeUnix",
    "TimeUnix",
)
_EXEMPLARS = (
    "Exemplars.FilteredAttributes",
    "Exemplars.TimeUnix",
    "Exemplars.Value",
    "Exemplars.SpanId",
    "Exemplars.TraceId",
)
METRIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "otel_metrics_gauge": (*_METRIC_HEAD, "Value", "Flags", *_EXEMPLARS),
    "otel_metrics_sum": (
        *_METRIC_HEAD,
        "Value",
        "Flags",
        *_EXEMPLARS,
        "AggregationTemporality",
        "IsMonotonic",
    ),
    "otel_metrics_histogram": (
        *_METRIC_HEAD,
        "Count",
        "Sum",
        "BucketCounts",
        "ExplicitBounds",
        *_EXEMPLARS,
        "Flags",
        "Min",
        "Max",
        "AggregationTemporality",
    ),
    "otel_metrics_exponential_histogram": (
        *_METRIC_HEAD,
        "Count",
        "Sum",
        "Scale",
        "ZeroCount",
        "PositiveOffset",
        "PositiveBucketCounts",
        "NegativeOffset",
        "NegativeBucketCounts",
        *_EXEMPLARS,
        "Flags",
        "Min",
        "Max",
        "AggregationTemporality",
    ),
    "otel_metrics_summary": (
        *_METRIC_HEAD,
        "Count",
        "Sum",
        "ValueAtQuantiles.Quantile",
        "ValueAtQuantiles.Value",
        "Flags",
    ),
}


def _number(point: Any) -> float:
    return float(point.as_int) if point.WhichOneof("value") == "as_int" else point.as_double


def _exemplars(point: Any) -> dict[str, list[Any]]:
    items = point.exemplars
    return {
        "Exemplars.FilteredAttributes": [attributes_map(e.filtered_attributes) for e in items],
        "Exemplars.TimeUnix": [e.time_unix_nano for e in items],
        "Exemplars.Value": [_number(e) for e in items],
        "Exemplars.SpanId": [e.span_id.hex() for e in items],
        "Exemplars.TraceId": [e.trace_id.hex() for e in items],
    }


def metric_columns(request: ExportMetricsServiceRequest) -> tuple[dict[str, Columns], int, str]:
    """Metric data points → columns per ``otel_metrics_*`` table."""
    tables: dict[str, Columns] = {
        name: {col: [] for col in cols} for name, cols in METRIC_COLUMNS.items()
    }
    rejected = 0
    problem = ""
    for resource_metrics in request.resource_metrics:
        resource_attrs = attributes_map(resource_metrics.resource.attributes)
        service = service_name(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            head_common = {
                "ResourceAttributes": resource_attrs,
                "ResourceSchemaUrl": resource_metrics.schema_url,
                "ScopeName": scope.name,
                "ScopeVersion": scope.version,
                "ScopeAttributes": attributes_map(scope.attributes),
                "ScopeDroppedAttrCount": scope.dropped_attributes_count,
                "ScopeSchemaUrl": scope_metrics.schema_url,
                "ServiceName": service,
            }
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    rejected += 1
                    problem = f"metric {metric.name!r} has no data"
                    continue
                head = {
                    **head_common,
                    "MetricName": metric.name,
                    "MetricDescription": metric.description,
                    "MetricUnit": metric.unit,
                }
                data = getattr(metric, kind)
                for point in data.data_points:
                    if (
                        max(
                            point.start_time_unix_nano,
                            point.time_unix_nano,
                            *(e.time_unix_nano for e in getattr(point, "exemplars", ())),
                        )
                        > MAX_TIME_NS
                    ):
                        rejected += 1
                        problem = f"data point of {metric.name!r} with {_LATE}"
                        continue
                    row = dict(head)
                    row["Attributes"] = attributes_map(point.attributes)
                    row["StartTimeUnix"] = point.start_time_unix_nano
                    row["TimeUnix"] = point.time_unix_nano
                    row["Flags"] = point.flags
                    if kind in ("gauge", "sum"):
                        row["Value"] = _number(point)
                        row.update(_exemplars(point))
                        if kind == "sum":
                            row["AggregationTemporality"] = data.aggregation_temporality
                            row["IsMonotonic"] = data.is_monotonic
                        table = f"otel_metrics_{kind}"
                    elif kind == "histogram":
                        row.update(
                            Count=point.count,
                            Sum=point.sum,
                            BucketCounts=list(point.bucket_counts),
                            ExplicitBounds=list(point.explicit_bounds),
                            Min=point.min,
                            Max=point.max,
                            AggregationTemporality=data.aggregation_temporality,
                        )
                        row.update(_exemplars(point))
                        table = "otel_metrics_histogram"
                    elif kind == "exponential_histogram":
                        row.update(
                            Count=point.count,
                            Sum=point.sum,
                            Scale=point.scale,
                            ZeroCount=point.zero_count,
                            PositiveOffset=point.positive.offset,
                            PositiveBucketCounts=list(point.positive.bucket_counts),
                            NegativeOffset=point.negative.offset,
                            NegativeBucketCounts=list(point.negative.bucket_counts),
                            Min=point.min,
                            Max=point.max,
                            AggregationTemporality=data.aggregation_temporality,
                        )
                        row.update(_exemplars(point))
                        table = "otel_metrics_exponential_histogram"
                    else:  # summary
                        quantiles = point.quantile_values
                        row.update(
                            Count=point.count,
                            Sum=point.sum,
                            **{
                                "ValueAtQuantiles.Quantile": [q.quantile for q in quantiles],
                                "ValueAtQuantiles.Value": [q.value for q in quantiles],
                            },
                        )
                        table = "otel_metrics_summary"
                    target = tables[table]
                    for col in target:
                        target[col].append(row[col])
    return {name: cols for name, cols in tables.items() if cols["MetricName"]}, rejected, problem
