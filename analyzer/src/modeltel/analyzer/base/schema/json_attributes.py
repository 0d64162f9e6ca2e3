"""The exporter's JSON schema: ``otel_*`` attribute columns of ClickHouse's ``JSON`` type.

The collector-contrib clickhouseexporter writes either schema: its default one, whose
attribute columns are ``Map(LowCardinality(String), String)`` (:mod:`.otel`), or, with its
JSON tables (``internal/sqltemplates/*_json_table.sql``), ``JSON`` columns holding
``json.Marshal`` of the attributes: numbers stay numbers, arrays arrays, and a dotted key such
as ``ml.model.name`` is stored as the nested path ``ml`` → ``model`` → ``name``.

A store is in one schema. :func:`otel_layout` finds which when the store is opened (the type
of ``otel_traces.SpanAttributes`` and ``otel_logs.LogAttributes`` in ``system.columns``) or
takes it from the ``--otel-schema``/``MODELTEL_OTEL_SCHEMA`` option (``auto`` by default: a
new store gets the Map schema). For the JSON schema it returns a :class:`JsonLayout`, which
renders the same declarations with two differences:

- the exporter's tables (``otel_traces``, ``otel_logs``, ``otel_metrics_*``) are created with
  ``JSON`` attribute columns, each with its ``<column>Keys`` array, as the JSON templates;
- every view reading ``otel_traces``/``otel_logs`` reads, instead of the table, a subquery
  in which each attribute column it names is :func:`as_map` of the JSON column: the very
  ``Map(String, String)`` the Map exporter would have written. So every view downstream of
  them (``ml_spans_mv``, predictions, features, attributions, ingest issues, labels) reads
  the same map in both schemas, and migrations that replace those views' queries
  (``layout.modify_view``) get the JSON variant too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from modeltel.analyzer.base.errors import StoreError
from modeltel.analyzer.base.schema.layout import Layout, Table, View, quote_ident
from modeltel.instrumentation.attributes import quoted

ATTRIBUTE_COLUMNS = {
    "otel_traces": ("ResourceAttributes", "SpanAttributes"),
    "otel_logs": ("ResourceAttributes", "ScopeAttributes", "LogAttributes"),
}
"""The JSON attribute columns of the tables modeltel's views read."""

DETECTED_BY = (("otel_traces", "SpanAttributes"), ("otel_logs", "LogAttributes"))
"""The columns whose type says which schema a store is in."""

_NUMBER_ARRAYS = ", ".join(
    f"'Array(Nullable({t}))'" for t in ("Int64", "UInt64", "Bool", "Float64")
)


def as_map(column: str) -> str:
    """SQL of the ``Map(String, String)`` the Map exporter writes for the attributes in the
    JSON column ``column``: one key per path, flattened (``ml.model.name``); strings as they
    are; numbers and bools as their text (a double as Go writes it: ``1e+21``, ``1e-7``);
    arrays as compact JSON (``[1.5,2,null]``, ``["a","b"]``). It reads the JSON type's own
    paths, types and values, so it never throws on any input (an exception would fail the
    whole insert). A string ClickHouse stored as a date or time comes back as its text."""
    c = quote_ident(column)
    # ``x`` is one (value text, type) pair of JSONAllValues/JSONAllPathsWithTypes.
    text, kind = "x.1", "x.2"
    double = (
        f"if(position({text}, 'e') > 0 AND position({text}, 'e-') = 0, "
        f"replaceOne({text}, 'e', 'e+'), {text})"
    )
    numbers = f"replaceAll({text}, 'NULL', 'null')"
    is_texts = f"startsWith({kind}, 'Array(Nullable(')"
    is_array = f"startsWith({kind}, 'Array(')"
    convert = (
        "multiIf("
        f"{kind} = 'Float64', {double}, "
        f"{kind} = 'Array(Nullable(Float64))', replaceRegexpAll({numbers}, 'e([0-9])', 'e+\\\\1'), "
        f"{kind} IN ({_NUMBER_ARRAYS}), {numbers}, "
        # the casts read ClickHouse's own text of the value; any other row casts '[]'
        f"{is_texts}, toJSONString(CAST(if({is_texts}, {text}, '[]'), "
        "'Array(Nullable(String))')), "
        f"{is_array}, toJSONString(CAST(if({is_array}, {text}, '[]'), 'Array(Dynamic)')), "
        f"{text})"
    )
    return (
        f"mapFromArrays(JSONAllPaths({c}), arrayMap(x -> {convert}, "
        f"arrayZip(JSONAllValues({c}), mapValues(JSONAllPathsWithTypes({c})))))"
    )


