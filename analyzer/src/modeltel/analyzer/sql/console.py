"""Read-only SQL exploration over the store (``modeltel sql`` and ``POST /api/sql``).

Every query runs with ClickHouse's ``readonly=1`` setting, so ClickHouse itself refuses
DDL, inserts, ``SET``, table functions that write or read files, and any attempt to lift the
limits from inside the query; :mod:`modeltel.analyzer.base.guard` first refuses what
read-only mode lets through (``file()``, ``INTO OUTFILE``, ``KILL``, table functions reaching
files or URLs).
Limits: ``max_execution_time`` (seconds) and ``max_result_rows`` with
``result_overflow_mode='break'`` — a result longer than the row limit is cut
(``truncated=True``), never an error. Refusals become :class:`QueryError` with
one sentence saying why.

Output: :func:`format_table` (aligned text for people), :func:`format_csv`,
:func:`format_json` (a list of row objects) and :func:`result_payload` (the API answer).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from typing import Any
from uuid import UUID

from modeltel.analyzer.base import guard as sql_guard
from modeltel.analyzer.base.errors import ConfigError, QueryError, StoreError, StoreUnavailableError
from modeltel.analyzer.base.store import Store

DEFAULT_MAX_ROWS = 10_000
DEFAULT_TIMEOUT_S = 30.0
MAX_QUERY_CHARS = 100_000
FORMATS = ("table", "csv", "json")

# ClickHouse error codes worth their own sentence.
_READONLY = 164
_TIMEOUT = 159
_SYNTAX = 62
_UNKNOWN_TABLE = 60
_UNKNOWN_IDENTIFIER = 47
_UNKNOWN_FUNCTION = 46
_MULTI_STATEMENT = 1  # chDB reports "Syntax error (Multi-statements are not allowed)"


@dataclass(frozen=True)
class SqlResult:
    """Rows of one query: ``columns``/``types`` name them; ``truncated`` says the row limit cut
    the result; ``elapsed_s`` is the wall time of the query."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    elapsed_s: float
    max_rows: int

    @property
    def row_count(self) -> int:
        return len(self.rows)


def check_limits(max_rows: int, timeout_s: float) -> None:
    """ConfigError when a limit is not positive."""
    if not isinstance(max_rows, int) or isinstance(max_rows, bool) or max_rows < 1:
        raise ConfigError(f"the row limit must be a whole number ≥ 1, got {max_rows!r}")
    if not isinstance(timeout_s, (int, float)) or isinstance(timeout_s, bool) or timeout_s <= 0:
        raise ConfigError(f"the time limit must be a positive number of seconds, got {timeout_s!r}")


def readonly_settings(max_rows: int, timeout_s: float) -> dict[str, Any]:
    """ClickHouse settings for one exploration query.

    Order matters: the limits are applied before ``readonly``, which then forbids changing
    any setting (including these limits) from inside the query.
    """
    return {
        "max_execution_time": float(timeout_s),
        "max_result_rows": int(max_rows) + 1,
        "result_overflow_mode": "break",
        "readonly": 1,
    }


def _clean_query(query: str) -> str:
    """The query without trailing semicolons; its start is kept, so that the positions of
    ClickHouse's syntax errors are the user's."""
    if not isinstance(query, str):
        raise QueryError("the query must be a string of SQL")
    text = query.rstrip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    if not text.strip():
        raise QueryError("the query is empty; give one SELECT statement")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    return text


