"""The SQL that turns a sample into counts, and the alignment of two samples' counts.

Three statements, each one scan over the rows of a model (``ml_features`` is ordered by
model, version, feature, time, so a window of all features is one contiguous range per
feature):

1. :func:`profile` (the reference only): per feature its type, size, distinct values, range
   and standard deviation; it decides how each numeric feature is counted:
   *exact* (one count per distinct value, see :data:`EXACT_LIMIT`) or *binned* on a
   :class:`~.grid.Grid`.
2. :func:`binned_counts`: ``countResample`` over grid slots of every binned feature.
3. :func:`exact_counts`: counts per distinct value (numeric) or category. A side that turns
   out to have too many distinct numbers is re-binned on the grid inside the same
   statement; categorical features keep their ``CATEGORY_CAP`` most frequent categories and
   pool the rest as ``OTHER``.

Python receives counts only (grid counts as Arrow arrays, no Python objects). Missing values
(NULL, NaN, and text received by a numeric feature — the quality analysis reports those as
wrong types) are counted, not compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from modeltel.analyzer.analyses.drift.grid import SLOTS, Grid
from modeltel.analyzer.analyses.drift.stats import reference_std
from modeltel.analyzer.base.query import Params
from modeltel.analyzer.base.sources import Source
from modeltel.analyzer.base.store import Store

EXACT_LIMIT = 10_000
"""Default ``drift.exact_limit``: a numeric reference feature with at most this many distinct
values is counted exactly when its values repeat (≤ 1 distinct value per 4 rows) or the
current sample has at most 5 × this many rows. A side that turns out to have more than
2 × this many distinct numbers is re-binned on the grid."""
CATEGORY_CAP = 10_000
"""Categories kept per side; the rest are pooled into :data:`OTHER`."""
OTHER = "\x00other"


@dataclass
class Profile:
    """What the reference says about one feature."""

    feature: str
    categorical: bool
    rows: int
    finite: int
    distinct: int
    minimum: float
    maximum: float
    std: float
    q_low: float
    q_high: float

    def grid(self) -> Grid:
        return Grid.from_reference(self.q_low, self.q_high, self.minimum, self.maximum, self.std)


@dataclass
class Plan:
    """How each feature is counted: categorical, exact numeric or binned numeric."""

    categorical: set[str] = field(default_factory=set)
    exact: set[str] = field(default_factory=set)
    binned: set[str] = field(default_factory=set)
    grids: dict[str, Grid] = field(default_factory=dict)
    exact_cap: int = 2 * EXACT_LIMIT

    @property
    def features(self) -> list[str]:
        return sorted(self.categorical | self.exact | self.binned)


@dataclass
class Side:
    """Counts of one feature in one sample (and segment)."""

    rows: int = 0
    missing: int = 0
    values: NDArray[np.float64] | None = None
    value_counts: NDArray[np.float64] | None = None
    slot_counts: NDArray[np.float64] | None = None
    categories: dict[str, int] | None = None
    std: float = math.nan

    @property
    def size(self) -> int:
        """Values compared (not missing)."""
        return self.rows - self.missing


def _float(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def profile(store: Store, source: Source, features: list[str] | None = None) -> list[Profile]:
    """One scan of ``source``: type, size, distinct count, range and spread per feature."""
    params = Params()
    sub = source.sql(features, params)
    sql = f"""
SELECT feature,
       count() AS rows,
       max(c) AS categorical,
       countIf(isFinite(x)) AS finite,
       uniqCombinedIf(12)(x, isFinite(x)) AS distinct_numbers,
       uniqCombinedIf(12)(s, c = 1 AND s IS NOT NULL) AS distinct_texts,
       minIf(x, isFinite(x)) AS minimum,
       maxIf(x, isFinite(x)) AS maximum,
       stddevPopIf(x, isFinite(x)) AS std,
       quantilesDeterministicIf(0.001, 0.999)(x, d, isFinite(x)) AS q
