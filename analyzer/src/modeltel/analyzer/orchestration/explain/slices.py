"""The slices of a model's traffic and their sums, counted in ClickHouse.

A :class:`Dimension` cuts the predictions into slices: a categorical feature by its value (its
``max_values`` most frequent over both windows, the rest ``other``), a numeric feature by the
deciles of the model's reference (of the window before when the reference lacks it), and
``service.name`` by the serving service (its ``max_values`` most frequent, the rest
``other``). A prediction without a value is in the slice
:data:`~modeltel.analyzer.base.segments.MISSING`.

:func:`slice_sums` is one statement over both windows (the prediction rows of
:func:`~modeltel.analyzer.base.prediction_rows.prediction_rows_sql` joined by key to each
prediction's slices packed as small integer codes, one ``GROUP BY`` of every slice of every
dimension, or pair of dimensions, and of all rows): Python receives each slice's
:class:`~.decomposition.Side` per window. At 1M predictions an hour with 20 features the
codes cost a third of pivoting the values themselves (``bench/explain.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from modeltel.analyzer.base.prediction_rows import (
    ROW_KEY,
    prediction_rows_sql,
    row_counts,
    shape_of,
)
from modeltel.analyzer.base.query import Params, TimeWindows, prediction_filter
from modeltel.analyzer.base.segments import OTHER, SERVICE, SegmentDimension, decile_edges
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.orchestration.explain.decomposition import Side

Dimension = SegmentDimension
"""One way of cutting the traffic: the segment dimensions of every analysis."""

Key = tuple[tuple[str, str], ...]
"""A slice: its (dimension, value) pairs."""


def dimensions(
    store: Store,
    model: str,
    version: str,
    windows: TimeWindows,
    before: TimeWindows,
    names: Sequence[str] | None,
) -> list[Dimension]:
    """Every dimension of the version's traffic in ``windows`` (or those ``names``): its
    features, sorted by name, then :data:`SERVICE`. A numeric feature's edges are the deciles
    of the model's reference, else of the predictions of ``before``; one whose values are all
    equal is left out."""
    params = Params()
    scope = prediction_filter(model, version, windows, params)
    features = {
        str(name): bool(categorical)
        for name, categorical in store.query_rows(
            f"SELECT feature, any(categorical) FROM ml_features WHERE {scope} GROUP BY feature",
            parameters=params.values,
        )
    }
    wanted = [*sorted(features), SERVICE] if names is None else list(names)
    unknown = [n for n in wanted if n != SERVICE and n not in features]
    if unknown:
        raise KeyError(", ".join(map(repr, unknown)))
    numeric = [n for n in wanted if n != SERVICE and not features[n]]
    edges = decile_edges(store, model, version, before, numeric)
    out = []
    for name in wanted:
        if name == SERVICE or features[name]:
            out.append(Dimension(name))
        elif edges.get(name):
            out.append(Dimension(name, categorical=False, edges=edges[name]))
    return out


@dataclass(frozen=True)
class Measure:
    """What is summed per slice: the rows the metric counts (SQL condition ``base``), its
    per-row ``value`` (SQL, ``{positive}`` standing for the class ``positive``), the
    prediction ``columns`` and whether labels are joined."""

    base: str
    value: str
    columns: frozenset[str]
    labels: bool
    positive: str | None = None
    lookup: tuple[str, dict[str, float]] | None = None
    """(dimension, value by slice name): the per-row value is that of the row's slice of
    that dimension (one of the cuts), counting the rows that have one; replaces ``base`` and
    ``value``."""


SliceSums = dict[Key, tuple[Side, Side]]
"""Each slice's sums before and after; the key ``()`` holds all rows."""

NO_PREALLOCATION = {"collect_hash_table_stats_during_aggregation": 0}
"""Settings of the slice statement. With the statistics on, ClickHouse sizes the hash tables of
a repeated statement from the earlier runs; at 1M predictions an hour the third explanation in a
process then peaked at 9.5 GiB instead of 1.8 GiB, and took twice the CPU."""

CELL_BITS = 20
"""Bits of one dimension's code in a cell (codes stay below 2²⁰: ``max_values`` ≤ 200)."""


