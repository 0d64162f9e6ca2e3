"""What Grafana does to a query before the data source sees it: template variables and the
built-in / grafana-clickhouse-datasource macros, so the tests can run the queries for real.

ClickHouse macros as the plugin's ``pkg/macros/macros.go`` expands them (``$__timeFilter(c)``
→ ``c >= toDateTime(from) AND c <= toDateTime(to)``, ``$__timeInterval(c)`` →
``toStartOfInterval(toDateTime(c), INTERVAL n second)`` …); variables in Grafana's formats
(``${v:sqlstring}`` quotes and doubles quotes, ``${v:singlequote}``, plain ``$v``/``${v}``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TimeRange:
    start: int  # unix seconds
    end: int
    interval_s: int = 60

    @property
    def range_s(self) -> int:
        return self.end - self.start


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _variables(text: str, values: Mapping[str, str]) -> str:
    def braced(match: re.Match[str]) -> str:
        name, fmt = match.group(1), match.group(2)
        value = values[name]
        if fmt in ("sqlstring", "singlequote"):
            return _quote(value)
        if fmt in (None, "raw", "regex", "text"):
            return value
        raise ValueError(f"variable format {fmt!r} is not handled")

    text = re.sub(r"\$\{(\w+)(?::(\w+))?\}", braced, text)
    return re.sub(
        r"\$(?!__)(\w+)", lambda m: values[m.group(1)] if m.group(1) in values else m.group(0), text
    )


def _macro_args(text: str, name: str) -> Iterator[tuple[int, int, list[str]]]:
    for match in re.finditer(re.escape(name) + r"\(", text):
        depth, i = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        yield match.start(), i, [a.strip() for a in text[match.end() : i - 1].split(",")]


def _replace_macro(text: str, name: str, render) -> str:
    while True:
        found = next(_macro_args(text, name), None)
        if found is None:
            return text
        start, end, args = found
        text = text[:start] + render(*args) + text[end:]


def expand_sql(sql: str, values: Mapping[str, str], tr: TimeRange) -> str:
    """A grafana-clickhouse-datasource raw SQL query as the server receives it."""
    sql = _variables(sql, values)
    frm, to = f"toDateTime({tr.start})", f"toDateTime({tr.end})"
    frm_ms = f"fromUnixTimestamp64Milli({tr.start * 1000})"
    to_ms = f"fromUnixTimestamp64Milli({tr.end * 1000})"
    interval = max(tr.interval_s, 1)
    sql = _replace_macro(sql, "$__timeFilter_ms", lambda c: f"{c} >= {frm_ms} AND {c} <= {to_ms}")
    sql = _replace_macro(sql, "$__timeFilter", lambda c: f"{c} >= {frm} AND {c} <= {to}")
    sql = _replace_macro(
        sql,
        "$__timeInterval_ms",
        lambda c: (
            f"toStartOfInterval(toDateTime64({c}, 3), INTERVAL {interval * 1000} millisecond)"
        ),
    )
    sql = _replace_macro(
        sql,
        "$__timeInterval",
        lambda c: f"toStartOfInterval(toDateTime({c}), INTERVAL {interval} second)",
    )
    for macro, value in (
        ("$__fromTime_ms", frm_ms),
        ("$__toTime_ms", to_ms),
        ("$__fromTime", frm),
        ("$__toTime", to),
        ("$__interval_s", str(interval)),
    ):
        sql = sql.replace(macro, value)
    assert "$" not in sql.replace("'$'", ""), f"unexpanded macro or variable in: {sql}"
    return sql


def expand_promql(expr: str, values: Mapping[str, str], tr: TimeRange, rate_interval: str) -> str:
    """A Prometheus panel/variable expression with Grafana's variables substituted."""
    builtins = {
        "__rate_interval": rate_interval,
        "__interval": f"{tr.interval_s}s",
        "__interval_ms": str(tr.interval_s * 1000),
        "__range": f"{tr.range_s}s",
        "__range_s": str(tr.range_s),
        "__range_ms": str(tr.range_s * 1000),
    }
    expr = re.sub(r"\$\{?(__\w+)\}?", lambda m: builtins[m.group(1)], expr)
    expr = _variables(expr, values)
    assert "$" not in expr, f"unexpanded variable in: {expr}"
    return expr


@dataclass(frozen=True)
class Target:
    dashboard: str
    panel: str
    kind: str  # "promql", "sql" or "variable"
    text: str
    query_type: str = ""


def dashboard_targets(directory: Path) -> list[Target]:
    """Every query of every dashboard JSON in ``directory`` (panels, rows and variables)."""
    out: list[Target] = []
    for path in sorted(directory.glob("*.json")):
        board: dict[str, Any] = json.loads(path.read_text())
        panels = list(board.get("panels", []))
        for panel in list(panels):
            panels.extend(panel.get("panels", []))  # panels of collapsed rows
        for panel in panels:
            for target in panel.get("targets", []):
                ds = (target.get("datasource") or panel.get("datasource") or {}).get("type")
                if ds == "prometheus":
                    out.append(Target(path.name, panel["title"], "promql", target["expr"]))
                elif ds == "grafana-clickhouse-datasource":
                    out.append(
                        Target(
                            path.name,
                            panel["title"],
                            "sql",
                            target["rawSql"],
                            target.get("queryType", ""),
                        )
                    )
                else:
                    raise AssertionError(f"{path.name}: {panel['title']}: unknown data source {ds}")
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("type") == "query":
                query = variable["query"]
                text = query if isinstance(query, str) else query["query"]
                out.append(Target(path.name, f"${variable['name']}", "variable", text))
    return out


def label_values_query(text: str) -> tuple[str, str]:
    """``label_values(selector, label)`` → (selector, label)."""
    match = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", text, re.S)
    assert match, f"not a label_values() query: {text}"
    return match.group(1), match.group(2)