FROM ({sub})
GROUP BY feature
ORDER BY feature"""
    rows = store.query_rows(sql, parameters=params.values)
    out = []
    for feature, n, categorical, finite, distinct_num, distinct_text, lo, hi, std, q in rows:
        is_cat = bool(categorical)
        out.append(
            Profile(
                feature=str(feature),
                categorical=is_cat,
                rows=int(n),
                finite=int(finite),
                # a sample of only missing values counts no distinct value (NULL from SQL)
                distinct=int((distinct_text if is_cat else distinct_num) or 0),
                minimum=_float(lo) if finite else math.nan,
                maximum=_float(hi) if finite else math.nan,
                std=_float(std) if finite else math.nan,
                q_low=_float(q[0]) if finite and q else math.nan,
                q_high=_float(q[1]) if finite and q else math.nan,
            )
        )
    return out


def make_plan(
    profiles: list[Profile],
    current_rows: int,
    types: dict[str, str],
    exact_limit: int = EXACT_LIMIT,
) -> Plan:
    """Decide per feature how it is counted (``types`` overrides the stored type)."""
    plan = Plan(exact_cap=max(2 * exact_limit, 1))
    for p in profiles:
        categorical = p.categorical
        if p.feature in types:
            categorical = types[p.feature] == "categorical"
        if categorical:
            plan.categorical.add(p.feature)
            continue
        plan.grids[p.feature] = p.grid()
        repeats = p.distinct * 4 <= p.finite
        if p.distinct <= exact_limit and (repeats or current_rows <= 5 * exact_limit):
            plan.exact.add(p.feature)
        else:
            plan.binned.add(p.feature)
    return plan


def _grid_arrays(plan: Plan, params: Params) -> tuple[str, str, str]:
    names = sorted(plan.grids)
    return (
        params.add(names, "Array(String)"),
        params.add([plan.grids[n].lo for n in names], "Array(Float64)"),
        params.add([plan.grids[n].width for n in names], "Array(Float64)"),
    )


def _slot_sql(x: str, plan: Plan, params: Params) -> str:
    names, los, widths = _grid_arrays(plan, params)
    lo = f"transform(feature, {names}, {los}, 0.)"
    width = f"transform(feature, {names}, {widths}, 1.)"
    return Grid.sql_slot(x, lo, width)


BINNED_BATCH = 4
"""Features counted per statement: each runs its own read pipeline, and a few at a time keep
the memory of a wide model flat (16 at once took twice the memory for the same speed)."""


def binned_counts(
    store: Store, source: Source, plan: Plan, segment_by: str | None = None, spread: bool = True
) -> dict[tuple[str, str], Side]:
    """Grid slot counts of every binned feature of ``plan`` (each row read once); the
    standard deviation too when ``spread`` (a reference needs it, a current sample does not)."""
    features = sorted(plan.binned)
    std = "stddevPopIf(x, isFinite(x))" if spread else "nan"
    out: dict[tuple[str, str], Side] = {}
    if segment_by is not None and features:
        params = Params()
        sub = source.sql(features, params, segment_by)
        slot = _slot_sql("ifNull(x, 0.)", plan, params)
        sql = (
            f"SELECT seg, feature, {_AGGREGATES.format(slots=SLOTS, slot='slot', std=std)} "
            f"FROM (SELECT seg, feature, x, {slot} AS slot FROM ({sub})) GROUP BY seg, feature"
        )
        out.update(_binned_sides(store.query_arrow(sql, params.values)))
        return out
    for start in range(0, len(features), BINNED_BATCH):
        # One branch per feature: the grid's numbers are literals, so no per-row lookup of
        # the feature's parameters (the branches read disjoint ranges of the sort key).
        params = Params()
        branches = []
        for feature in features[start : start + BINNED_BATCH]:
            grid = plan.grids[feature]
            slot = Grid.sql_slot("ifNull(x, 0.)", f"({grid.lo!r})", f"({grid.width!r})")
            branches.append(
                f"SELECT '' AS seg, {params.add(feature, 'String')} AS feature, "
                f"{_AGGREGATES.format(slots=SLOTS, slot=slot, std=std)} "
                f"FROM ({source.sql([feature], params)})"
            )
        sql = "\nUNION ALL\n".join(branches)
        out.update(_binned_sides(store.query_arrow(sql, params.values)))
    return out


_AGGREGATES = """count() AS rows,
       countIf(x IS NOT NULL AND NOT isNaN(x)) AS valid,
       {std} AS std,
       countResampleIf(0, {slots}, 1)({slot}, x IS NOT NULL AND NOT isNaN(x)) AS counts"""


def _binned_sides(table: pa.Table) -> dict[tuple[str, str], Side]:
    out: dict[tuple[str, str], Side] = {}
    if table.num_rows == 0:
        return out
    counts = table.column("counts").combine_chunks()
    flat = counts.flatten().to_numpy().astype(np.float64)
    offsets = counts.offsets.to_numpy()
    columns = {
        name: table.column(name).to_pylist() for name in ("seg", "feature", "rows", "valid", "std")
    }
    for i in range(table.num_rows):
        rows, valid = int(columns["rows"][i]), int(columns["valid"][i])
        out[(str(columns["seg"][i]), str(columns["feature"][i]))] = Side(
            rows=rows,
            missing=rows - valid,
            slot_counts=flat[offsets[i] : offsets[i + 1]],
            std=_float(columns["std"][i]) if valid else math.nan,
        )
    return out


def exact_counts(
    store: Store, source: Source, plan: Plan, segment_by: str | None = None
) -> dict[tuple[str, str], Side]:
    """Counts per distinct value (numeric) or category of the exact and categorical features."""
    features = sorted(plan.exact | plan.categorical)
    if not features:
        return {}
    params = Params()
    counted = []
    numeric = sorted(plan.exact)
    if numeric:
        counted.append(
            "SELECT seg, feature, if(isNaN(x), NULL, x) AS kx, "
            "CAST(NULL, 'Nullable(String)') AS ks, count() AS c "
            f"FROM ({source.sql(numeric, params, segment_by)}) GROUP BY seg, feature, kx"
        )
    categorical = sorted(plan.categorical)
    if categorical:
        counted.append(
            "SELECT seg, feature, CAST(NULL, 'Nullable(Float64)') AS kx, "
            "if(s IS NULL, toString(x), s) AS ks, count() AS c "
            f"FROM ({source.sql(categorical, params, segment_by)}) GROUP BY seg, feature, ks"
        )
    cats = params.add(categorical, "Array(String)")
    cap = params.add(plan.exact_cap, "UInt64")
    category_cap = params.add(CATEGORY_CAP, "UInt64")
    other = params.add(OTHER, "String")
    slot = _slot_sql("assumeNotNull(kx)", plan, params) if plan.grids else "toUInt32(0)"
    union = " UNION ALL ".join(counted)
    sql = f"""
