"""Multivariate drift of many model versions in one pass: the records of every target are those
of the target computed alone, whatever the features, references and per-model settings."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from modeltel.analyzer.analyses.multivariate import (
    ANALYSIS,
    MultivariateConfig,
    load_multivariate_config,
    reference_model,
)
from modeltel.analyzer.base.analysis import Run
from modeltel.analyzer.base.errors import NotFoundError
from modeltel.analyzer.base.windows import Window
from support.models import HOUR, T0, correlated, upload_matrix, write_matrix

LOANS = ["x1", "x2", "x3", "x4", "x5", "x6"]
CREDIT = ["age", "debt", "income"]  # sorted, as the PCA orders them
WINDOWS = (Window(T0, T0 + HOUR), Window(T0 + HOUR, T0 + 2 * HOUR))
CONFIG = {
    "multivariate": {
        "models": {
            "credit": {"components": 1, "thresholds": {"outlier_ratio": 0.2}},
            "fraud": {"worst": 3, "min_predictions": 500},
        }
    }
}


def close(value):
    """``value`` with its numbers compared to 1e-12: sums over parallel blocks of ClickHouse
    may add in another order from one statement to the next."""
    if isinstance(value, dict):
        return {k: close(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(close(v) for v in value)
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-12, abs=1e-300)
    return value


def fleet(store) -> tuple[list[tuple[str, str]], dict[tuple[str, str, int], np.ndarray]]:
    """The targets, and the feature matrix each (model, version, hour) was sent."""
    rng = np.random.default_rng(21)
    sent: dict[tuple[str, str, int], np.ndarray] = {}

    def send(model: str, version: str, hour: int, matrix: np.ndarray, features) -> None:
        sent[(model, version, hour)] = matrix
        start = T0 + hour * HOUR
        write_matrix(store, model, version, matrix, features, start=start, id_prefix=f"h{hour}-")

    # loans 1: the correlation flips in the second hour; loans 2 has no reference of its own
    upload_matrix(store, "loans", "1", correlated(rng, 3000, 0.9, extra=4), LOANS)
    send("loans", "1", 0, correlated(rng, 600, 0.9, 4), LOANS)
    send("loans", "1", 1, correlated(rng, 600, -0.9, 4), LOANS)
    send("loans", "2", 1, correlated(rng, 300, 0.9, 4) + 0.5, LOANS)
    # credit 1: other features, values missing; its predictions only in ml_features
    reference = rng.normal(size=(2000, 3)) @ np.array([[1, 0.5, 0.2], [0, 1, 0.3], [0, 0, 1]])
    upload_matrix(store, "credit", "1", reference, CREDIT)
    for hour in (0, 1):
        matrix = rng.normal(size=(400, 3)) * (1 + hour)
        matrix[rng.random(matrix.shape) < 0.1] = np.nan
        send("credit", "1", hour, matrix, CREDIT)
    store.command("DELETE FROM ml_predictions WHERE model = 'credit'")
    # churn 1: predictions before the windows only (no rows in them)
    upload_matrix(store, "churn", "1", correlated(rng, 1000, 0.5, 2), ["a", "b", "c", "d"])
    write_matrix(
        store, "churn", "1", correlated(rng, 200, 0.5, 2), ["a", "b", "c", "d"], start=T0 - HOUR
    )
    # fraud 1: another ``worst``, too few predictions to be judged
    upload_matrix(store, "fraud", "1", correlated(rng, 1500, 0.7, 3), LOANS[:5])
    send("fraud", "1", 0, correlated(rng, 250, 0.0, 3), LOANS[:5])
    targets = [("loans", "1"), ("credit", "1"), ("churn", "1"), ("fraud", "1"), ("loans", "2")]
    return targets, sent


@pytest.mark.parametrize("windows", [WINDOWS, WINDOWS[1:]], ids=["two windows", "one window"])
def test_one_pass_over_the_fleet_equals_each_version_alone(store, windows) -> None:
    targets, sent = fleet(store)
    settings = load_multivariate_config(CONFIG)
    together = ANALYSIS.compute(store, targets, windows, settings, Run())
    alone = [r for t in targets for r in ANALYSIS.compute(store, [t], windows, settings, Run())]
    assert [close(asdict(r)) for r in together] == [asdict(r) for r in alone]
    hours = [int((w.start - T0) / HOUR) for w in windows]
    expected = sorted((m, v, h) for m, v, h in sent if h in hours)
    found = sorted(
        (r.model, r.version, int((r.window_start - T0) / HOUR))
        for r in together
        if r.metric == "reconstruction_error"
    )
    assert found == expected  # churn: no window holds its rows, no record
    # each version scored with its own PCA: the mean error is numpy's over what it was sent
    for r in together:
        if r.metric != "reconstruction_error":
            continue
        config = settings.for_model(r.model)
        ref = reference_model(store, r.model, r.version, config)
        matrix = sent[(r.model, r.version, int((r.window_start - T0) / HOUR))]
        seen = matrix[~np.isnan(matrix).all(axis=1)]
        assert r.current_size == len(seen)
        assert r.value == pytest.approx(float(ref.pca.errors(seen).mean()), rel=1e-9)
        assert r.details["components"] == (1 if r.model == "credit" else ref.pca.k)
    by_key = {(r.model, r.version, r.window_start, r.metric): r for r in together}
    flipped = by_key[("loans", "1", T0 + HOUR, "reconstruction_error")]
    assert flipped.status == "drift"
    assert by_key[("loans", "2", T0 + HOUR, "reconstruction_error")].reference_size == 3000
    credit = by_key[("credit", "1", T0 + HOUR, "outlier_ratio")]
    assert credit.threshold == 0.2
    assert len(credit.details["worst"]) == 10
    assert all(w["prediction_id"].startswith("h1-") for w in credit.details["worst"])
    if len(windows) == 2:
        fraud = by_key[("fraud", "1", T0, "outlier_ratio")]
        assert fraud.status == "no_data" and len(fraud.details["worst"]) == 3


def test_a_version_without_reference_fails_the_pass_as_alone(store) -> None:
    targets, _ = fleet(store)
    orphan = correlated(np.random.default_rng(1), 50, 0.5)
    write_matrix(store, "orphan", "1", orphan, LOANS[:4], start=T0)
    settings = MultivariateConfig()
    with pytest.raises(NotFoundError, match="no reference"):
        ANALYSIS.compute(store, [("orphan", "1")], WINDOWS, settings, Run())
    with pytest.raises(NotFoundError, match="no reference"):
        ANALYSIS.compute(store, [*targets, ("orphan", "1")], WINDOWS, settings, Run())
