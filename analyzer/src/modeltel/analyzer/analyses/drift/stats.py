"""Drift statistics as pure functions: counts in, number out.

Every function takes the counts of the reference and the current sample over one shared,
ordered support (numeric: ascending distinct values or bins; categorical: categories) and
returns a number. None touches raw rows; the SQL in :mod:`.histogram` produces the counts.

Conventions (each equals its scipy reference on the same counts):

- shares are counts / total; empty supports give NaN, callers report ``no_data``.
- ``psi`` and ``kl_divergence`` replace empty shares by ``EPSILON`` (1e-4) and renormalise
  before the logarithm, so an empty bin costs a finite, documented amount;
  ``kl_divergence(r, c) == scipy.stats.entropy(smooth(r), smooth(c))``.
- ``jensen_shannon`` is scipy's ``jensenshannon`` (a distance, natural log, 0 … √ln2).
- ``hellinger`` = √(1 − Σ√(p·q)) (0 … 1); ``total_variation`` = ½Σ|p − q| (0 … 1).
- ``chi_squared`` is ``scipy.stats.chi2_contingency`` on the 2×k table without Yates'
  correction; on two categories its p-value equals the two-proportion z-test's.
- ``ks`` evaluates |F_ref − F_cur| after every support point, which is the exact two-sample
  Kolmogorov–Smirnov statistic when the support is the distinct values; its p-value follows
  ``scipy.stats.ks_2samp(method="auto")``.
- ``wasserstein`` is the 1-D earth mover's distance between the two point-mass distributions
  (``scipy.stats.wasserstein_distance(values, values, ref_counts, cur_counts)``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

EPSILON = 1e-4
"""Share given to an empty bin by PSI and KL divergence (before renormalising)."""

KS_EXACT_MAX_N = 10_000
"""Like scipy's ``ks_2samp(method="auto")``: exact p-values when both samples are this small."""

Floats = NDArray[np.float64]


def _counts(values: ArrayLike) -> Floats:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError("counts must be one-dimensional")
    if np.any(array < 0) or not np.all(np.isfinite(array)):
        raise ValueError("counts must be finite and non-negative")
    return array


def _pair(reference: ArrayLike, current: ArrayLike) -> tuple[Floats, Floats]:
    ref, cur = _counts(reference), _counts(current)
    if ref.shape != cur.shape:
        raise ValueError(f"reference has {ref.size} counts but current has {cur.size}")
    return ref, cur


def shares(counts: ArrayLike) -> Floats:
    """Counts as shares of their total (NaN everywhere when the total is 0)."""
    array = _counts(counts)
    total = array.sum()
    if total <= 0:
        return np.full(array.shape, np.nan)
    return array / total


def smooth(counts: ArrayLike, epsilon: float = EPSILON) -> Floats:
    """Shares with empty bins raised to ``epsilon`` and the whole renormalised to 1."""
    share = shares(counts)
    share = np.where(share > 0, share, epsilon)
    return share / share.sum()


