"""Edge cases: constant features, empty windows, all-missing features, one category,
categories only in current, infinities, prediction drift."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from modeltel.analyzer import Analyzer
from modeltel.analyzer.inputs.reference import upload_reference
from support.drift import T0, by_key, module_store, write_production

RNG = np.random.default_rng(3)
N = 400
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def store(store_url):
    yield from module_store(store_url)


@pytest.fixture(scope="module")
def edge(store):
    ref = pd.DataFrame(
        {
            "constant": np.full(N, 5.0),
            "moved_constant": np.full(N, 1.0),
            "sparse": RNG.normal(0, 1, N),
            "single": ["x"] * N,
            "colour": RNG.choice(["red", "blue"], N),
            "extreme": np.where(RNG.random(N) < 0.05, np.inf, RNG.normal(0, 1, N)),
        }
    )
    upload_reference(store, "edge", ref, version="1")
    cur = {
        "constant": [5.0] * N,
        "moved_constant": [2.0] * N,
        "sparse": [None] * N,  # every value missing
        "single": ["x"] * N,
        "colour": list(RNG.choice(["red", "blue", "green", "violet"], N)),
        "extreme": list(np.where(RNG.random(N) < 0.1, -np.inf, RNG.normal(0.5, 1, N))),
    }
    write_production(store, "edge", "1", cur, categorical=["single", "colour"])
    results = Analyzer(store).drift("edge", "1", start=T0, end=T0 + HOUR, methods=["all"])
    return ref, cur, by_key(results)


def test_constant_feature_unchanged_is_ok(edge) -> None:
    _, _, records = edge
    assert records[("constant", "ks")]["value"] == 1.0
    assert records[("constant", "wasserstein")]["value"] == 0.0
    assert records[("constant", "psi")]["value"] == 0.0
    assert {records[("constant", m)]["status"] for m in ("ks", "wasserstein", "psi")} == {"ok"}


def test_constant_feature_moved_is_drift(edge) -> None:
    _, _, records = edge
    # reference std 0: Wasserstein is divided by 0.001 (Evidently's floor)
    assert records[("moved_constant", "wasserstein")]["value"] == pytest.approx(1.0 / 0.001)
    assert records[("moved_constant", "ks")]["status"] == "drift"
    assert records[("moved_constant", "psi")]["status"] == "drift"


def test_all_missing_feature_has_no_data(edge) -> None:
    _, _, records = edge
    record = records[("sparse", "ks")]
    assert record["status"] == "no_data"
    assert record["value"] is None or math.isnan(record["value"])
    details = json.loads(record["details"])
    assert details["reason"] == "no current values"
    assert details["missing"]["current"] == N
    assert record["current_size"] == 0


def test_one_category_everywhere_is_no_drift(edge) -> None:
    _, _, records = edge
    assert records[("single", "chi_squared")]["value"] == 1.0
    assert records[("single", "jensen_shannon")]["value"] == 0.0
    assert records[("single", "new_category_share")]["value"] == 0.0


def test_categories_only_in_current(edge) -> None:
    _, cur, records = edge
    colours = np.array(cur["colour"])
    new_share = float(np.isin(colours, ["green", "violet"]).mean())
    record = records[("colour", "new_category_share")]
    assert record["value"] == pytest.approx(new_share)
    assert record["status"] == "drift"
    assert json.loads(record["details"])["new_categories"] == ["green", "violet"]
    assert records[("colour", "chi_squared")]["status"] == "drift"


def test_infinities_count_as_extreme_values(edge) -> None:
    ref, cur, records = edge
    r, c = ref["extreme"].to_numpy(), np.array(cur["extreme"])
    ks = records[("extreme", "ks")]
    assert json.loads(ks["details"])["statistic"] == pytest.approx(
        sps.ks_2samp(r, c).statistic, abs=1e-12
    )
    w = records[("extreme", "wasserstein")]
    finite_r, finite_c = r[np.isfinite(r)], c[np.isfinite(c)]
    assert w["value"] == pytest.approx(
        sps.wasserstein_distance(finite_r, finite_c) / np.std(finite_r), abs=1e-9
    )
    assert json.loads(w["details"])["infinite_values"] == {
        "reference": int(np.isinf(r).sum()),
        "current": int(np.isinf(c).sum()),
    }


def test_dataset_share_counts_features_with_data(edge) -> None:
    _, _, records = edge
    share = records[(None, "share")]
    details = json.loads(share["details"])
    assert details["no_data"] == ["sparse"]
    assert details["features"] == 5
    assert share["value"] == pytest.approx(len(details["drifted"]) / 5)


def test_empty_window_is_no_data(store, edge) -> None:
    later = T0 + timedelta(days=3)
    results = Analyzer(store).drift("edge", "1", start=later, end=later + HOUR)
    assert set(results["status"]) == {"no_data"}
    assert (results["current_size"] == 0).all()
    assert len(results) == 7  # six features and the share


def test_prediction_drift_on_scores_values_and_labels(store) -> None:
    n = 500
    ref = pd.DataFrame(
        {
            "x": RNG.normal(0, 1, n),
            "predicted": RNG.choice(["yes", "no"], n, p=[0.2, 0.8]),
            "proba": RNG.beta(2, 5, n),
        }
    )
    upload_reference(
        store, "pred", ref, version="1", prediction_column="predicted", score_column="proba"
    )
    labels = list(RNG.choice(["yes", "no"], n, p=[0.5, 0.5]))
    scores = list(RNG.beta(5, 2, n))
    write_production(
        store, "pred", "1", {"x": list(RNG.normal(0, 1, n))}, labels=labels, scores=scores
    )
    records = by_key(Analyzer(store).drift("pred", "1", start=T0, end=T0 + HOUR))
    score = records[("prediction.score", "ks")]
    assert score["status"] == "drift"
    assert json.loads(score["details"])["statistic"] == pytest.approx(
        sps.ks_2samp(ref["proba"], scores).statistic, abs=1e-12
    )
    label = records[("prediction.label", "chi_squared")]
    assert label["status"] == "drift" and label["current_size"] == n
    share = json.loads(records[(None, "share")]["details"])
    assert share["features"] == 1  # prediction drift is reported, not counted as a feature
