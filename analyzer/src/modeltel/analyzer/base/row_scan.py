"""One scan of a version's prediction rows serving the grouped aggregates of several analyses.

An analysis that aggregates over whole predictions (custom metrics, fairness) states what it
reads as a :class:`RowRequest`: the prediction columns, features and labels its rows carry,
and — given the merged :class:`~modeltel.analyzer.base.prediction_rows.RowShape` — its
:class:`Aggregates`: grouping keys, grouping sets and aggregate expressions.
:func:`scan_sql` merges requests into one statement: one
:func:`~modeltel.analyzer.base.prediction_rows.prediction_rows_sql` subquery carrying every
request's columns, one ``GROUP BY GROUPING SETS`` with every request's sets (each also grouped
by ``w``, the window) and every request's aggregates; ``grouping()`` of the keys tells which
set a row of the answer belongs to, and each request gets the rows of its own sets.

Joining a prediction's features and label to it is what such a statement costs (one hash
aggregation over all the rows read); the aggregates on top are cheap. So
:func:`rows_for` scans once for every analysis configured for the model and keeps the other
analyses' answers in :class:`SharedScans` until they ask: the analyses of one cycle read a
version's rows once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modeltel.analyzer.base.errors import StoreError
from modeltel.analyzer.base.prediction_rows import (
    RowCounts,
    RowShape,
    feature_kinds,
    prediction_rows_sql,
    row_counts,
    shape_of,
)
from modeltel.analyzer.base.query import Params, TimeWindows, prediction_filter
from modeltel.analyzer.base.store import Store


@dataclass(frozen=True)
class Aggregates:
    """What one request computes over the rows: the expression of each of its keys (in the
    order of :attr:`RowRequest.keys`) and its aggregate expressions."""

    keys: tuple[str, ...]
    values: tuple[str, ...]


@dataclass(frozen=True)
class RowRequest:
    """What one analysis reads from a version's prediction rows: prediction ``columns``,
    ``features`` (names) and ``labels``, the ``keys`` and ``sets`` it groups by;
    ``build(shape, params, scope)`` gives its :class:`Aggregates`
    over the merged shape (a feature's column is ``shape.feature_column(name)``, its type
    ``shape.categorical(name)``); ``scope`` is the condition selecting the version's rows of
    the windows, for a subquery of its own (the most frequent values of a feature). ``key``
    identifies what it computes (equal keys, equal answers)."""

    key: Any
    columns: frozenset[str]
    features: frozenset[str]
    labels: bool
    keys: tuple[str, ...]
    """The names of its grouping keys."""
    sets: tuple[tuple[str, ...], ...]
    """Its grouping sets, each a tuple of key names (``w`` is always grouped by)."""
    build: Callable[[RowShape, Params, str], Aggregates] = field(compare=False)


Answer = list[tuple[Any, ...]]
"""A request's rows: ``(w, set index, *its key values, *its values)``; a key that its set
does not group by is None."""


def merged_shape(store: Store, model: str, requests: Iterable[RowRequest]) -> RowShape:
    """The row shape carrying what every one of ``requests`` reads (feature types as the
    store knows them; a feature it has never seen is taken as numeric)."""
    wanted = list(requests)
    names = {f for r in wanted for f in r.features}
    kinds = feature_kinds(store, names, model)
    return shape_of(
        set().union(*(r.columns for r in wanted)),
        {name: kinds.get(name, False) for name in names},
        any(r.labels for r in wanted),
    )


def scan_sql(
    model: str,
    version: str,
    windows: TimeWindows,
    shape: RowShape,
    requests: Sequence[RowRequest],
    params: Params,
    *,
    filter_labels: bool = True,
) -> tuple[str, Callable[[Sequence[tuple[Any, ...]]], list[Answer]]]:
    """The one statement of ``requests`` over the rows of ``shape``, and the function that
    splits its rows into each request's :data:`Answer` (in the order of ``requests``)."""
    rows = prediction_rows_sql(model, version, windows, shape, params, filter_labels=filter_labels)
    scope = prediction_filter(model, version, windows, params)
    built = [r.build(shape, params, scope) for r in requests]
    keys: list[str] = []  # alias of every key, request by request
    key_sql: list[str] = []
    values: list[str] = []
    for i, (request, aggregates) in enumerate(zip(requests, built, strict=True)):
        for alias, expression in zip(request.keys, aggregates.keys, strict=True):
            keys.append(f"r{i}_{alias}")
            key_sql.append(f"{expression} AS r{i}_{alias}")
        values += [f"{v} AS r{i}_v{j}" for j, v in enumerate(aggregates.values)]
    sets: list[tuple[str, ...]] = []
    for i, request in enumerate(requests):
        for grouped in request.sets:
            named = tuple(f"r{i}_{alias}" for alias in grouped)
            if named not in sets:
                sets.append(named)

    def mask(grouped: tuple[str, ...]) -> int:
        # grouping() has one bit per argument, the first the highest; 1: not grouped by
        bits = 0
        for key in keys:
            bits = bits * 2 + (key not in grouped)
        return bits

    source = f"(SELECT *, {', '.join(key_sql)} FROM ({rows}))" if key_sql else f"({rows})"
    gid = f"grouping({', '.join(keys)})" if keys else "toUInt64(0)"
    group = ", ".join("(" + ", ".join(("w", *s)) + ")" for s in sets)
    select = ", ".join(["w", f"{gid} AS gid", *keys, *values])
    sql = f"SELECT {select} FROM {source} GROUP BY GROUPING SETS ({group})"

    def split(answer: Sequence[tuple[Any, ...]]) -> list[Answer]:
        out: list[Answer] = []
        key_at = 0
        value_at = 2 + len(keys)
        for i, (request, aggregates) in enumerate(zip(requests, built, strict=True)):
            masks = {mask(tuple(f"r{i}_{a}" for a in s)): n for n, s in enumerate(request.sets)}
            width, count = len(request.keys), len(aggregates.values)
            mine: Answer = []
            for row in answer:
                index = masks.get(int(row[1]))
                if index is not None:
                    grouped = request.sets[index]
                    own = [
                        row[2 + key_at + k] if alias in grouped else None
                        for k, alias in enumerate(request.keys)
                    ]
                    mine.append((row[0], index, *own, *row[value_at : value_at + count]))
            out.append(mine)
            key_at += width
            value_at += count
        return out

    return sql, split