def json_view(view: View) -> View:
    """``view`` reading, in place of its ``otel_traces``/``otel_logs`` source, the subquery
    that gives each attribute column it names as :func:`as_map`. Other views are unchanged."""
    columns = [c for c in ATTRIBUTE_COLUMNS.get(view.source, ()) if c in view.select]
    if not columns:
        return view
    replaced = ", ".join(f"{as_map(c)} AS {c}" for c in columns)
    subquery = f"(SELECT * REPLACE ({replaced}) FROM {{source}})"
    # ``{source}`` stays a placeholder: Layout fills it in (local table on a cluster).
    return View(**{**_fields(view), "select": view.select.replace("{source}", subquery)})


_MAP = "Map(LowCardinality(String), String)"
_TOP_MAP = re.compile(rf"^(\s*)(\w+) {re.escape(_MAP)}( CODEC\(ZSTD\(1\)\)),$", re.M)
_NESTED_MAP = re.compile(rf"(\w+) {re.escape(_MAP)}")
_KEY_INDEX = re.compile(r"^(\s*INDEX \w+_key) mapKeys\((\w+)\) (.*)$", re.M)
_DROPPED = re.compile(r"^\s*(INDEX \w+ mapValues\(.*|\w+ Array\(String\) ALIAS .*)\n", re.M)


def json_table(table: Table) -> Table:
    """The JSON-template variant of one of the exporter's Map tables: each top-level attribute
    map becomes ``JSON`` plus its ``<column>Keys Array(LowCardinality(String))`` with a bloom
    filter index; maps inside ``Nested`` become ``JSON``; value indexes and the ``*Items``
    aliases go, and a map leaves the sorting key."""
    columns = _DROPPED.sub("", table.columns)
    columns = _KEY_INDEX.sub(r"\1s \2Keys \3", columns)
    columns = _TOP_MAP.sub(
        r"\1\2 JSON\3,\1\2Keys Array(LowCardinality(String)) CODEC(ZSTD(1)),", columns
    )
    columns = _NESTED_MAP.sub(r"\1 JSON", columns)
    tail = table.tail.replace(" Attributes,", "")
    return Table(**{**_fields(table), "columns": columns, "tail": tail})


def _fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


_EXPORTER_TABLES = ("otel_traces", "otel_logs")
_EXPORTER_PREFIX = "otel_metrics_"


@dataclass(frozen=True)
class JsonLayout(Layout):
    """A :class:`Layout` for a store in the exporter's JSON schema (see the module docstring):
    the exporter's tables in their JSON variant, the views reading them through
    :func:`as_map`."""

    def create_table(self, table: Table) -> list[str]:
        if table.name in _EXPORTER_TABLES or table.name.startswith(_EXPORTER_PREFIX):
            table = json_table(table)
        return super().create_table(table)

    def create_view(self, view: View) -> list[str]:
        return super().create_view(json_view(view))

    def modify_view(self, view: View) -> list[str]:
        return super().modify_view(json_view(view))


def schema_of(types: dict[str, str], where: str) -> str | None:
    """The schema the attribute column ``types`` (``table.column`` → ClickHouse type, for the
    columns of :data:`DETECTED_BY` that exist) show: ``map``, ``json``, or None when there is
    none yet (a new store). Tables in different schemas raise :class:`StoreError`."""
    found = {name: "json" if t.startswith("JSON") else "map" for name, t in types.items()}
    schemas = set(found.values())
    if len(schemas) > 1:
        described = ", ".join(f"{name} is {types[name]}" for name in sorted(types))
        raise StoreError(
            f"the otel_* tables of {where} mix the exporter's two schemas ({described}); "
            "recreate them in one schema (see docs/tables.md)"
        )
    return schemas.pop() if schemas else None


def otel_layout(
    layout: Layout,
    requested: str,
    query_rows: Callable[[str], Sequence[Sequence[Any]]],
    where: str,
) -> Layout:
    """``layout`` for the schema of the store: the one its tables have (``query_rows`` runs a
    query in the store), else ``requested`` (``auto`` means ``map``). A requested schema the
    tables do not have raises :class:`StoreError` naming both."""
    wanted = " OR ".join(
        f"(table = '{table}' AND name = '{column}')" for table, column in DETECTED_BY
    )
    rows = query_rows(
        "SELECT table, name, type FROM system.columns "
        f"WHERE database = {quoted(layout.database)} AND ({wanted})"
    )
    types = {f"{table}.{name}": str(t) for table, name, t in rows}
    found = schema_of(types, where)
    if found is not None and requested not in ("auto", found):
        described = ", ".join(f"{name} is {types[name]}" for name in sorted(types))
        raise StoreError(
            f"the otel schema {requested} was asked for, but the otel_* tables of {where} are "
            f"in the {found} schema ({described}); drop --otel-schema/MODELTEL_OTEL_SCHEMA "
            "or open another database"
        )
    schema = found or ("map" if requested == "auto" else requested)
    if schema == "json":
        return JsonLayout(**_fields(layout))
    return Layout(**_fields(layout))