def _error_code(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    match = re.search(r"Code: (\d+)", str(exc))
    return int(match.group(1)) if match else None


def query_error(exc: BaseException, timeout_s: float) -> QueryError | StoreUnavailableError:
    """One sentence for a refused or failed user query (``exc``: the store's error, which
    carries ClickHouse's own as its cause)."""
    translated = exc if isinstance(exc, StoreError) else None
    if translated is not None and translated.__cause__ is not None:
        exc = translated.__cause__
    code = _error_code(exc)
    reason = sql_guard.clickhouse_reason(exc)
    if code == _READONLY:
        if "Cannot modify" in reason:
            return QueryError(
                f"the query may not change settings ({reason}); exploration queries run "
                "read-only with fixed limits"
            )
        return QueryError(
            "the query was refused because exploration is read-only: only SELECT, WITH, "
            "SHOW, DESCRIBE, EXISTS and EXPLAIN run here (no INSERT, CREATE, ALTER, DROP …)"
        )
    if code == _TIMEOUT:
        return QueryError(
            f"the query ran longer than the {timeout_s:g} s time limit; narrow it (a WHERE on "
            "model and timestamp helps) or raise the limit with --timeout"
        )
    if code == _SYNTAX or "Syntax error" in reason:
        if "Multi-statements" in reason:
            return QueryError("give one statement at a time (multi-statements are not allowed)")
        where = sql_guard.syntax_error(exc) or f"syntax error: {reason}"
        return QueryError(f"the query has a {where}")
    if code in (_UNKNOWN_TABLE, _UNKNOWN_IDENTIFIER, _UNKNOWN_FUNCTION):
        return QueryError(f"the query names something that does not exist: {reason}")
    if code is None and isinstance(translated, StoreUnavailableError):
        return translated
    return QueryError(f"the query failed: {reason}")


def _parse(store: Store, text: str) -> None:
    """Have ClickHouse's parser read ``text`` alone, as a string: nothing runs, and a typo
    fails as the syntax error it is (raised as ClickHouse gave it).

    ``implicit_select`` is off so a mistyped keyword (``SELEC 1``) is not read as an
    expression. Parsing the text as a value also keeps the client's appended
    ``FORMAT Native`` away from an unfinished query (``SELECT 1 +``)."""
    try:
        store.query_rows(
            "SELECT formatQuery({text:String})",
            parameters={"text": text},
            settings={"implicit_select": 0},
        )
    except StoreUnavailableError:
        raise
    except StoreError as exc:  # the parser's own message, as ClickHouse gave it
        raise exc.__cause__ or exc from None


def _explain(store: Store, text: str, settings: dict[str, Any]) -> list[str]:
    """``EXPLAIN AST`` lines of ``text`` (read by :func:`_parse` first)."""
    try:
        return [str(row[0]) for row in store.query_rows("EXPLAIN AST " + text, settings=settings)]
    except StoreUnavailableError:
        raise
    except StoreError as exc:
        raise exc.__cause__ or exc from None


def run_sql(
    store: Store,
    query: str,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> SqlResult:
    """Run one read-only statement with time and row limits.

    Raises :class:`QueryError` when ClickHouse refuses or fails the statement,
    :class:`ConfigError` for bad limits, :class:`StoreUnavailableError` when the store is down.
    """
    check_limits(max_rows, timeout_s)
    text = _clean_query(query)
    settings = readonly_settings(max_rows, timeout_s)
    sql_guard.check_query(
        lambda q: _parse(store, q),
        lambda q: _explain(store, q, settings),
        text,
        lambda exc: query_error(exc, timeout_s),
    )
    started = time.perf_counter()
    try:
        result = store.query_table(text, settings=settings)
    except StoreError as exc:
        raise query_error(exc, timeout_s) from exc
    elapsed = time.perf_counter() - started
    rows = result.rows
    truncated = len(rows) > max_rows
    if truncated:
        rows = rows[:max_rows]
    types = result.types
    return SqlResult(
        columns=result.columns,
        types=types,
        rows=rows,
        truncated=truncated,
        elapsed_s=elapsed,
        max_rows=max_rows,
    )


# -- output ------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """A JSON-ready form of a ClickHouse value (times as ISO text, NaN/inf as null)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (UUID, IPv4Address, IPv6Address)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    return str(value)


def _text(value: Any) -> str:
    value = jsonable(value)
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 60) -> str:
    """Aligned text table with a header rule; cells longer than ``max_width`` are cut with …."""
    cells = [[_text(v) for v in row] for row in rows]
    cells = [[c if len(c) <= max_width else c[: max_width - 1] + "…" for c in row] for row in cells]
    widths = [len(name) for name in columns]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    numeric = [
        all(isinstance(jsonable(row[i]), (int, float)) or row[i] is None for row in rows)
        and bool(rows)
        for i in range(len(columns))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]) for i, v in enumerate(values)
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(columns)), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def format_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """CSV with a header row; NULL as an empty field, nested values as compact JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else _text(v) for v in row])
    return buffer.getvalue()


def format_json(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A JSON list with one object per row."""
    records = [{c: jsonable(v) for c, v in zip(columns, row, strict=False)} for row in rows]
    return json.dumps(records, ensure_ascii=False, indent=1)


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> str:
    """The rows in ``fmt`` (``table``, ``csv`` or ``json``)."""
    if fmt == "table":
        return format_table(columns, rows)
    if fmt == "csv":
        return format_csv(columns, rows)
    if fmt == "json":
        return format_json(columns, rows)
    raise ConfigError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")


def result_payload(result: SqlResult) -> dict[str, Any]:
    """The JSON answer of ``POST /api/sql``."""
    return {
        "columns": result.columns,
        "types": result.types,
        "rows": [[jsonable(v) for v in row] for row in result.rows],
        "row_count": result.row_count,
        "truncated": result.truncated,
        "max_rows": result.max_rows,
        "elapsed_s": round(result.elapsed_s, 6),
    }