def psi(reference: ArrayLike, current: ArrayLike, epsilon: float = EPSILON) -> float:
    """Population stability index Σ (c − r)·ln(c / r) over smoothed shares."""
    ref, cur = _pair(reference, current)
    if ref.sum() <= 0 or cur.sum() <= 0:
        return math.nan
    r, c = smooth(ref, epsilon), smooth(cur, epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


def kl_divergence(reference: ArrayLike, current: ArrayLike, epsilon: float = EPSILON) -> float:
    """KL(reference ‖ current) = Σ r·ln(r / c) over smoothed shares."""
    ref, cur = _pair(reference, current)
    if ref.sum() <= 0 or cur.sum() <= 0:
        return math.nan
    r, c = smooth(ref, epsilon), smooth(cur, epsilon)
    return float(np.sum(r * np.log(r / c)))


def jensen_shannon(reference: ArrayLike, current: ArrayLike) -> float:
    """Jensen–Shannon distance (natural log), as ``scipy.spatial.distance.jensenshannon``."""
    ref, cur = _pair(reference, current)
    if ref.sum() <= 0 or cur.sum() <= 0:
        return math.nan
    p, q = shares(ref), shares(cur)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(p > 0, p * np.log(p / m), 0.0)
        right = np.where(q > 0, q * np.log(q / m), 0.0)
    divergence = max(float(np.sum(left) + np.sum(right)) / 2, 0.0)
    return math.sqrt(divergence)


def hellinger(reference: ArrayLike, current: ArrayLike) -> float:
    """Hellinger distance √(1 − Σ√(p·q)), between 0 and 1."""
    ref, cur = _pair(reference, current)
    if ref.sum() <= 0 or cur.sum() <= 0:
        return math.nan
    p, q = shares(ref), shares(cur)
    return float(np.sqrt(0.5) * np.linalg.norm(np.sqrt(p) - np.sqrt(q)))


def total_variation(reference: ArrayLike, current: ArrayLike) -> float:
    """Total variation distance ½Σ|p − q|, between 0 and 1."""
    ref, cur = _pair(reference, current)
    if ref.sum() <= 0 or cur.sum() <= 0:
        return math.nan
    return float(0.5 * np.sum(np.abs(shares(ref) - shares(cur))))


def new_category_share(reference: ArrayLike, current: ArrayLike) -> float:
    """Share of the current sample in categories the reference never contains."""
    ref, cur = _pair(reference, current)
    total = cur.sum()
    if total <= 0:
        return math.nan
    return float(cur[ref == 0].sum() / total)


def chi_squared(reference: ArrayLike, current: ArrayLike) -> tuple[float, float, int]:
    """Pearson's chi-squared test of homogeneity: (statistic, p-value, degrees of freedom).

    Categories empty on both sides are dropped; one category left means no evidence of a
    difference (statistic 0, p-value 1), as scipy answers for a 2×1 table.
    """
    ref, cur = _pair(reference, current)
    if ref.sum() <= 0 or cur.sum() <= 0:
        return math.nan, math.nan, 0
    keep = (ref + cur) > 0
    table = np.vstack([ref[keep], cur[keep]])
    if table.shape[1] < 2:
        return 0.0, 1.0, 0
    result = sps.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue), int(result.dof)


def ks_statistic(reference: ArrayLike, current: ArrayLike) -> float:
    """max |F_ref − F_cur| evaluated after each support point."""
    ref, cur = _pair(reference, current)
    if ref.sum() <= 0 or cur.sum() <= 0:
        return math.nan
    diff = np.cumsum(ref) / ref.sum() - np.cumsum(cur) / cur.sum()
    return float(np.max(np.abs(diff), initial=0.0))


def ks_bounds(reference: ArrayLike, current: ArrayLike) -> tuple[float, float]:
    """Lower and upper bound of the KS statistic when each support point is a bin.

    Inside a bin both CDFs move monotonically between their values at the bin's edges, so
    the true statistic lies between the largest gap at the edges and the largest gap between
    one CDF's value at an edge and the other's at the opposite edge.
    """
    ref, cur = _pair(reference, current)
    if ref.sum() <= 0 or cur.sum() <= 0:
        return math.nan, math.nan
    f_ref = np.concatenate([[0.0], np.cumsum(ref) / ref.sum()])
    f_cur = np.concatenate([[0.0], np.cumsum(cur) / cur.sum()])
    lower = float(np.max(np.abs(f_ref - f_cur)))
    cross = np.maximum(np.abs(f_ref[1:] - f_cur[:-1]), np.abs(f_ref[:-1] - f_cur[1:]))
    upper = max(lower, float(np.max(cross, initial=0.0)))
    return lower, min(upper, 1.0)