SELECT seg, feature, binned, slot, kx_out AS kx, ks_out AS ks, sum(c) AS c
FROM (
    SELECT seg, feature, c, rank,
           n_keys > {cap} AND NOT is_cat AS binned,
           if(binned AND kx IS NOT NULL, {slot}, NULL) AS slot,
           if(binned, NULL, kx) AS kx_out,
           if(is_cat AND n_keys > {category_cap} AND rank > {category_cap}, {other}, ks) AS ks_out
    FROM (
        SELECT seg, feature, kx, ks, c, has({cats}, feature) AS is_cat,
               count() OVER (PARTITION BY seg, feature) AS n_keys,
               row_number() OVER (PARTITION BY seg, feature ORDER BY c DESC, kx, ks) AS rank
        FROM ({union})
    )
)
GROUP BY seg, feature, binned, slot, kx_out, ks_out"""
    return _sides_from_exact(store.query_arrow(sql, params.values), plan)


def _sides_from_exact(table: pa.Table, plan: Plan) -> dict[tuple[str, str], Side]:
    """Sides from the exact statement's rows, vectorised (no Python object per row)."""
    out: dict[tuple[str, str], Side] = {}
    if table.num_rows == 0:
        return out
    seg = pc.dictionary_encode(table.column("seg")).combine_chunks()
    feature = pc.dictionary_encode(table.column("feature")).combine_chunks()
    group = (
        seg.indices.to_numpy().astype(np.int64) * len(feature.dictionary)
        + feature.indices.to_numpy()
    )
    counts = table.column("c").to_numpy().astype(np.float64)
    kx = pc.fill_null(table.column("kx"), math.nan).to_numpy()
    slots = pc.fill_null(table.column("slot").cast(pa.int64()), -1).to_numpy()
    binned = pc.fill_null(table.column("binned").cast(pa.int8()), 0).to_numpy() > 0
    ks = table.column("ks")
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    for rows in np.split(order, bounds):
        first = int(rows[0])
        name = feature.dictionary[feature.indices[first].as_py()].as_py()
        key = (seg.dictionary[seg.indices[first].as_py()].as_py(), name)
        c = counts[rows]
        side = Side(rows=int(c.sum()))
        if name in plan.categorical:
            texts = ks.take(pa.array(rows)).to_pylist()
            side.categories = {}
            for text, n in zip(texts, c, strict=True):
                if text is None:
                    side.missing += int(n)
                else:
                    side.categories[text] = side.categories.get(text, 0) + int(n)
        elif binned[rows].any():
            has_slot = slots[rows] >= 0
            side.missing = int(c[~has_slot].sum())
            side.slot_counts = np.bincount(
                slots[rows][has_slot], weights=c[has_slot], minlength=SLOTS
            ).astype(np.float64)
        else:
            values = kx[rows]
            has_value = ~np.isnan(values)
            side.missing = int(c[~has_value].sum())
            ordered = np.argsort(values[has_value], kind="stable")
            side.values = values[has_value][ordered]
            side.value_counts = c[has_value][ordered]
            finite = np.isfinite(side.values)
            if finite.any():
                side.std = reference_std(side.values[finite], side.value_counts[finite])
        out[key] = side
    return out


def collect(
    store: Store,
    source: Source,
    plan: Plan,
    segment_by: str | None = None,
    *,
    spread: bool = True,
) -> dict[tuple[str, str], Side]:
    """All counts of ``source`` under ``plan``: ``{(segment, feature): Side}``; ``spread=False``
    leaves the binned features' standard deviation out (NaN)."""
    sides = binned_counts(store, source, plan, segment_by, spread)
    sides.update(exact_counts(store, source, plan, segment_by))
    return sides