@dataclass(frozen=True)
class _Coded:
    """A dimension's small-integer code of a row: 0 without a value (or NaN); 1 ``other`` (a
    categorical value or service beyond its ``top``) or the first numeric bin; then the top
    values in order, or the next bins. A feature's code is packed into column ``c<word>`` at
    ``shift``, ``bits`` wide; the service's is computed on the prediction row."""

    dimension: Dimension
    top: tuple[str, ...]
    word: int
    shift: int
    bits: int

    def code_sql(self, params: Params) -> str:
        """The code of a feature row of ``ml_features``, or of a prediction row (service)."""
        if self.dimension.name == SERVICE:
            top = params.add(list(self.top), "Array(String)")
            return f"if(service_name IS NULL, 0, 1 + indexOf({top}, service_name))"
        if self.dimension.categorical:
            top = params.add(list(self.top), "Array(String)")
            return f"if(value IS NULL, 0, 1 + indexOf({top}, value))"
        above = " + ".join(
            f"(value_num >= {params.add(e, 'Float64')})" for e in self.dimension.edges
        )
        return f"if(value_num IS NULL OR isNaN(value_num), 0, 1 + {above})"

    def unpack_sql(self, params: Params) -> str:
        """The code, read on the joined row."""
        if self.dimension.name == SERVICE:
            return self.code_sql(params)
        return f"bitAnd(bitShiftRight(c{self.word}, {self.shift}), {(1 << self.bits) - 1})"

    @property
    def codes(self) -> int:
        """How many codes the dimension's rows can have."""
        return 2 + (len(self.top) if self.dimension.categorical else len(self.dimension.edges))

    def raw(self, code: int) -> object:
        """The key value :meth:`Dimension.value` names (None: no value)."""
        if code == 0:
            return None
        if not self.dimension.categorical:
            return code - 1
        return self.top[code - 2] if 2 <= code < 2 + len(self.top) else OTHER


def slice_sums(
    store: Store,
    model: str,
    version: str,
    windows: TimeWindows,
    sides: tuple[int, int],
    measure: Measure,
    cuts: Sequence[Dimension],
    *,
    pairs: bool = False,
    most: int = 20,
) -> SliceSums:
    """The sums of every slice of ``cuts`` (with ``pairs``: of every pair of them) over the
    window keys ``sides`` (before, after) of ``windows``, in one statement.

    Each feature's rows are read by a branch of their own that turns the value into its code
    (:class:`_Coded`; the most frequent categorical values and services come from one
    statement each before), and one ``GROUP BY`` of the row key packs a prediction's codes
    into a few ``UInt64`` columns (``groupBitOr``: a handful of integer states per prediction
    instead of one value per feature). Joined to the prediction and label rows, each row
    yields its measure and one *cell* per grouping set — set index and codes in one integer —
    and the answer is grouped by window and cell."""
    names = range(len(cuts))
    grouped = itertools.combinations(names, 2) if pairs else ((n,) for n in names)
    sets: tuple[tuple[int, ...], ...] = ((), *grouped)
    params = Params()
    scope = prediction_filter(model, version, windows, params)
    coded = _codes(store, model, version, windows, cuts, most)
    service = any(d.name == SERVICE for d in cuts)
    columns = set(measure.columns) | ({"service_name"} if service else set())
    shape = shape_of(columns, {}, measure.labels)
    counts = row_counts(store, model, version, windows)
    rows = prediction_rows_sql(
        model, version, windows, shape, params, filter_labels=counts.filter_labels, keyed=True
    )
    features = [c for c in coded.values() if c.dimension.name != SERVICE]
    if features:
        branches = " UNION ALL ".join(
            f"SELECT {ROW_KEY} AS k, toUInt8({c.word}) AS word, "
            f"bitShiftLeft(toUInt64({c.code_sql(params)}), {c.shift}) AS bits FROM ml_features "
            f"WHERE {scope} AND feature = {params.add(c.dimension.name, 'String')}"
            for c in features
        )
        words = 1 + max(c.word for c in features)
        packed = ", ".join(f"groupBitOrIf(bits, word = {i}) AS c{i}" for i in range(words))
        rows = (
            f"SELECT * FROM ({rows}) AS p LEFT JOIN (SELECT k, {packed} FROM ({branches}) "
            "GROUP BY k) AS v USING (k)"
        )
    cells = []
    for index, dims in enumerate(sets):
        codes = [coded[i].unpack_sql(params) for i in dims] + ["0"] * (2 - len(dims))
        cells.append(
            f"bitOr(bitShiftLeft(toUInt64({index}), {2 * CELL_BITS}), "
            f"bitOr(bitShiftLeft(toUInt64({codes[0]}), {CELL_BITS}), toUInt64({codes[1]})))"
        )
    base, value = measure.base, measure.value
    if "{positive}" in value:
        value = value.replace("{positive}", params.add(measure.positive or "", "String"))
    if measure.lookup is not None:
        base, value = _lookup_sql(measure.lookup, cuts, coded, params)
    labelled = "toUInt8(has_label = 1)" if measure.labels else "toUInt8(0)"
    # The measure is computed before the rows are repeated per cell: only numbers are copied.
    each = (
        f"SELECT w, toUInt8({base}) AS b, if(b = 1, {value}, 0) AS x, {labelled} AS l, "
        f"[{', '.join(cells)}] AS cells FROM ({rows})"
    )
    sql = (
        "SELECT w, cell, count(), sum(b), sum(x), sum(x * x), sum(l) "
        f"FROM ({each}) ARRAY JOIN cells AS cell GROUP BY w, cell"
    )
    out: SliceSums = {}
    before_key, after_key = sides
    mask = (1 << CELL_BITS) - 1
    for w, cell, n, base, total, squares, labels in store.query_rows(
        sql, parameters=params.values, settings=NO_PREALLOCATION
    ):
        cell = int(cell)
        dims = sets[cell >> 2 * CELL_BITS]
        codes = ((cell >> CELL_BITS) & mask, cell & mask)
        key = tuple(
            (cuts[d].name, cuts[d].value(coded[d].raw(codes[j]))) for j, d in enumerate(dims)
        )
        side = Side(int(n), int(base), float(total or 0.0), float(squares or 0.0), int(labels))
        old0, old1 = out.get(key, (Side(), Side()))
        if int(w) == before_key:
            out[key] = (old0 + side, old1)
        elif int(w) == after_key:
            out[key] = (old0, old1 + side)
    return out


