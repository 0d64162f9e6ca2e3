"""Two samples of one feature on a shared support, and each method's value on them.

:func:`align` puts the reference's and the current sample's counts (:class:`.histogram.Side`)
on one ordered support: the union of categories, of distinct numbers (exact), or of grid
slots (binned; an exact side is re-binned in numpy on the same grid). :func:`evaluate`
computes one method on a :class:`Pair` and says in ``details`` how (statistic, bins, the
error bound of binned Wasserstein/KS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from modeltel.analyzer.analyses.drift import stats
from modeltel.analyzer.analyses.drift.grid import SLOTS, Grid
from modeltel.analyzer.analyses.drift.histogram import OTHER, Side

WASSERSTEIN_MIN_STD = 0.001
"""Wasserstein is divided by max(reference std, this), as Evidently does."""


@dataclass
class Pair:
    """Aligned counts of one feature: ``reference[i]`` and ``current[i]`` at ``support[i]``."""

    feature: str
    categorical: bool
    exact: bool
    support: NDArray[Any]
    reference: NDArray[np.float64]
    current: NDArray[np.float64]
    half_widths: NDArray[np.float64] | None = None
    right_edges: NDArray[np.float64] | None = None
    reference_std: float = math.nan
    missing: tuple[int, int] = (0, 0)
    """Missing values (reference, current): NULL, NaN or text in a numeric feature."""

    @property
    def n_reference(self) -> int:
        return int(self.reference.sum())

    @property
    def n_current(self) -> int:
        return int(self.current.sum())

    @property
    def distinct(self) -> int:
        """Distinct values/categories seen on either side (large for binned features)."""
        if not self.categorical and not self.exact:
            return max(len(self.support), SLOTS)
        return int(np.count_nonzero((self.reference + self.current) > 0))


@lru_cache(maxsize=64)
def _geometry(grid: Grid) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(midpoint, half width, right edge) of every slot; infinite slots at their finite side."""
    left, right = grid.edges()
    with np.errstate(invalid="ignore"):
        mid = (left + right) / 2
        half = (right - left) / 2
    mid = np.where(
        np.isfinite(left) & np.isfinite(right), mid, np.where(np.isfinite(left), left, right)
    )
    half = np.where(np.isfinite(left) & np.isfinite(right), half, math.inf)
    mid[0], mid[-1] = -math.inf, math.inf
    half[0] = half[-1] = 0.0
    return mid, half, right


def _slot_counts(side: Side, grid: Grid) -> NDArray[np.float64]:
    if side.slot_counts is not None:
        return side.slot_counts
    if side.values is None or side.value_counts is None or side.values.size == 0:
        return np.zeros(SLOTS)
    counts = np.bincount(grid.slots(side.values), weights=side.value_counts, minlength=SLOTS)
    return counts.astype(np.float64)


def align(
    feature: str, reference: Side, current: Side, *, categorical: bool, grid: Grid | None
) -> Pair:
    """Both sides' counts on one ordered support."""
    pair = _align(feature, reference, current, categorical=categorical, grid=grid)
    pair.missing = (reference.missing, current.missing)
    return pair


def _align(
    feature: str, reference: Side, current: Side, *, categorical: bool, grid: Grid | None
) -> Pair:
    if categorical:
        ref = reference.categories or {}
        cur = current.categories or {}
        keys = sorted(set(ref) | set(cur), key=lambda k: (k == OTHER, k))
        return Pair(
            feature=feature,
            categorical=True,
            exact=True,
            support=np.array(keys, dtype=object),
            reference=np.array([ref.get(k, 0) for k in keys], dtype=np.float64),
            current=np.array([cur.get(k, 0) for k in keys], dtype=np.float64),
        )
    if reference.slot_counts is None and current.slot_counts is None:
        ref_values = reference.values if reference.values is not None else np.empty(0)
        cur_values = current.values if current.values is not None else np.empty(0)
        support = np.union1d(ref_values, cur_values)
        return Pair(
            feature=feature,
            categorical=False,
            exact=True,
            support=support,
            reference=_on_support(support, ref_values, reference.value_counts),
            current=_on_support(support, cur_values, current.value_counts),
            reference_std=reference.std,
        )
    if grid is None:
        raise ValueError(f"feature {feature} is binned but has no grid")
    ref_slots, cur_slots = _slot_counts(reference, grid), _slot_counts(current, grid)
    used = np.flatnonzero((ref_slots + cur_slots) > 0)
    mid, half, right = _geometry(grid)
    return Pair(
        feature=feature,
        categorical=False,
        exact=False,
        support=mid[used],
        reference=ref_slots[used],
        current=cur_slots[used],
        half_widths=half[used],
        right_edges=right[used],
        reference_std=reference.std,
    )


