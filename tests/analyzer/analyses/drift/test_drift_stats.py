"""The drift statistics (counts in, number out) against scipy on the same data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial import distance

from modeltel.analyzer.analyses.drift import stats

RNG = np.random.default_rng(7)


def counts_pair(k: int = 12) -> tuple[np.ndarray, np.ndarray]:
    ref = RNG.integers(0, 50, k).astype(float)
    cur = RNG.integers(0, 50, k).astype(float)
    ref[3], cur[5] = 0, 0  # empty bins on each side
    return ref, cur


def test_jensen_shannon_equals_scipy() -> None:
    ref, cur = counts_pair()
    assert stats.jensen_shannon(ref, cur) == pytest.approx(
        distance.jensenshannon(ref / ref.sum(), cur / cur.sum()), abs=1e-12
    )


def test_kl_divergence_is_scipy_entropy_of_smoothed_shares() -> None:
    ref, cur = counts_pair()
    p = np.where(ref > 0, ref / ref.sum(), stats.EPSILON)
    q = np.where(cur > 0, cur / cur.sum(), stats.EPSILON)
    assert stats.kl_divergence(ref, cur) == pytest.approx(sps.entropy(p, q), abs=1e-12)


def test_psi_is_symmetrised_kl_of_smoothed_shares() -> None:
    ref, cur = counts_pair()
    p, q = stats.smooth(ref), stats.smooth(cur)
    expected = sps.entropy(p, q) + sps.entropy(q, p)
    assert stats.psi(ref, cur) == pytest.approx(expected, abs=1e-12)
    assert stats.psi(ref, ref) == 0.0


def test_hellinger_and_total_variation() -> None:
    ref, cur = counts_pair()
    p, q = ref / ref.sum(), cur / cur.sum()
    assert stats.hellinger(ref, cur) == pytest.approx(
        distance.euclidean(np.sqrt(p), np.sqrt(q)) / math.sqrt(2), abs=1e-12
    )
    assert stats.total_variation(ref, cur) == pytest.approx(distance.cityblock(p, q) / 2, abs=1e-12)
    assert stats.hellinger([1, 0], [0, 1]) == pytest.approx(1.0)
    assert stats.total_variation([1, 0], [0, 1]) == pytest.approx(1.0)


def test_chi_squared_equals_chi2_contingency() -> None:
    ref, cur = counts_pair()
    statistic, pvalue, dof = stats.chi_squared(ref, cur)
    table = np.vstack([ref, cur])
    expected = sps.chi2_contingency(table[:, table.sum(axis=0) > 0], correction=False)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert pvalue == pytest.approx(expected.pvalue, rel=1e-9)
    assert dof == expected.dof


def test_chi_squared_on_two_categories_is_the_two_proportion_z_test() -> None:
    ref, cur = np.array([620.0, 380.0]), np.array([540.0, 460.0])
    _, pvalue, _ = stats.chi_squared(ref, cur)
    p1, p2 = ref[0] / ref.sum(), cur[0] / cur.sum()
    pooled = (ref[0] + cur[0]) / (ref.sum() + cur.sum())
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / ref.sum() + 1 / cur.sum()))
    assert pvalue == pytest.approx(2 * sps.norm.sf(abs(z)), rel=1e-9)


def test_chi_squared_with_one_category_means_no_difference() -> None:
    assert stats.chi_squared([10, 0], [7, 0]) == (0.0, 1.0, 0)


def test_new_category_share() -> None:
    assert stats.new_category_share([5, 5, 0], [2, 3, 5]) == pytest.approx(0.5)
    assert stats.new_category_share([5, 5], [2, 3]) == 0.0


@pytest.mark.parametrize("n_ref, n_cur", [(300, 200), (15_000, 12_000)])
def test_ks_on_distinct_values_equals_ks_2samp(n_ref: int, n_cur: int) -> None:
    """Small samples take scipy's exact p-value, large ones the asymptotic one."""
    values = np.arange(40, dtype=float)
    ref_sample = RNG.choice(values, n_ref)
    cur_sample = RNG.choice(values, n_cur, p=np.linspace(1, 2, 40) / np.linspace(1, 2, 40).sum())
    ref = np.bincount(ref_sample.astype(int), minlength=40)
    cur = np.bincount(cur_sample.astype(int), minlength=40)
    statistic, pvalue = stats.ks(values, ref, cur)
    expected = sps.ks_2samp(ref_sample, cur_sample)
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert pvalue == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_ks_handles_infinities_like_scipy() -> None:
    values = np.array([-np.inf, 0.0, 1.0, 2.0, np.inf])
    ref, cur = np.array([3, 40, 30, 20, 0]), np.array([0, 20, 30, 40, 9])
    statistic, pvalue = stats.ks(values, ref, cur)
    expected = sps.ks_2samp(np.repeat(values, ref), np.repeat(values, cur))
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert pvalue == pytest.approx(expected.pvalue, rel=1e-9)


