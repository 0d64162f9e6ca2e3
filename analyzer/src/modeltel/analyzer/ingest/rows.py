"""Decoded OTLP requests → column data for the exporter's tables.

Each ``*_columns`` function returns ``(columns, rejected, message)``: a dict of column name →
list of values in the exporter's encodings (see :mod:`.values`), how many records were
rejected and why. Spans go to the ``otel_traces_ingest`` staging table, which carries extra
columns: ``SpanAttributesF64`` hands double arrays to ClickHouse as numbers, formatted there
(the staging view writes the same strings into ``otel_traces``), because formatting thousands
of floats per span in Python would cap batch ingest; the ``Ml*`` columns carry the span's
typed ml projection (:mod:`.projection`), so ClickHouse need not parse it back from strings.

Every function takes the :class:`~modeltel.analyzer.base.limits.Limits` to apply and,
optionally, a :class:`~modeltel.analyzer.base.limits.Rejections` that receives the per-reason
counts. A record (or the records of a resource or scope) breaking an attribute limit is
refused before it is converted; a prediction span breaking a row limit (its own, or the
request's share of ``max_projected_rows``, spent in order) keeps its ``otel_traces`` row and
gets an empty projection carrying the reason, so memory never follows what a span declares.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from modeltel.analyzer.base.limits import (
    DEFAULT_LIMITS,
    SKIPPED_REASONS,
    LimitExceeded,
    Limits,
    Rejections,
    exceeded,
)
from modeltel.analyzer.ingest.projection import Projection, project, shape, skipped, span_issue
from modeltel.analyzer.ingest.values import (
    SPAN_KINDS,
    STATUS_CODES,
    as_string,
    attributes_map,
    check_key,
    check_text,
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
    attributes: Any, limits: Limits = DEFAULT_LIMITS
) -> tuple[dict[str, str], dict[str, np.ndarray], dict[str, float]]:
    """Split span attributes into exporter strings and double arrays left for ClickHouse;
    also return the value of each scalar double attribute. LimitExceeded past ``limits``."""
    if len(attributes) > limits.max_attributes:
        raise exceeded(limits, "attributes", "span has", len(attributes), " attributes")
    strings: dict[str, str] = {}
    doubles: dict[str, np.ndarray] = {}
    scalars: dict[str, float] = {}
    max_rows = limits.max_span_rows
    for kv in attributes:
        key = kv.key
        check_key(key, limits)
        value = kv.value
        kind = value.WhichOneof("value")
        if kind == "string_value":
            text = value.string_value
            check_text(text, key, limits)
            strings[key] = text
        elif kind == "double_value":
            number = value.double_value
            strings[key] = go_float(number)
            scalars[key] = number
        elif kind == "array_value":
            fast = _double_array(value) if len(value.array_value.values) <= max_rows else None
            if fast is None:
                strings[key] = as_string(value, key, limits)
            else:
                doubles[key] = fast
        else:
            strings[key] = as_string(value, key, limits)
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


def _projection(
    span_id: str,
    attributes: tuple[dict[str, str], dict[str, np.ndarray], dict[str, float]],
    limits: Limits,
    budget: list[int],
    tally: Rejections,
) -> Projection:
    """The span's projection within its row limits and the request's remaining ``budget``."""
    strings, doubles, scalars = attributes
    if not strings.get("ml.model.name"):
        return Projection()
    found = shape(strings, doubles)
    reason, size, limit, message = span_issue(found, limits)
    if reason not in SKIPPED_REASONS and found.projected > budget[0]:
        spent = limits.max_projected_rows - budget[0]
        reason, size, limit = "request_rows", spent + found.projected, limits.max_projected_rows
        message = exceeded(
            limits, reason, "the prediction spans of one request would write", size, " ml rows"
        ).message
    if reason in SKIPPED_REASONS:
        tally.add(reason, f"{message}: stored in otel_traces, not projected")
        return skipped(strings, found, reason, size, limit)
    budget[0] -= found.projected
    return project(span_id, strings, doubles, scalars, found)


def trace_columns(
    request: ExportTraceServiceRequest,
    limits: Limits = DEFAULT_LIMITS,
    rejections: Rejections | None = None,
) -> tuple[Columns, int, str]:
    """Spans → columns of ``otel_traces_ingest``."""
    cols: Columns = {name: [] for name in TRACE_COLUMNS}
    tally = rejections if rejections is not None else Rejections()
    budget = [limits.max_projected_rows]
    for resource_spans in request.resource_spans:
        try:
            resource_attrs = attributes_map(
                resource_spans.resource.attributes, limits, "a resource"
            )
            service = service_name(resource_spans.resource.attributes, limits)
        except LimitExceeded as exc:
            count = sum(len(scope.spans) for scope in resource_spans.scope_spans)
            tally.add(exc.reason, f"{exc.message} (every span of it refused)", count)
            continue
        for scope_spans in resource_spans.scope_spans:
            scope_name = scope_spans.scope.name
            scope_version = scope_spans.scope.version
            for span in scope_spans.spans:
                if not (
                    len(span.trace_id) == 16
                    and len(span.span_id) == 8
                    and _valid_id(span.parent_span_id, 8)
                ):
                    tally.add(
                        "invalid_id",
                        "span with a trace id not of 16 bytes or a span id not of 8 bytes",
                    )
                    continue
                if span.start_time_unix_nano > MAX_TIME_NS or any(
                    e.time_unix_nano > MAX_TIME_NS for e in span.events
                ):
                    tally.add("time", f"span with {_LATE}")
                    continue
                events = span.events
                links = span.links
                try:
                    attributes = _span_attributes(span.attributes, limits)
                    event_attributes = [
                        attributes_map(e.attributes, limits, "an event") for e in events
                    ]
                    link_attributes = [
                        attributes_map(x.attributes, limits, "a link") for x in links
                    ]
                except LimitExceeded as exc:
                    tally.add(exc.reason, exc.message)
                    continue
                span_id = span.span_id.hex()
                ml = _projection(span_id, attributes, limits, budget, tally)
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
                cols["SpanAttributes"].append(attributes[0])
                cols["SpanAttributesF64"].append(attributes[1])
                cols["Duration"].append(end - start if end > start else 0)
                code = span.status.code
                cols["StatusCode"].append(STATUS_CODES[code] if 0 <= code < 3 else "Unset")
                cols["StatusMessage"].append(span.status.message)
                cols["Events.Timestamp"].append([e.time_unix_nano for e in events])
                cols["Events.Name"].append([e.name for e in events])
                cols["Events.Attributes"].append(event_attributes)
                cols["Links.TraceId"].append([link.trace_id.hex() for link in links])
                cols["Links.SpanId"].append([link.span_id.hex() for link in links])
                cols["Links.TraceState"].append([link.trace_state for link in links])
                cols["Links.Attributes"].append(link_attributes)
                cols["Ml"].append(ml)
    return cols, tally.total, tally.message("spans")


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


def log_columns(
    request: ExportLogsServiceRequest,
    limits: Limits = DEFAULT_LIMITS,
    rejections: Rejections | None = None,
) -> tuple[Columns, int, str]:
    """Log records → columns of ``otel_logs`` (``TimestampTime`` is the table's DEFAULT)."""
    cols: Columns = {name: [] for name in LOG_COLUMNS}
    tally = rejections if rejections is not None else Rejections()
    for resource_logs in request.resource_logs:
        try:
            resource_attrs = attributes_map(resource_logs.resource.attributes, limits, "a resource")
            service = service_name(resource_logs.resource.attributes, limits)
        except LimitExceeded as exc:
            count = sum(len(scope.log_records) for scope in resource_logs.scope_logs)
            tally.add(exc.reason, f"{exc.message} (every log record of it refused)", count)
            continue
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope
            try:
                scope_attrs = attributes_map(scope.attributes, limits, "a scope")
            except LimitExceeded as exc:
                message = f"{exc.message} (every log record of it refused)"
                tally.add(exc.reason, message, len(scope_logs.log_records))
                continue
            for record in scope_logs.log_records:
                if not (_valid_id(record.trace_id, 16) and _valid_id(record.span_id, 8)):
                    tally.add(
                        "invalid_id",
                        "log record with a trace id not of 16 bytes or a span id not of 8",
                    )
                    continue
                timestamp = record.time_unix_nano or record.observed_time_unix_nano
                if timestamp > MAX_TIME_NS:
                    tally.add("time", f"log record with {_LATE}")
                    continue
                try:
                    body = as_string(record.body, "body", limits)
                    log_attrs = attributes_map(record.attributes, limits, "a log record")
                except LimitExceeded as exc:
                    tally.add(exc.reason, exc.message)
                    continue
                cols["Timestamp"].append(timestamp)
                cols["TraceId"].append(record.trace_id.hex())
                cols["SpanId"].append(record.span_id.hex())
                cols["TraceFlags"].append(record.flags & 0xFF)
                cols["SeverityText"].append(record.severity_text)
                cols["SeverityNumber"].append(max(0, min(255, record.severity_number)))
                cols["ServiceName"].append(service)
                cols["Body"].append(body)
                cols["ResourceSchemaUrl"].append(resource_logs.schema_url)
                cols["ResourceAttributes"].append(resource_attrs)
                cols["ScopeSchemaUrl"].append(scope_logs.schema_url)
                cols["ScopeName"].append(scope.name)
                cols["ScopeVersion"].append(scope.version)
                cols["ScopeAttributes"].append(scope_attrs)
                cols["LogAttributes"].append(log_attrs)
                cols["EventName"].append(getattr(record, "event_name", ""))
    return cols, tally.total, tally.message("log records")


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


_WITH_EXEMPLARS = ("gauge", "sum", "histogram", "exponential_histogram")


def _number(point: Any) -> float:
    return float(point.as_int) if point.WhichOneof("value") == "as_int" else point.as_double


def _exemplars(point: Any, limits: Limits) -> dict[str, list[Any]]:
    items = point.exemplars
    return {
        "Exemplars.FilteredAttributes": [
            attributes_map(e.filtered_attributes, limits, "an exemplar") for e in items
        ],
        "Exemplars.TimeUnix": [e.time_unix_nano for e in items],
        "Exemplars.Value": [_number(e) for e in items],
        "Exemplars.SpanId": [e.span_id.hex() for e in items],
        "Exemplars.TraceId": [e.trace_id.hex() for e in items],
    }


def _points(metrics: Any) -> int:
    """Data points of the metrics ``metrics`` (to count what a refusal drops)."""
    count = 0
    for metric in metrics:
        kind = metric.WhichOneof("data")
        count += len(getattr(metric, kind).data_points) if kind else 1
    return count


def metric_columns(
    request: ExportMetricsServiceRequest,
    limits: Limits = DEFAULT_LIMITS,
    rejections: Rejections | None = None,
) -> tuple[dict[str, Columns], int, str]:
    """Metric data points → columns per ``otel_metrics_*`` table."""
    tables: dict[str, Columns] = {
        name: {col: [] for col in cols} for name, cols in METRIC_COLUMNS.items()
    }
    tally = rejections if rejections is not None else Rejections()
    for resource_metrics in request.resource_metrics:
        try:
            resource_attrs = attributes_map(
                resource_metrics.resource.attributes, limits, "a resource"
            )
            service = service_name(resource_metrics.resource.attributes, limits)
        except LimitExceeded as exc:
            count = sum(_points(scope.metrics) for scope in resource_metrics.scope_metrics)
            tally.add(exc.reason, f"{exc.message} (every data point of it refused)", count)
            continue
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            try:
                scope_attrs = attributes_map(scope.attributes, limits, "a scope")
            except LimitExceeded as exc:
                message = f"{exc.message} (every data point of it refused)"
                tally.add(exc.reason, message, _points(scope_metrics.metrics))
                continue
            head_common = {
                "ResourceAttributes": resource_attrs,
                "ResourceSchemaUrl": resource_metrics.schema_url,
                "ScopeName": scope.name,
                "ScopeVersion": scope.version,
                "ScopeAttributes": scope_attrs,
                "ScopeDroppedAttrCount": scope.dropped_attributes_count,
                "ScopeSchemaUrl": scope_metrics.schema_url,
                "ServiceName": service,
            }
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    tally.add("no_data", f"metric {metric.name!r} has no data")
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
                        tally.add("time", f"data point of {metric.name!r} with {_LATE}")
                        continue
                    try:
                        point_attrs = attributes_map(point.attributes, limits, "a data point")
                        exemplars = _exemplars(point, limits) if kind in _WITH_EXEMPLARS else {}
                    except LimitExceeded as exc:
                        tally.add(exc.reason, exc.message)
                        continue
                    row = dict(head)
                    row["Attributes"] = point_attrs
                    row["StartTimeUnix"] = point.start_time_unix_nano
                    row["TimeUnix"] = point.time_unix_nano
                    row["Flags"] = point.flags
                    if kind in ("gauge", "sum"):
                        row["Value"] = _number(point)
                        row.update(exemplars)
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
                        row.update(exemplars)
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
                        row.update(exemplars)
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
    kept = {name: cols for name, cols in tables.items() if cols["MetricName"]}
    return kept, tally.total, tally.message("data points")
