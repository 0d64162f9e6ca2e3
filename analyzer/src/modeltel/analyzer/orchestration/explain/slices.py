"""The slices of a model's traffic and their sums, counted in ClickHouse.

A :class:`Dimension` cuts the predictions into slices: a categorical feature by its value (its
``max_values`` most frequent over both windows, the rest ``other``), a numeric feature by the
deciles of the model's reference (of the window before when the reference lacks it), and
``service.name`` by the serving service. A prediction without a value is in the slice
:data:`MISSING`.

:func:`slice_sums` is one statement over both windows (the row join of
:func:`~modeltel.analyzer.base.row_scan.scan_sql`, one ``GROUP BY GROUPING SETS`` with one set
per dimension, or per pair of dimensions, and one for all rows): Python receives each slice's
:class:`~.decomposition.Side` per window.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from modeltel.analyzer.base.prediction_rows import RowShape, row_counts, shape_of, top_values_key
from modeltel.analyzer.base.query import Params, TimeWindows, prediction_filter
from modeltel.analyzer.base.row_scan import Aggregates, RowRequest, scan_sql
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.orchestration.explain.decomposition import Side

MISSING = "(missing)"
"""The slice of the predictions without a value of the dimension."""
OTHER = "other"
"""The slice of a categorical feature's values beyond its most frequent."""
SERVICE = "service.name"
"""The dimension of the serving service (the spans' resource attribute)."""
DECILES = tuple(round(0.1 * i, 1) for i in range(1, 10))

Key = tuple[tuple[str, str], ...]
"""A slice: its (dimension, value) pairs."""


@dataclass(frozen=True)
class Dimension:
    """One way of cutting the traffic: ``name`` (a feature, or :data:`SERVICE`), whether it is
    ``categorical``, and for a numeric feature the ``edges`` of its bins."""

    name: str
    categorical: bool = True
    edges: tuple[float, ...] = ()

    def key_sql(self, shape: RowShape, params: Params, scope: str, most: int) -> str:
        """The SQL of a row's slice of this dimension (NULL: no value)."""
        if self.name == SERVICE:
            return "service_name"
        if self.categorical:
            return top_values_key(shape, params, scope, self.name, most, OTHER)
        column = shape.feature_column(self.name)
        edges = params.add(list(self.edges), "Array(Float64)")
        return f"if({column} IS NULL, NULL, toUInt8(arrayCount(e -> e <= {column}, {edges})))"

    def value(self, raw: object) -> str:
        """The slice's name of a key value the statement returned."""
        if raw is None:
            return MISSING
        if self.categorical:
            return str(raw)
        index, edges = int(raw), self.edges  # type: ignore[call-overload]
        if index == 0:
            return f"< {edges[0]:.4g}"
        if index == len(edges):
            return f"≥ {edges[-1]:.4g}"
        return f"[{edges[index - 1]:.4g}, {edges[index]:.4g})"


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
    edges = _edges(store, model, version, before, numeric)
    out = []
    for name in wanted:
        if name == SERVICE or features[name]:
            out.append(Dimension(name))
        elif edges.get(name):
            out.append(Dimension(name, categorical=False, edges=edges[name]))
    return out


def _edges(
    store: Store, model: str, version: str, before: TimeWindows, names: Sequence[str]
) -> dict[str, tuple[float, ...]]:
    """The distinct deciles of each numeric feature (reference first, then ``before``)."""
    if not names:
        return {}
    levels = ", ".join(map(str, DECILES))
    found: dict[str, tuple[float, ...]] = {}
    rows = store.query_rows(
        f"SELECT feature, quantilesDeterministic({levels})(value_num, row_id) FROM ml_reference "
        "WHERE model = {model:String} AND feature IN {names:Array(String)} "
        "AND value_num IS NOT NULL AND NOT isNaN(value_num) GROUP BY feature",
        parameters={"model": model, "names": list(names)},
    )
    found.update({str(name): _distinct(values) for name, values in rows})
    missing = [n for n in names if n not in found]
    if missing:
        params = Params()
        scope = prediction_filter(model, version, before, params)
        rows = store.query_rows(
            f"SELECT feature, quantilesDeterministic({levels})"
            "(value_num, cityHash64(prediction_id)) "
            f"FROM ml_features WHERE {scope} AND feature IN {params.add(missing, 'Array(String)')} "
            "AND value_num IS NOT NULL AND NOT isNaN(value_num) GROUP BY feature",
            parameters=params.values,
        )
        found.update({str(name): _distinct(values) for name, values in rows})
    return found


def _distinct(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(sorted({float(v) for v in values}))


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


SliceSums = dict[Key, tuple[Side, Side]]
"""Each slice's sums before and after; the key ``()`` holds all rows."""


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
    window keys ``sides`` (before, after) of ``windows``, in one statement."""
    names = tuple(f"d{i}" for i in range(len(cuts)))
    grouped = itertools.combinations(names, 2) if pairs else ((n,) for n in names)
    sets: tuple[tuple[str, ...], ...] = ((), *grouped)
    features = frozenset(d.name for d in cuts if d.name != SERVICE)

    def build(shape: RowShape, params: Params, scope: str) -> Aggregates:
        keys = tuple(d.key_sql(shape, params, scope, most) for d in cuts)
        labels = "countIf(has_label = 1)" if shape.labels else "toUInt64(0)"
        value = measure.value
        if "{positive}" in value:
            value = value.replace("{positive}", params.add(measure.positive or "", "String"))
        values = (
            "count()",
            f"countIf({measure.base})",
            f"sumIf({value}, {measure.base})",
            f"sumIf(({value}) * ({value}), {measure.base})",
            labels,
        )
        return Aggregates(keys, values)

    request = RowRequest(
        key=None,
        columns=measure.columns
        | ({"service_name"} if any(d.name == SERVICE for d in cuts) else set()),
        features=features,
        labels=measure.labels,
        keys=names,
        sets=sets,
        build=build,
    )
    kinds = {d.name: d.categorical for d in cuts if d.name != SERVICE}
    shape = shape_of(request.columns, kinds, request.labels)
    counts = row_counts(store, model, version, windows)
    params = Params()
    sql, split = scan_sql(
        model, version, windows, shape, [request], params, filter_labels=counts.filter_labels
    )
    answer = split(store.query_rows(sql, parameters=params.values))[0]
    out: SliceSums = {}
    before_key, after_key = sides
    for row in answer:
        w, index = int(row[0]), int(row[1])
        in_set = sets[index]
        raw = row[2 : 2 + len(names)]
        key = tuple(
            (cuts[i].name, cuts[i].value(raw[i])) for i, n in enumerate(names) if n in in_set
        )
        n, base, total, squares, labels = row[2 + len(names) :]
        side = Side(int(n), int(base), float(total or 0.0), float(squares or 0.0), int(labels))
        old0, old1 = out.get(key, (Side(), Side()))
        if w == before_key:
            out[key] = (old0 + side, old1)
        elif w == after_key:
            out[key] = (old0, old1 + side)
    return out
