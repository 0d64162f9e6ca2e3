"""The collector-contrib clickhouseexporter's JSON schema, for tests: its tables as its JSON
templates create them, and rows as its two exporters store the same OTLP data.

The templates are copied from ``exporter/clickhouseexporter/internal/sqltemplates/`` of
github.com/open-telemetry/opentelemetry-collector-contrib (``traces_json_table.sql`` and
``logs_json_table.sql``), rendered as the exporter renders them with no cluster, engine
``MergeTree()`` and no TTL. The JSON exporter (``exporter_traces_json.go``,
``exporter_logs_json.go``) fills each attribute column with ``json.Marshal(attrs.AsRaw())``
(:func:`go_json`) and, when the table has them, each ``*Keys`` column with the attributes'
keys; the Map exporter stores ``Value.AsString()`` of each attribute
(:func:`modeltel.analyzer.ingest.values.as_string`).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from modeltel.analyzer.base.store import Store
from modeltel.analyzer.ingest.values import as_string, go_float

# exporter/clickhouseexporter/internal/sqltemplates/traces_json_table.sql
TRACES_JSON_TABLE = """CREATE TABLE IF NOT EXISTS %q.%q %s (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes JSON CODEC(ZSTD(1)),
    ResourceAttributesKeys Array(LowCardinality(String)) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes JSON CODEC(ZSTD(1)),
    SpanAttributesKeys Array(LowCardinality(String)) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes JSON
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes JSON
    ) CODEC(ZSTD(1)),

    INDEX idx_res_attr_keys ResourceAttributesKeys TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_keys SpanAttributesKeys TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
) ENGINE = %s
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
%s
SETTINGS index_granularity=8192, ttl_only_drop_parts = 1
"""

# exporter/clickhouseexporter/internal/sqltemplates/logs_json_table.sql
LOGS_JSON_TABLE = """CREATE TABLE IF NOT EXISTS %q.%q %s (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    TraceFlags UInt8,
    SeverityText LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber UInt8,
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Body String CODEC(ZSTD(1)),
    ResourceSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes JSON CODEC(ZSTD(1)),
    ResourceAttributesKeys Array(LowCardinality(String)) CODEC(ZSTD(1)),
    ScopeSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes JSON CODEC(ZSTD(1)),
    ScopeAttributesKeys Array(LowCardinality(String)) CODEC(ZSTD(1)),
    LogAttributes JSON CODEC(ZSTD(1)),
    LogAttributesKeys Array(LowCardinality(String)) CODEC(ZSTD(1)),
    EventName String CODEC(ZSTD(1)),

    INDEX idx_res_attr_keys ResourceAttributesKeys TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_keys ScopeAttributesKeys TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_keys LogAttributesKeys TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = %s
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, toDateTime(Timestamp))
ORDER BY (ServiceName, toDateTime(Timestamp), Timestamp)
%s
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1
"""

JSON_TEMPLATES = {"otel_traces": TRACES_JSON_TABLE, "otel_logs": LOGS_JSON_TABLE}


def render(template: str, database: str, table: str) -> str:
    """The template as the exporter renders it (Go's ``%q`` quotes the names)."""
    for value in (json.dumps(database), json.dumps(table), "", "MergeTree()", ""):
        template = template.replace("%q" if "%q" in template else "%s", value, 1)
    return template


def create_json_tables(admin: Store, database: str) -> None:
    """``database`` with the exporter's JSON traces and logs tables, as a Collector whose
    exporter creates its schema leaves it before modeltel first opens it."""
    admin.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    for table, template in JSON_TEMPLATES.items():
        admin.command(render(template, database, table))


def _go_string(text: str) -> str:
    """A string as Go's encoding/json writes it (HTML characters and U+2028/9 escaped)."""
    out = json.dumps(text, ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        out = out.replace(char, escape)
    return out.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _go_raw(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return _go_string(value.string_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return go_float(value.double_value)
    if kind == "bytes_value":
        return _go_string(base64.b64encode(value.bytes_value).decode())
    if kind == "array_value":
        return "[" + ",".join(_go_raw(v) for v in value.array_value.values) + "]"
    if kind == "kvlist_value":
        return go_json(value.kvlist_value.values)
    return "null"


def go_json(attributes: Any) -> str:
    """``json.Marshal(attrs.AsRaw())`` of OTLP ``KeyValue``s: an object with sorted keys."""
    items = {kv.key: kv.value for kv in attributes}
    return "{" + ",".join(f"{_go_string(k)}:{_go_raw(items[k])}" for k in sorted(items)) + "}"


def _as_map(attributes: list[KeyValue]) -> dict[str, str]:
    return {kv.key: as_string(kv.value) for kv in attributes}


def _keys(attributes: list[KeyValue]) -> list[str]:
    return sorted({kv.key for kv in attributes})


def _time(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


def _service(resource: Any) -> str:
    return next((as_string(kv.value) for kv in resource.attributes if kv.key == "service.name"), "")


_KIND = {0: "Unspecified", 1: "Internal", 2: "Server", 3: "Client", 4: "Producer", 5: "Consumer"}
_STATUS = {0: "Unset", 1: "Ok", 2: "Error"}

SPAN_COLUMNS = [
    "Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind",
    "ServiceName", "ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes",
    "Duration", "StatusCode", "StatusMessage",
]  # fmt: skip
LOG_COLUMNS = [
    "Timestamp", "TraceId", "SpanId", "TraceFlags", "SeverityText", "SeverityNumber",
    "ServiceName", "Body", "ResourceSchemaUrl", "ResourceAttributes", "ScopeSchemaUrl",
    "ScopeName", "ScopeVersion", "ScopeAttributes", "LogAttributes", "EventName",
]  # fmt: skip
_SPAN_MAPS = ("ResourceAttributes", "SpanAttributes")
_LOG_MAPS = ("ResourceAttributes", "ScopeAttributes", "LogAttributes")


def _with_schema(row: dict[str, Any], maps: tuple[str, ...], json_schema: bool) -> dict[str, Any]:
    """``row`` (attribute columns as KeyValue lists) as one of the exporters stores it."""
    out = dict(row)
    for column in maps:
        attributes = list(row[column])
        if json_schema:
            out[column] = go_json(attributes)
            out[column + "Keys"] = _keys(attributes)
        else:
            out[column] = _as_map(attributes)
    return out


def insert_spans(store: Store, request: ExportTraceServiceRequest, json_schema: bool) -> int:
    """Insert the request's spans into ``otel_traces`` as the JSON (or Map) exporter does."""
    rows = []
    for resource_spans in request.resource_spans:
        resource = resource_spans.resource
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                row = {
                    "Timestamp": _time(span.start_time_unix_nano),
                    "TraceId": span.trace_id.hex(),
                    "SpanId": span.span_id.hex(),
                    "ParentSpanId": span.parent_span_id.hex(),
                    "TraceState": span.trace_state,
                    "SpanName": span.name,
                    "SpanKind": _KIND[span.kind],
                    "ServiceName": _service(resource),
                    "ResourceAttributes": resource.attributes,
                    "ScopeName": scope_spans.scope.name,
                    "ScopeVersion": scope_spans.scope.version,
                    "SpanAttributes": span.attributes,
                    "Duration": span.end_time_unix_nano - span.start_time_unix_nano,
                    "StatusCode": _STATUS[span.status.code],
                    "StatusMessage": span.status.message,
                }
                rows.append(_with_schema(row, _SPAN_MAPS, json_schema))
    _insert(store, "otel_traces", rows)
    return len(rows)


def insert_logs(store: Store, request: ExportLogsServiceRequest, json_schema: bool) -> int:
    """Insert the request's log records into ``otel_logs`` as the JSON (or Map) exporter does."""
    rows = []
    for resource_logs in request.resource_logs:
        resource = resource_logs.resource
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                row = {
                    "Timestamp": _time(record.time_unix_nano or record.observed_time_unix_nano),
                    "TraceId": record.trace_id.hex(),
                    "SpanId": record.span_id.hex(),
                    "TraceFlags": record.flags & 0xFF,
                    "SeverityText": record.severity_text,
                    "SeverityNumber": record.severity_number,
                    "ServiceName": _service(resource),
                    "Body": as_string(record.body),
                    "ResourceSchemaUrl": resource_logs.schema_url,
                    "ResourceAttributes": resource.attributes,
                    "ScopeSchemaUrl": scope_logs.schema_url,
                    "ScopeName": scope_logs.scope.name,
                    "ScopeVersion": scope_logs.scope.version,
                    "ScopeAttributes": scope_logs.scope.attributes,
                    "LogAttributes": record.attributes,
                    "EventName": record.event_name,
                }
                rows.append(_with_schema(row, _LOG_MAPS, json_schema))
    _insert(store, "otel_logs", rows)
    return len(rows)


def _insert(store: Store, table: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        columns = list(rows[0])
        store.insert(table, [[row[c] for c in columns] for row in rows], columns)