def _on_support(
    support: NDArray[np.float64], values: NDArray[np.float64], counts: NDArray[np.float64] | None
) -> NDArray[np.float64]:
    out = np.zeros(support.size)
    if counts is not None and values.size:
        out[np.searchsorted(support, values)] = counts
    return out


def binned(
    pair: Pair, bins: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], dict[str, Any]]:
    """Reference and current counts over the bins a binned method compares, and their edges.

    Categories are their own bins; numeric features use reference-quantile bins (right-closed,
    ``(-inf, e1], (e1, e2], …``), or one bin per distinct value when there are at most
    ``bins`` of them.
    """
    if pair.categorical:
        return pair.reference, pair.current, {"bins": int(pair.support.size)}
    if pair.exact and pair.support.size <= bins:
        edges = [float(v) for v in pair.support]
        return pair.reference, pair.current, {"bins": int(pair.support.size), "values": edges}
    cuts = stats.quantile_cuts(pair.reference, bins)
    upper = pair.support if pair.exact else pair.right_edges
    assert upper is not None
    edges = [float(upper[i]) for i in cuts[:-1]]
    return (
        stats.group(pair.reference, cuts),
        stats.group(pair.current, cuts),
        {"bins": len(cuts), "edges": edges},
    )


def evaluate(method: str, pair: Pair, bins: int) -> tuple[float, dict[str, Any]]:
    """The value of ``method`` on ``pair`` and the details that explain it."""
    if pair.n_reference == 0 or pair.n_current == 0:
        return math.nan, {}
    if method == "ks":
        return _ks(pair)
    if method == "wasserstein":
        return _wasserstein(pair)
    if method == "new_category_share":
        value = stats.new_category_share(pair.reference, pair.current)
        new = [
            str(k)
            for k, r, c in zip(pair.support, pair.reference, pair.current, strict=True)
            if r == 0 and c > 0
        ]
        return value, {"new_categories": new[:20], "new_category_count": len(new)}
    ref, cur, details = binned(pair, bins)
    if method == "chi_squared":
        statistic, pvalue, dof = stats.chi_squared(ref, cur)
        return pvalue, {**details, "statistic": statistic, "dof": dof}
    functions = {
        "psi": stats.psi,
        "jensen_shannon": stats.jensen_shannon,
        "kl_divergence": stats.kl_divergence,
        "hellinger": stats.hellinger,
        "total_variation": stats.total_variation,
    }
    if method not in functions:
        raise ValueError(f"unknown method {method!r}")
    if method in ("psi", "kl_divergence"):
        details["epsilon"] = stats.EPSILON
    return functions[method](ref, cur), details


def _ks(pair: Pair) -> tuple[float, dict[str, Any]]:
    if pair.exact:
        statistic, pvalue = stats.ks(pair.support, pair.reference, pair.current)
        return pvalue, {"statistic": statistic, "exact": True}
    lower, upper = stats.ks_bounds(pair.reference, pair.current)
    pvalue = stats.ks_pvalue(lower, pair.n_reference, pair.n_current)
    return pvalue, {"statistic": lower, "statistic_upper_bound": upper, "exact": False}


def _wasserstein(pair: Pair) -> tuple[float, dict[str, Any]]:
    finite = np.isfinite(pair.support)
    ref, cur = pair.reference[finite], pair.current[finite]
    if ref.sum() == 0 or cur.sum() == 0:
        return math.nan, {"reason": "no finite values on one side"}
    distance = stats.wasserstein(pair.support[finite], ref, cur)
    std = pair.reference_std
    if not math.isfinite(std):
        std = stats.reference_std(pair.support[finite], ref)
    norm = max(std, WASSERSTEIN_MIN_STD)
    details: dict[str, Any] = {"distance": distance, "reference_std": std, "exact": pair.exact}
    infinite = pair.n_reference - int(ref.sum()), pair.n_current - int(cur.sum())
    if any(infinite):
        details["infinite_values"] = {"reference": infinite[0], "current": infinite[1]}
    if not pair.exact:
        assert pair.half_widths is not None
        details["bound"] = stats.wasserstein_bound(pair.half_widths[finite], ref, cur) / norm
    return distance / norm, details