def ks_pvalue(statistic: float, n_reference: int, n_current: int) -> float:
    """Two-sided p-value of a KS statistic by Smirnov's asymptotic distribution.

    This is scipy's ``ks_2samp`` for samples above :data:`KS_EXACT_MAX_N`:
    ``kstwo.sf(D, round(n·m / (n + m)))``.
    """
    if math.isnan(statistic) or n_reference <= 0 or n_current <= 0:
        return math.nan
    m, n = sorted([float(n_reference), float(n_current)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(sps.kstwo.sf(statistic, np.round(en)), 0.0, 1.0))


def ks(values: ArrayLike, reference: ArrayLike, current: ArrayLike) -> tuple[float, float]:
    """Two-sample KS test on point masses at ``values``: (statistic, p-value).

    Small samples (both ≤ :data:`KS_EXACT_MAX_N`) get scipy's exact p-value, computed from
    the samples rebuilt from the counts; larger ones the asymptotic p-value.
    """
    ref, cur = _pair(reference, current)
    points = np.asarray(values, dtype=np.float64)
    n_ref, n_cur = int(ref.sum()), int(cur.sum())
    if n_ref <= 0 or n_cur <= 0:
        return math.nan, math.nan
    if max(n_ref, n_cur) <= KS_EXACT_MAX_N:
        sample_ref = np.repeat(points, ref.astype(np.int64))
        sample_cur = np.repeat(points, cur.astype(np.int64))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = sps.ks_2samp(sample_ref, sample_cur)
        return float(result.statistic), float(result.pvalue)
    statistic = ks_statistic(ref, cur)
    return statistic, ks_pvalue(statistic, n_ref, n_cur)


def wasserstein(values: ArrayLike, reference: ArrayLike, current: ArrayLike) -> float:
    """Earth mover's distance between point masses at ascending, finite ``values``."""
    ref, cur = _pair(reference, current)
    points = np.asarray(values, dtype=np.float64)
    if points.shape != ref.shape:
        raise ValueError("values and counts differ in length")
    if ref.sum() <= 0 or cur.sum() <= 0:
        return math.nan
    if points.size < 2:
        return 0.0
    if np.any(np.diff(points) < 0):
        raise ValueError("values must be ascending")
    gap = np.abs(np.cumsum(ref)[:-1] / ref.sum() - np.cumsum(cur)[:-1] / cur.sum())
    return float(np.sum(gap * np.diff(points)))


def wasserstein_bound(half_widths: ArrayLike, reference: ArrayLike, current: ArrayLike) -> float:
    """Largest error of :func:`wasserstein` when each mass may sit anywhere in its bin.

    Moving a unit of mass by at most h changes the distance by at most h (triangle
    inequality), so the error is at most Σ (r_i + c_i)·h_i over shares.
    """
    ref, cur = _pair(reference, current)
    half = np.asarray(half_widths, dtype=np.float64)
    if ref.sum() <= 0 or cur.sum() <= 0:
        return math.nan
    return float(np.sum((shares(ref) + shares(cur)) * half))


def reference_std(values: ArrayLike, counts: ArrayLike) -> float:
    """Population standard deviation (ddof=0) of point masses, as ``numpy.std``."""
    points = np.asarray(values, dtype=np.float64)
    weights = _counts(counts)
    total = weights.sum()
    if total <= 0:
        return math.nan
    mean = float(np.sum(points * weights) / total)
    return math.sqrt(max(float(np.sum(weights * (points - mean) ** 2) / total), 0.0))


def quantile_cuts(counts: ArrayLike, n_bins: int) -> list[int]:
    """Support indices after which a reference-quantile bin ends.

    Bin k ends at the first support point where the reference's cumulative share reaches
    k / n_bins (numpy's ``inverted_cdf`` quantile); repeated cuts merge, so heavy ties give
    fewer bins. The last support point always ends the last bin.
    """
    array = _counts(counts)
    total = array.sum()
    if total <= 0 or array.size == 0:
        return [array.size - 1] if array.size else []
    cumulative = np.cumsum(array)
    cuts: list[int] = []
    for k in range(1, n_bins):
        index = int(np.searchsorted(cumulative, total * k / n_bins, side="left"))
        index = min(index, array.size - 1)
        if not cuts or index > cuts[-1]:
            cuts.append(index)
    if not cuts or cuts[-1] != array.size - 1:
        cuts.append(array.size - 1)
    return cuts


def group(counts: ArrayLike, cuts: Sequence[int]) -> Floats:
    """Sum ``counts`` into the bins ending at ``cuts`` (from :func:`quantile_cuts`)."""
    array = _counts(counts)
    cumulative = np.concatenate([[0.0], np.cumsum(array)])
    ends = np.asarray(cuts, dtype=np.int64) + 1
    starts = np.concatenate([[0], ends[:-1]])
    return cumulative[ends] - cumulative[starts]


def correct_pvalues(pvalues: Sequence[float], alpha: float, method: str) -> float:
    """The per-test threshold that applies ``method`` across ``pvalues`` at level ``alpha``.

    ``none`` → alpha; ``bonferroni`` → alpha / m; ``benjamini_hochberg`` → k·alpha / m for
    the largest k with p_(k) ≤ k·alpha / m (alpha / m when there is none). A p-value is then
    significant when it is ≤ the returned threshold (Bonferroni and BH reject on ≤).
    """
    valid = sorted(p for p in pvalues if not math.isnan(p))
    m = len(valid)
    if method == "none" or m == 0:
        return alpha
    if method == "bonferroni":
        return alpha / m
    if method == "benjamini_hochberg":
        largest = 0
        for k, p in enumerate(valid, start=1):
            if p <= k * alpha / m:
                largest = k
        return max(largest, 1) * alpha / m
    raise ValueError(f"unknown correction {method!r}")