class SharedScans:
    """What one scan computed for requests that have not asked yet, handed out once and kept
    at most ``keep_s`` seconds, while the version's :class:`RowCounts` stay the same. Safe to
    share between threads."""

    def __init__(self, keep_s: float = 120.0, limit: int = 256) -> None:
        self.keep_s, self.limit = keep_s, limit
        self._kept: dict[Any, tuple[float, Answer]] = {}
        self._lock = threading.Lock()

    def put(self, key: Any, answer: Answer) -> None:
        now = time.monotonic()
        with self._lock:
            for old in [k for k, (at, _) in self._kept.items() if now - at > self.keep_s]:
                del self._kept[old]
            while len(self._kept) >= self.limit:
                del self._kept[next(iter(self._kept))]
            self._kept[key] = (now, answer)

    def take(self, key: Any) -> Answer | None:
        with self._lock:
            kept = self._kept.pop(key, None)
        if kept is None or time.monotonic() - kept[0] > self.keep_s:
            return None
        return kept[1]


@dataclass
class RowScans:
    """The scans of one Analyzer: ``shared`` answers, and ``companions(model)`` — the requests
    of every analysis configured for ``model``, by kind."""

    shared: SharedScans = field(default_factory=SharedScans)
    companions: Callable[[str], Mapping[str, RowRequest]] = lambda model: {}


def rows_for(
    store: Store,
    scans: RowScans,
    kind: str,
    model: str,
    version: str,
    windows: TimeWindows,
    request: RowRequest,
) -> tuple[Answer, RowCounts]:
    """The :data:`Answer` of ``request`` (analysis ``kind``) over ``model``/``version`` in
    ``windows`` (none without predictions) and the counts it was computed at: kept from a
    scan made for another analysis of the model, else one scan for every companion, whose
    answers are kept for them. A statement the store refuses with companions is run again
    for ``request`` alone, so that one analysis's failure is its own."""
    counts = row_counts(store, model, version, windows)
    if not counts.predictions:
        return [], counts
    key = (kind, request.key, model, version, windows, counts)
    kept = scans.shared.take(key)
    if kept is not None:
        return kept, counts
    others = {k: r for k, r in scans.companions(model).items() if k != kind}
    kinds, requests = [kind, *others], [request, *others.values()]
    try:
        answers = _scan(store, model, version, windows, requests, counts)
    except StoreError:
        if not others:
            raise
        return _scan(store, model, version, windows, [request], counts)[0], counts
    for other, req, answer in zip(kinds[1:], requests[1:], answers[1:], strict=True):
        scans.shared.put((other, req.key, model, version, windows, counts), answer)
    return answers[0], counts


def _scan(
    store: Store,
    model: str,
    version: str,
    windows: TimeWindows,
    requests: Sequence[RowRequest],
    counts: RowCounts,
) -> list[Answer]:
    params = Params()
    shape = merged_shape(store, model, requests)
    sql, split = scan_sql(
        model, version, windows, shape, requests, params, filter_labels=counts.filter_labels
    )
    return split(store.query_rows(sql, parameters=params.values))
