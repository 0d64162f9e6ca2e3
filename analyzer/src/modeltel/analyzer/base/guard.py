"""What ``readonly=1`` does not stop, refused before a user query runs.

ClickHouse's read-only mode refuses writes and setting changes, but some reads reach outside
the database: the ``file()`` function and the ``s3``/``iceberg``/``gcs``/``deltaLake``…
table functions are not all refused, ``DESCRIBE file(…)`` infers a schema from any file, and
the embedded engine (clickhouse-local under chDB) honours ``INTO OUTFILE`` and ``KILL QUERY``.
So exploration queries are first parsed by ClickHouse itself (``EXPLAIN AST``, which runs
nothing) and the tree is checked:

- one statement of a reading kind (SELECT/WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN);
- no ``INTO OUTFILE``;
- table functions only from :data:`ALLOWED_TABLE_FUNCTIONS` (generators and views over the
  store's own tables), and no scalar function of :data:`DENIED_FUNCTIONS`.

Refusals are :class:`QueryError` with one sentence naming what was refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from modeltel.analyzer.base.errors import QueryError, StoreError

ALLOWED_TABLE_FUNCTIONS = frozenset(
    {
        "numbers",
        "numbers_mt",
        "generate_series",
        "generateseries",
        "generaterandom",
        "values",
        "null",
        "view",
        "merge",
    }
)
"""Table functions that read nothing outside the database (compared lower-cased)."""

DENIED_FUNCTIONS = frozenset({"file"})
"""Scalar functions that read outside the database (``file(path)`` returns a file's bytes)."""

_READING_ROOTS = (
    "selectwithunionquery",
    "selectintersectexceptquery",
    "explain",
    "describe",
    "exists",
    "show",
)
_NODE = re.compile(r"^(?P<indent> *)(?P<kind>\S+)(?: (?P<name>[^\s(]+))?")
_READING_KEYWORDS = {"select", "with", "show", "describe", "desc", "exists", "explain", "("}
_LEADING_NOISE = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|#[^\n]*(?:\n|$)|/\*.*?\*/)+", re.S)
_REFUSED = (
    "the query was refused because exploration is read-only: only SELECT, WITH, "
    "SHOW, DESCRIBE, EXISTS and EXPLAIN run here (no INSERT, SET, KILL, SYSTEM …)"
)


def first_keyword(text: str) -> str:
    """The statement's first keyword, lower-cased, after comments and whitespace."""
    rest = _LEADING_NOISE.sub("", text, count=1)
    if rest.startswith("("):
        return "("
    match = re.match(r"[A-Za-z_]+", rest)
    return match.group(0).lower() if match else ""


@dataclass(frozen=True)
class _Node:
    depth: int
    kind: str
    name: str


def _parse_tree(lines: list[str]) -> list[tuple[_Node, _Node | None]]:
    """``EXPLAIN AST`` lines → (node, parent) pairs (indentation is one space per level)."""
    out: list[tuple[_Node, _Node | None]] = []
    stack: list[_Node] = []
    for line in lines:
        match = _NODE.match(line)
        if not match:
            continue
        node = _Node(len(match["indent"]), match["kind"], match["name"] or "")
        while stack and stack[-1].depth >= node.depth:
            stack.pop()
        out.append((node, stack[-1] if stack else None))
        stack.append(node)
    return out


def check_tree(lines: list[str]) -> None:
    """Raise :class:`QueryError` unless the ``EXPLAIN AST`` tree is of a harmless read."""
    tree = _parse_tree(lines)
    if not tree:
        raise QueryError("the query could not be parsed")
    root = tree[0][0]
    if not root.kind.lower().startswith(_READING_ROOTS):
        raise QueryError(_REFUSED)
    for node, parent in tree[1:]:
        if parent is root and node.kind == "Literal":
            raise QueryError("INTO OUTFILE is not allowed: results are returned, not written")
        if node.kind != "Function":
            continue
        name = node.name.lower()
        if parent is not None and parent.kind == "TableExpression":
            if name not in ALLOWED_TABLE_FUNCTIONS:
                raise QueryError(
                    f"the table function {node.name}() is not allowed here: exploration reads "
                    "the store's tables only (no files, URLs or remote servers); allowed: "
                    + ", ".join(sorted(f"{f}()" for f in ALLOWED_TABLE_FUNCTIONS))
                )
        elif name in DENIED_FUNCTIONS:
            raise QueryError(
                f"the function {node.name}() is not allowed here: exploration reads the "
                "store's tables only"
            )


def check_query(
    parse: Callable[[str], object],
    explain: Callable[[str], list[str]],
    text: str,
    on_error: Callable[[Exception], Exception],
) -> None:
    """Check ``text`` before it runs: ``parse`` has ClickHouse's parser read it alone (runs
    nothing; raises the parser's error), ``explain`` runs ``EXPLAIN AST <text>`` for a
    statement of a reading kind and returns its lines. A failure of either is raised as
    ``on_error(exc)`` (so a typo is a syntax error); a statement that parses but is not a
    read is refused as read-only; the tree of a read is checked by :func:`check_tree`."""
    reading = first_keyword(text) in _READING_KEYWORDS
    try:
        parse(text)
        lines = explain(text) if reading else []
    except (QueryError, StoreError):  # already ours (e.g. the store is unavailable)
        raise
    except Exception as exc:
        if ";" in text and "Code:" not in str(exc):  # chDB's answer to several statements
            raise QueryError(
                "give one statement at a time (multi-statements are not allowed)"
            ) from exc
        raise on_error(exc) from exc
    if not reading:
        raise QueryError(_REFUSED)
    check_tree(lines)


_SYNTAX_ERROR = re.compile(
    r"DB::Exception: (?:(?P<what>[^:\n]*?): )?Syntax error(?: \([^)]*\))?: failed at position "
    r"(?P<pos>\d+) \((?P<token>.*?)\)(?: \(line (?P<line>\d+), col (?P<col>\d+)\))?: "
    r"(?P<rest>.*)",
    re.S,
)
_HINTS = (
    re.compile(r"(Unmatched parentheses: .*?)(?:: In scope |\. \([A-Z_]+\)|\n|$)", re.S),
    re.compile(r"Maybe you meant: (.*?)\.(?:\s|$)"),
    re.compile(r"(Expected (?:one of: )?.*?)(?:: In scope |\. \([A-Z_]+\)|\n|$)", re.S),
)


def syntax_error(exc: BaseException) -> str | None:
    """ClickHouse's syntax error as one sentence — where the parser stopped and what it
    says (``at position 1 ('SELEC'): maybe you meant SELECT``); None for other errors."""
    match = _SYNTAX_ERROR.search(str(exc))
    if match is None:
        return None
    token = match["token"]
    shown = token if token == "end of query" or token[:1] in "'\"`" else f"'{token}'"
    where = f"position {match['pos']}"
    if match["line"]:
        where += f" (line {match['line']}, column {match['col']})"
    detail = match["what"] or ""
    for number, hint in enumerate(_HINTS):
        if detail:
            break
        found = hint.search(match["rest"])
        if found:
            detail = found.group(1).strip().rstrip(".")
            detail = f"maybe you meant {detail}" if number == 1 else detail
    if len(detail) > 160:
        detail = detail[: detail.rfind(", ", 0, 160)] + ", …"
    detail = detail[:1].lower() + detail[1:]
    return f"syntax error at {where} ({shown})" + (f": {detail}" if detail else "")


def clickhouse_reason(exc: BaseException) -> str:
    """The ClickHouse message without codes, stack traces or version noise."""
    text = str(exc)
    match = re.search(r"DB::Exception: (?:Code: \d+\. DB::Exception: )?(.*)", text, re.S)
    message = match.group(1) if match else text
    message = message.strip().splitlines()[0] if message.strip() else text
    message = re.sub(r"\s*\(version [^)]*\)", "", message)
    message = re.sub(r"\s*In scope .*$", "", message)
    message = re.sub(r"\.?\s*In query .*$", "", message)
    message = re.sub(r"\s*\([A-Z_]+\)\.?\s*$", "", message).strip()
    message = re.sub(r"^\w+: (?=Cannot execute)", "", message)
    return message.rstrip(". ")[:400]


EXPRESSION_DENIED_FUNCTIONS = frozenset(
    {"file", "url", "s3", "remote", "remotesecure", "cluster", "clusterallreplicas", "mysql"}
    | {"postgresql", "jdbc", "odbc", "hdfs", "sqlite", "mongodb", "redis", "azureblobstorage"}
    | {"gcs", "iceberg", "deltalake", "hudi", "executable", "input", "fuzzquery", "dictget"}
)
"""Functions an expression may not call: those that read outside the database, and the table
functions' names (compared lower-cased)."""

_NOT_IN_EXPRESSIONS = {
    "Subquery": "a subquery",
    "TablesInSelectQuery": "FROM",
    "TableExpression": "a table",
    "TableIdentifier": "a table",
    "Set": "SETTINGS",
    "SelectQuery": "a second SELECT",
}


@dataclass(frozen=True)
class Expression:
    """What the parse tree of one checked expression names."""

    identifiers: frozenset[str]
    """Column names it reads."""
    calls: tuple[str, ...]
    """The function of every call, in order (a function called twice is listed twice)."""


def check_expression(lines: list[str]) -> Expression:
    """Check the ``EXPLAIN AST`` lines of ``SELECT <expression>``: one expression over the
    row it is evaluated on — no FROM, subquery, second SELECT, WHERE/GROUP BY/… clause,
    SETTINGS or function of :data:`EXPRESSION_DENIED_FUNCTIONS`. Raises :class:`QueryError`
    with one sentence; returns what the expression names."""
    tree = _parse_tree(lines)
    counts = [_children(line) for line in lines if _NODE.match(line)]
    if len(tree) < 5 or [n.kind for n, _ in tree[:4]] != [
        "SelectWithUnionQuery",
        "ExpressionList",
        "SelectQuery",
        "ExpressionList",
    ]:
        raise QueryError("the expression could not be parsed as one SQL expression")
    if counts[1] != 1 or counts[2] != 1:
        raise QueryError(
            "give one expression and nothing after it (no second statement, UNION, FROM, "
            "WHERE, GROUP BY or SETTINGS)"
        )
    if counts[3] != 1:
        raise QueryError("give one expression, not a list separated by commas")
    identifiers: set[str] = set()
    calls: list[str] = []
    for node, _parent in tree[4:]:
        what = _NOT_IN_EXPRESSIONS.get(node.kind)
        if what is not None:
            raise QueryError(
                f"{what} is not allowed in an expression: it is evaluated on the rows it "
                "is given and reads no table"
            )
        if node.kind == "Identifier":
            identifiers.add(node.name)
        elif node.kind == "Function":
            name = node.name.lower()
            if name in EXPRESSION_DENIED_FUNCTIONS or name in DENIED_FUNCTIONS:
                raise QueryError(
                    f"the function {node.name}() is not allowed in an expression: it reads "
                    "outside the rows it is given"
                )
            calls.append(node.name)
    return Expression(frozenset(identifiers), tuple(calls))


def _children(line: str) -> int:
    match = re.search(r"\(children (\d+)\)", line)
    return int(match.group(1)) if match else 0