def _lookup_sql(
    lookup: tuple[str, dict[str, float]],
    cuts: Sequence[Dimension],
    coded: dict[int, _Coded],
    params: Params,
) -> tuple[str, str]:
    """(base, value) SQL of a :attr:`Measure.lookup`: the rows with a code of the dimension,
    and the value of their slice (0 for a slice it does not name)."""
    name, by_slice = lookup
    index = next(i for i, d in enumerate(cuts) if d.name == name)
    c = coded[index]
    values = [by_slice.get(c.dimension.value(c.raw(code)), 0.0) for code in range(c.codes)]
    code = c.unpack_sql(params)
    return f"{code} != 0", f"arrayElement({params.add(values, 'Array(Float64)')}, {code} + 1)"


def _codes(
    store: Store,
    model: str,
    version: str,
    windows: TimeWindows,
    cuts: Sequence[Dimension],
    most: int,
) -> dict[int, _Coded]:
    """The :class:`_Coded` of each dimension (by its index in ``cuts``), the features' packed
    into 64-bit words in order; the ``most`` most frequent values (ties by value) over
    ``windows`` of the categorical features in one statement, of the service in another."""
    params = Params()
    scope = prediction_filter(model, version, windows, params)
    categorical = [d.name for d in cuts if d.name != SERVICE and d.categorical]
    tops: dict[str, list[str]] = {name: [] for name in categorical}
    if categorical:
        rows = store.query_rows(
            "SELECT feature, value FROM (SELECT feature, value, count() AS n FROM ml_features "
            f"WHERE {scope} AND feature IN {params.add(categorical, 'Array(String)')} "
            "AND value IS NOT NULL GROUP BY feature, value) "
            f"ORDER BY feature, n DESC, value LIMIT {int(most)} BY feature",
            parameters=params.values,
        )
        for name, value in rows:
            tops[str(name)].append(str(value))
    if any(d.name == SERVICE for d in cuts):
        tops[SERVICE] = [
            str(name)
            for (name,) in store.query_rows(
                f"SELECT service_name FROM ml_predictions WHERE {scope} AND service_name IS NOT "
                f"NULL GROUP BY service_name ORDER BY count() DESC, service_name LIMIT {int(most)}",
                parameters=params.values,
            )
        ]
    out: dict[int, _Coded] = {}
    word, shift = 0, 0
    for i, d in enumerate(cuts):
        top = tuple(tops.get(d.name, ()))
        if d.name == SERVICE:
            out[i] = _Coded(d, top, 0, 0, 0)
            continue
        largest = 1 + len(top) if d.categorical else 1 + len(d.edges)
        bits = max(1, largest.bit_length())
        if shift + bits > 64:
            word, shift = word + 1, 0
        out[i] = _Coded(d, top, word, shift, bits)
        shift += bits
    return out
