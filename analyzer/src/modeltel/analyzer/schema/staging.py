"""The receiver's staging table for spans.

modeltel's receiver inserts spans into ``otel_traces_ingest`` (engine ``Null``: it stores
nothing). Its one extra column, ``SpanAttributesF64``, carries double-array attributes as
numbers; the view formats them exactly as the exporter would (shortest round-trip digits,
``null`` for missing elements, ``e+`` exponents) and writes complete rows into
``otel_traces``, whose own views then project them like rows from a Collector.
ClickHouse's ``toString(Float64)`` matches Go's formatting except that it writes ``1e21``
where Go writes ``1e+21``; the view adds the sign.
"""

from __future__ import annotations

from modeltel.analyzer.schema.layout import Table, View
from modeltel.analyzer.schema.otel import OTEL_TRACES

OTEL_TRACES_INGEST = Table(
    name="otel_traces_ingest",
    columns=OTEL_TRACES.columns.split("    ResourceAttributeItems")[0]
    + "    SpanAttributesF64 Map(LowCardinality(String), Array(Nullable(Float64)))\n",
    engine="Null",
    tail="",
    replicated=False,
)

_FORMAT_DOUBLE = (
    "x -> if(isNull(x), 'null', "
    "if(position(toString(assumeNotNull(x)), 'e') > 0 "
    "AND position(toString(assumeNotNull(x)), 'e-') = 0, "
    "replaceOne(toString(assumeNotNull(x)), 'e', 'e+'), toString(assumeNotNull(x))))"
)

OTEL_TRACES_INGEST_MV = View(
    name="otel_traces_ingest_mv",
    target="otel_traces",
    source="otel_traces_ingest",
    target_local=False,
    source_local=False,
    select=f"""SELECT
    Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName,
    ResourceAttributes, ScopeName, ScopeVersion,
    if(empty(SpanAttributesF64), SpanAttributes,
       mapUpdate(SpanAttributes, mapApply((k, v) -> (k, concat('[',
           arrayStringConcat(arrayMap({_FORMAT_DOUBLE}, v), ','), ']')), SpanAttributesF64))
    ) AS SpanAttributes,
    Duration, StatusCode, StatusMessage,
    `Events.Timestamp`, `Events.Name`, `Events.Attributes`,
    `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`
FROM {{source}}""",
)
