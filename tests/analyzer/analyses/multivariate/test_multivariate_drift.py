"""Multivariate drift: the PCA fit against scikit-learn, the SQL projection against numpy, the
correlation-flip scenario (univariate quiet, multivariate fires), thresholds and configuration."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.decomposition import PCA

from modeltel.analyzer.analyses.multivariate import (
    MultivariateConfig,
    fit,
    load_multivariate_config,
    reference_model,
)
from modeltel.analyzer.base.errors import ConfigError, NotFoundError
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.orchestration.analyzer import Analyzer
from support.models import HOUR, T0, correlated, module_store, upload_matrix, write_matrix

FEATURES = ["x1", "x2", "x3", "x4", "x5", "x6"]


def test_fit_is_a_pca_of_the_standardised_sample() -> None:
    rng = np.random.default_rng(2)
    latent = rng.normal(size=(500, 2))
    x = latent @ rng.normal(size=(2, 6)) + 0.3 * rng.normal(size=(500, 6)) + [1, 2, 3, 4, 5, 6]
    x[rng.random(x.shape) < 0.05] = np.nan  # missing values: the reference mean
    model = fit(x, FEATURES, variance=0.65)
    mean = np.nanmean(x, axis=0)
    std = np.nanstd(x, axis=0)
    z = np.nan_to_num((x - mean) / std)
    reference = PCA(n_components=0.65, svd_solver="full").fit(z)
    assert model.k == reference.n_components_
    assert model.explained == pytest.approx(reference.explained_variance_ratio_.sum(), rel=1e-9)
    rebuilt = reference.inverse_transform(reference.transform(z))
    expected = ((z - rebuilt) ** 2).sum(axis=1)
    np.testing.assert_allclose(model.errors(x), expected, rtol=1e-9, atol=1e-12)
    fixed = fit(x, FEATURES, components=4)
    assert fixed.k == 4 and fixed.residual_form  # d − k = 2 sums instead of k + 1 = 5
    assert fit(x, FEATURES, components=99).k == 5  # at most d − 1: something to reconstruct
    constant = np.column_stack([x[:, 0], np.ones(500), x[:, 1]])
    assert fit(constant, ["a", "flat", "b"]).features == ("a", "b")
    with pytest.raises(NotFoundError, match="fewer than two numerical features"):
        fit(constant[:, :2], ["a", "flat"])


@pytest.fixture(scope="module")
def flipped(store_url: str) -> Iterator[Store]:
    """Reference: x1, x2 correlated +0.9 (and four independent features). Production: an
    hour like it, then two hours where the correlation is −0.9; every marginal stays N(0, 1)."""
    store_gen = module_store(store_url)
    store = next(store_gen)
    rng = np.random.default_rng(11)
    upload_matrix(store, "loans", "1", correlated(rng, 4000, 0.9, extra=4), FEATURES)
    write_matrix(store, "loans", "1", correlated(rng, 800, 0.9, 4), FEATURES, start=T0)
    for hour in (1, 2):
        matrix = correlated(rng, 800, -0.9, 4)
        write_matrix(
            store, "loans", "1", matrix, FEATURES, start=T0 + hour * HOUR, id_prefix=f"h{hour}-"
        )
    yield store
    next(store_gen, None)


def test_correlation_flip_univariate_quiet_multivariate_fires(flipped: Store) -> None:
    analyzer = Analyzer(flipped, {})
    span = {"window": "1h", "start": T0, "end": T0 + 3 * HOUR}
    univariate = analyzer.drift("loans", "1", **span, write=False)
    assert set(univariate["status"]) == {"ok"}, univariate[["feature", "method", "value"]]
    results = analyzer.multivariate("loans", "1", **span)
    error = results[results["metric"] == "reconstruction_error"].sort_values("window_start")
    assert list(error["status"]) == ["ok", "drift", "drift"]
    assert list(error["current_size"]) == [800, 800, 800]
    first, second = error.iloc[0], error.iloc[1]
    assert first["value"] < first["threshold"] < second["value"]
    details = json.loads(first["details"])
    assert details["lower"] < first["value"] < details["upper"] == first["threshold"]
    assert details["features"] == FEATURES and 1 <= details["components"] < 6
    ratio = results[results["metric"] == "outlier_ratio"].sort_values("window_start")
    assert list(ratio["status"]) == ["ok", "alert", "alert"]
    worst = json.loads(ratio.iloc[1]["details"])["worst"]
    assert len(worst) == 10 and all(w["prediction_id"].startswith("h1-") for w in worst)
    assert [w["error"] for w in worst] == sorted((w["error"] for w in worst), reverse=True)
    stored = flipped.query_rows(
        "SELECT metric, countIf(status = 'drift'), count() FROM ml_results FINAL "
        "WHERE kind = 'multivariate' GROUP BY metric ORDER BY metric"
    )
    assert stored == [("outlier_ratio", 0, 3), ("reconstruction_error", 2, 3)]


def test_sql_scores_equal_numpy_on_the_same_rows(flipped: Store) -> None:
    """Both SQL forms (kept components, discarded axes) give numpy's errors for every row,
    including rows with missing and non-finite values."""
    rng = np.random.default_rng(4)
    matrix = correlated(rng, 300, 0.5, 4) * 2
    matrix[rng.random(matrix.shape) < 0.1] = np.nan
    matrix[0, :] = np.nan
    matrix[0, 2] = 1.5  # a row with one feature
    matrix[1, 3] = np.inf  # stored as a value, left out like a missing one
    start = T0 + 5 * HOUR
    ids = write_matrix(flipped, "loans", "1", matrix, FEATURES, start=start, id_prefix="n")
    for components in (1, 4):  # k + 1 = 2 sums; d − k = 2 sums over the discarded axes
        config = {"multivariate": {"components": components}}
        analyzer = Analyzer(flipped, config)
        scored = analyzer.outliers(
            "loans", "1", start=start, end=start + HOUR, method="multivariate", limit=1000
        )
        ref = reference_model(flipped, "loans", "1", analyzer.multivariate_config)
        assert ref.pca.k == components and ref.pca.residual_form == (components == 4)
        errors = ref.pca.errors(np.where(np.isinf(matrix), np.nan, matrix))
        expected = dict(zip(ids, errors, strict=True))
        assert len(scored) == 300
        for row in scored.to_dict("records"):
            assert row["score"] == pytest.approx(expected[row["prediction_id"]], rel=1e-9, abs=1e-9)
            assert row["severity"] == pytest.approx(row["score"] / ref.row_threshold)
        results = analyzer.multivariate("loans", "1", start=start, end=start + HOUR, write=False)
        error = results[results["metric"] == "reconstruction_error"].iloc[0]
        assert error["value"] == pytest.approx(np.mean(list(expected.values())), rel=1e-9)
        ratio = results[results["metric"] == "outlier_ratio"].iloc[0]
        above = np.mean([e > ref.row_threshold for e in expected.values()])
        assert ratio["value"] == pytest.approx(above, abs=1e-12)
        # the per-row threshold is the reference rows' own quantile
        reference_errors = np.sort(ref.pca.errors(_reference_matrix(flipped)))
        q = analyzer.multivariate_config.outlier_quantile
        low, high = (
            np.quantile(reference_errors, q, method="lower"),
            np.quantile(reference_errors, q, method="higher"),
        )
        assert low - 1e-9 <= ref.row_threshold <= high + 1e-9


def _reference_matrix(store: Store) -> np.ndarray:
    frame = store.query_df(
        "SELECT row_id, feature, value_num FROM ml_reference WHERE model = 'loans'"
    ).pivot(index="row_id", columns="feature", values="value_num")
    return frame[FEATURES].to_numpy(dtype=float)


def test_worst_predictions_name_the_features_that_broke_the_pattern(flipped: Store) -> None:
    start = T0 + 7 * HOUR
    rng = np.random.default_rng(9)
    matrix = correlated(rng, 200, 0.9, 4)
    matrix[17, :2] = [2.2, -2.2]  # each value ordinary, the pair impossible under +0.9
    ids = write_matrix(flipped, "loans", "1", matrix, FEATURES, start=start, id_prefix="w")
    analyzer = Analyzer(flipped, {})
    worst = analyzer.outliers(
        "loans", "1", start=start, end=start + HOUR, method="multivariate", limit=3
    )
    assert list(worst.columns) == [
        "version",
        "prediction_id",
        "timestamp",
        "score",
        "severity",
        "features",
    ]
    top = worst.iloc[0]
    assert top["prediction_id"] == ids[17] and top["severity"] > 1
    assert set(top["features"]) == {"x1", "x2"}
    assert list(worst["score"]) == sorted(worst["score"], reverse=True)
    ranged = analyzer.outliers("loans", "1", start=start, end=start + HOUR, limit=50)
    assert ids[17] not in set(ranged["prediction_id"])  # inside every feature's central range


def test_threshold_band_depends_on_window_size(flipped: Store) -> None:
    config = MultivariateConfig()
    ref = reference_model(flipped, "loans", "1", config)
    m = ref.chunk_rows
    assert m == pytest.approx(400.0)
    wide = ref.band(25, config)
    at_chunk = ref.band(int(m), config)
    assert at_chunk == ref.band(10**7, config)  # never narrower than a reference chunk's
    half = max(3 * ref.sigma, 0.1 * ref.mu)
    assert at_chunk == pytest.approx((ref.mu - half, ref.mu + half))
    assert wide[1] - wide[0] > at_chunk[1] - at_chunk[0]
    floor = ref.band(int(m), MultivariateConfig(min_change=5.0))
    assert floor == pytest.approx((0.0, 6 * ref.mu))
    assert math.isclose(ref.mu, float(np.mean(ref.chunk_means)))


def test_few_predictions_give_no_decision_and_no_reference_is_not_found(flipped: Store) -> None:
    start = T0 + 9 * HOUR
    rng = np.random.default_rng(3)
    write_matrix(flipped, "loans", "1", correlated(rng, 5, -0.9, 4), FEATURES, start=start)
    results = Analyzer(flipped, {}).multivariate(
        "loans", "1", start=start, end=start + HOUR, write=False
    )
    assert set(results["status"]) == {"no_data"} and set(results["current_size"]) == {5}
    write_matrix(flipped, "nameless", "1", correlated(rng, 5, 0.0, 4), FEATURES, start=start)
    with pytest.raises(NotFoundError, match="has no reference"):
        Analyzer(flipped, {}).multivariate("nameless", "1", start=start, end=start + HOUR)
    with pytest.raises(NotFoundError, match="not numerical features"):
        Analyzer(flipped, {"multivariate": {"features": ["x1", "nope"]}}).multivariate(
            "loans", "1", start=start, end=start + HOUR
        )


def test_config_is_validated() -> None:
    config = load_multivariate_config(
        {
            "multivariate": {
                "variance": 0.8,
                "sample": 5000,
                "thresholds": {"outlier_ratio": 0.1},
                "models": {"loans": {"components": 2}},
            }
        }
    )
    assert (config.variance, config.sample, config.outlier_ratio) == (0.8, 5000, 0.1)
    assert config.for_model("loans").components == 2 and config.for_model("x").components is None
    for bad, message in (
        ({"variance": 0}, "multivariate.variance must be in"),
        ({"variance": 1.5}, "multivariate.variance must be in"),
        ({"chunks": 1}, "multivariate.chunks must be at least 2"),
        ({"features": ["a"]}, "at least two features"),
        ({"thresholds": {"error": 1}}, "multivariate.thresholds.error is not known"),
        ({"components": "three"}, "multivariate.components"),
        ({"pca": True}, "multivariate.pca is not known"),
        ({"models": {"loans": {"sigmas": -1}}}, "multivariate.models.loans.sigmas"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_multivariate_config({"multivariate": bad})


def test_unknown_outlier_method_is_a_config_error(flipped: Store) -> None:
    with pytest.raises(ConfigError, match="unknown outlier method 'pca'"):
        Analyzer(flipped, {}).outliers("loans", "1", window="1h", method="pca")


def test_reference_model_is_cached_per_upload(flipped: Store) -> None:
    cache: dict = {}
    config = MultivariateConfig()
    first = reference_model(flipped, "loans", "1", config, cache)
    assert reference_model(flipped, "loans", "1", config, cache) is first
    other = reference_model(flipped, "loans", "1", MultivariateConfig(components=1), cache)
    assert other is not first and len(cache) == 2
