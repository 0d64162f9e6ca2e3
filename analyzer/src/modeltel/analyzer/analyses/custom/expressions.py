"""A custom metric's expression: parsed and checked by ClickHouse, its ``feature('name')``
calls resolved, and a dry run against the store.

An expression is one ClickHouse aggregate over the rows of
:mod:`modeltel.analyzer.base.prediction_rows`: the prediction's columns
(:data:`~modeltel.analyzer.base.prediction_rows.PREDICTION_COLUMNS`), ``feature('name')`` for
a feature's value (Nullable(Float64) for a numeric feature, Nullable(String) for a categorical
one, NULL when a prediction lacks it) and, with ``needs_labels``, the label columns
(:data:`~modeltel.analyzer.base.prediction_rows.LABEL_COLUMNS`).

- :func:`parse` asks ClickHouse for the parse tree (``EXPLAIN AST``, which runs nothing) and
  applies :func:`modeltel.analyzer.base.guard.check_expression` — the read-only check of
  ``modeltel sql``, stricter: no table at all, no subquery, no SETTINGS, one expression;
- :func:`rewrite` replaces each ``feature('name')`` by the column holding it;
- :func:`validate` parses every configured expression and dry-runs it (``DESCRIBE`` of the
  statement the analysis runs, which plans but reads nothing): it must be an aggregate with a
  number (or boolean) for a value.

Every refusal is a :class:`ConfigError` naming the metric and, where ClickHouse refused it,
ClickHouse's own message.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from modeltel.analyzer.analyses.custom.config import CustomMetric, CustomMetricsConfig
from modeltel.analyzer.base import guard
from modeltel.analyzer.base.errors import ConfigError, QueryError, StoreError
from modeltel.analyzer.base.prediction_rows import (
    LABEL_COLUMNS,
    PREDICTION_COLUMNS,
    RowShape,
    feature_kinds,
    shape_of,
    top_values_key,
)
from modeltel.analyzer.base.query import Params, TimeWindows
from modeltel.analyzer.base.row_scan import Aggregates, RowRequest, scan_sql
from modeltel.analyzer.base.store import Store

FEATURE_CALL = re.compile(r"\bfeature\s*\(\s*'((?:[^'\\]|\\.)*)'\s*\)", re.IGNORECASE)
"""A ``feature('name')`` call (the name a single-quoted SQL string)."""

MAX_UNKNOWN_FEATURES = 4
"""Features the store has never seen whose type a dry run tries both ways (2ⁿ runs)."""

_NUMBER = re.compile(r"^(U?Int\d+|Float\d+|Decimal.*|Bool)$")
_WRAPPER = re.compile(r"^(?:Nullable|LowCardinality)\((.*)\)$")


def is_number(type_name: str) -> bool:
    """Whether a ClickHouse type (``Nullable(Float64)``, ``UInt8`` …) holds numbers."""
    for _ in range(2):
        type_name = _WRAPPER.sub(r"\1", type_name)
    return bool(_NUMBER.match(type_name))


@dataclass(frozen=True)
class Parsed:
    """A checked expression: the features and prediction/label columns it reads."""

    metric: CustomMetric
    features: tuple[str, ...]
    columns: frozenset[str]


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse(store: Store, metric: CustomMetric) -> Parsed:
    """The checked expression of ``metric``; ConfigError naming the metric otherwise."""
    text = metric.sql
    where = f"custom metric {metric.name!r}"
    if ";" in FEATURE_CALL.sub("", re.sub(r"'(?:[^'\\]|\\.)*'", "''", text)):
        raise ConfigError(f"{where}: give one expression (no ';' and no second statement)")
    try:
        store.query_rows("SELECT formatQuery({text:String})", parameters={"text": "SELECT " + text})
        lines = [str(r[0]) for r in store.query_rows("EXPLAIN AST SELECT " + text)]
    except StoreError as exc:
        reason = guard.clickhouse_reason(exc.__cause__ or exc)
        # positions count from the start of the expression, not of "SELECT <expression>"
        reason = re.sub(
            r"position (\d+)", lambda m: f"position {max(int(m.group(1)) - 7, 1)}", reason
        )
        raise ConfigError(f"{where} is not a valid SQL expression: {reason}") from exc
    try:
        tree = guard.check_expression(lines)
    except QueryError as exc:
        raise ConfigError(f"{where} is refused: {exc}") from None
    features = tuple(dict.fromkeys(_unquote(m) for m in FEATURE_CALL.findall(text)))
    called = sum(1 for name in tree.calls if name.lower() == "feature")
    if called != len(FEATURE_CALL.findall(text)):
        raise ConfigError(
            f"{where}: feature() takes one feature name in single quotes, as feature('amount')"
        )
    columns = frozenset(tree.identifiers)
    labels = sorted(columns & set(LABEL_COLUMNS))
    if labels and not metric.needs_labels:
        raise ConfigError(
            f"{where} reads {', '.join(labels)}: add needs_labels: true to evaluate it over "
            "the predictions that have a label"
        )
    return Parsed(metric, features, columns & set(PREDICTION_COLUMNS))


def rewrite(text: str, shape: RowShape) -> str:
    """``text`` with every ``feature('name')`` replaced by the column of ``shape`` holding it."""
    return FEATURE_CALL.sub(lambda m: shape.feature_column(_unquote(m.group(1))), text)


OTHER_SEGMENT = "other"
"""The segment of the values of ``segment_by`` beyond the ``max_segments`` most frequent."""


def metrics_request(
    parsed: Iterable[Parsed], segment_by: str | None = None, max_segments: int = 20
) -> RowRequest:
    """The row request of every expression of ``parsed``. Its keys are ``has_label`` (when an
    expression needs labels) and ``segment`` (with ``segment_by``: the feature's value among
    its ``max_segments`` most frequent of the windows, else :data:`OTHER_SEGMENT`; NULL when
    missing), and its sets every combination of them; the values are ``n`` then one per
    expression."""
    items = tuple(parsed)
    needs_labels = any(p.metric.needs_labels for p in items)
    names = (("has_label",) if needs_labels else ()) + (("segment",) if segment_by else ())
    sets = tuple(
        tuple(name for name, keep in zip(names, pick, strict=True) if keep)
        for pick in itertools.product((False, True), repeat=len(names))
    )

    def build(shape: RowShape, params: Params, scope: str) -> Aggregates:
        values = ("count()", *(f"({rewrite(p.metric.sql, shape)})" for p in items))
        keys: tuple[str, ...] = ("has_label",) if needs_labels else ()
        if segment_by:
            keys += (top_values_key(shape, params, scope, segment_by, max_segments, OTHER_SEGMENT),)
        return Aggregates(keys, values)

    return RowRequest(
        key=(tuple(metric_key(p.metric) for p in items), segment_by, max_segments),
        columns=frozenset().union(*(p.columns for p in items)),
        features=frozenset(f for p in items for f in p.features)
        | ({segment_by} if segment_by else set()),
        labels=needs_labels,
        keys=names,
        sets=sets,
        build=build,
    )


_DRY_WINDOWS = TimeWindows(origin_ns=0, size_ns=1, keys=(0,))


def _dry_run(store: Store, parsed: Parsed, kinds: Mapping[str, bool]) -> str | None:
    """ClickHouse's refusal of the expression's statement (None when it plans, with a number)."""
    params = Params()
    request = metrics_request([parsed])
    shape = shape_of(
        parsed.columns,
        {f: kinds.get(f, False) for f in parsed.features},
        parsed.metric.needs_labels,
    )
    sql, _ = scan_sql("", "", _DRY_WINDOWS, shape, [request], params)
    try:
        described = store.query_rows(f"DESCRIBE TABLE ({sql})", parameters=params.values)
    except StoreError as exc:
        return guard.clickhouse_reason(exc.__cause__ or exc)
    value_type = next(str(row[1]) for row in described if row[0] == "r0_v1")
    if not is_number(value_type):
        return f"its value is of type {value_type}, not a number"
    return None


def metric_key(metric: CustomMetric) -> tuple[str, str, bool]:
    """What identifies a metric's parsed expression: its name, SQL and ``needs_labels``."""
    return (metric.name, metric.sql, metric.needs_labels)


def validate(store: Store, config: CustomMetricsConfig) -> dict[tuple[str, str, bool], Parsed]:
    """Parse and dry-run every expression of ``config`` (its ``models.<model>`` ones too);
    ConfigError naming the first bad one. Returns the parsed expressions by
    :func:`metric_key`."""
    metrics: dict[tuple[str, str, bool], CustomMetric] = {}
    for settings in [config, *(config.for_model(m) for m in config.models)]:
        for metric in settings.metrics.values():
            metrics.setdefault(metric_key(metric), metric)
    parsed: dict[tuple[str, str, bool], Parsed] = {}
    for key, metric in metrics.items():
        checked = parse(store, metric)
        known = feature_kinds(store, checked.features)
        unknown = [f for f in checked.features if f not in known][:MAX_UNKNOWN_FEATURES]
        refusal = None
        for flags in itertools.product((False, True), repeat=len(unknown)):
            refusal = _dry_run(store, checked, {**known, **dict(zip(unknown, flags, strict=True))})
            if refusal is None:
                break
        if refusal is not None:
            raise ConfigError(f"custom metric {metric.name!r} failed its dry run: {refusal}")
        parsed[key] = checked
    return parsed