def test_ks_bounds_contain_the_statistic_of_the_raw_data() -> None:
    ref_sample, cur_sample = RNG.normal(0, 1, 4000), RNG.normal(0.1, 1.2, 3000)
    edges = np.linspace(-8, 8, 1601)
    ref = np.histogram(ref_sample, edges)[0]
    cur = np.histogram(cur_sample, edges)[0]
    lower, upper = stats.ks_bounds(ref, cur)
    true = sps.ks_2samp(ref_sample, cur_sample).statistic
    assert lower <= true + 1e-12 <= upper + 2e-12
    assert upper - lower < 0.01


def test_ks_pvalue_is_scipys_asymptotic_formula() -> None:
    n, m = 20_000, 30_000
    ref_sample, cur_sample = RNG.normal(0, 1, n), RNG.normal(0.01, 1, m)
    d = sps.ks_2samp(ref_sample, cur_sample).statistic
    assert stats.ks_pvalue(d, n, m) == pytest.approx(
        sps.ks_2samp(ref_sample, cur_sample).pvalue, rel=1e-9
    )


def test_wasserstein_equals_scipy_on_weighted_points_and_raw_samples() -> None:
    ref_sample = np.round(RNG.normal(0, 1, 2000), 2)
    cur_sample = np.round(RNG.normal(0.3, 1.5, 1500), 2)
    values = np.union1d(ref_sample, cur_sample)
    ref = np.array([np.sum(ref_sample == v) for v in values], dtype=float)
    cur = np.array([np.sum(cur_sample == v) for v in values], dtype=float)
    ours = stats.wasserstein(values, ref, cur)
    assert ours == pytest.approx(sps.wasserstein_distance(values, values, ref, cur), abs=1e-9)
    assert ours == pytest.approx(sps.wasserstein_distance(ref_sample, cur_sample), abs=1e-9)


def test_wasserstein_bound_holds_for_binned_masses() -> None:
    ref_sample, cur_sample = RNG.normal(0, 1, 3000), RNG.normal(0.2, 1, 3000)
    edges = np.linspace(-6, 6, 121)
    mid, half = (edges[:-1] + edges[1:]) / 2, np.diff(edges) / 2
    ref, cur = np.histogram(ref_sample, edges)[0], np.histogram(cur_sample, edges)[0]
    binned = stats.wasserstein(mid, ref, cur)
    bound = stats.wasserstein_bound(half, ref, cur)
    assert abs(binned - sps.wasserstein_distance(ref_sample, cur_sample)) <= bound


def test_reference_std_is_numpy_std() -> None:
    sample = RNG.integers(0, 9, 500).astype(float)
    values, counts = np.unique(sample, return_counts=True)
    assert stats.reference_std(values, counts) == pytest.approx(np.std(sample), rel=1e-12)


def test_quantile_cuts_are_numpys_inverted_cdf_quantiles() -> None:
    sample = RNG.integers(0, 60, 5000)
    values, counts = np.unique(sample, return_counts=True)
    cuts = stats.quantile_cuts(counts, 10)
    expected = np.unique(np.quantile(sample, np.arange(1, 10) / 10, method="inverted_cdf"))
    assert list(values[cuts[:-1]]) == list(expected)
    grouped = stats.group(counts, cuts)
    right_closed = np.searchsorted(expected, sample, side="left")
    assert list(grouped) == list(np.bincount(right_closed, minlength=len(cuts)))


def test_quantile_cuts_merge_heavy_ties() -> None:
    counts = np.array([900, 50, 30, 20])  # every decile up to the 9th is the first value
    cuts = stats.quantile_cuts(counts, 10)
    assert cuts == [0, 3]
    assert list(stats.group(counts, cuts)) == [900, 100]
    assert stats.quantile_cuts([850, 50, 30, 20, 50], 10) == [0, 1, 4]


def test_benjamini_hochberg_threshold_matches_scipy_false_discovery_control() -> None:
    pvalues = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]
    threshold = stats.correct_pvalues(pvalues, 0.05, "benjamini_hochberg")
    adjusted = sps.false_discovery_control(pvalues, method="bh")
    assert [p <= threshold for p in pvalues] == [a <= 0.05 for a in adjusted]
    assert stats.correct_pvalues(pvalues, 0.05, "bonferroni") == pytest.approx(0.005)
    assert stats.correct_pvalues(pvalues, 0.05, "none") == 0.05


def test_empty_sides_give_nan() -> None:
    for function in (
        stats.psi,
        stats.kl_divergence,
        stats.jensen_shannon,
        stats.hellinger,
        stats.total_variation,
        stats.ks_statistic,
    ):
        assert math.isnan(function([0, 0], [1, 2]))
    assert math.isnan(stats.wasserstein([1.0, 2.0], [1, 1], [0, 0]))


def test_bad_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        stats.psi([1, -1], [1, 1])
    with pytest.raises(ValueError, match="reference has 2 counts but current has 3"):
        stats.psi([1, 1], [1, 1, 1])
