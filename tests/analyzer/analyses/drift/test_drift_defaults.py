"""Default methods (Evidently's size-aware choice), overrides, corrections, dataset share, and
the defaults judged on scenarios with known truth."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from modeltel.analyzer import Analyzer
from modeltel.analyzer.analyses.drift.methods import auto_method
from modeltel.analyzer.inputs.reference import upload_reference
from support.drift import T0, by_key, module_store, write_production

HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def store(store_url):
    yield from module_store(store_url)


@pytest.mark.parametrize(
    "categorical, reference_size, distinct, expected",
    [
        (False, 1000, 50, "ks"),
        (False, 1000, 5, "chi_squared"),
        (True, 1000, 2, "chi_squared"),  # binary: equal to Evidently's z-test
        (True, 800, 12, "chi_squared"),
        (False, 1001, 50, "wasserstein"),
        (False, 50_000, 4, "jensen_shannon"),
        (True, 50_000, 30, "jensen_shannon"),
    ],
)
def test_auto_method_follows_evidently(
    categorical: bool, reference_size: int, distinct: int, expected: str
) -> None:
    assert auto_method(categorical, reference_size, distinct)[0] == expected


CALM = 100


def _scenario(store, model: str, n_ref: int, n_cur: int, seed: int) -> pd.DataFrame:
    """100 unshifted features, 6 shifted by half a standard deviation."""
    rng = np.random.default_rng(seed)
    ref, cur = {}, {}
    for i in range(CALM):
        ref[f"calm_{i}"] = rng.normal(10, 2, n_ref)
        cur[f"calm_{i}"] = rng.normal(10, 2, n_cur)
    for i in range(6):
        ref[f"moved_{i}"] = rng.normal(10, 2, n_ref)
        cur[f"moved_{i}"] = rng.normal(11, 2, n_cur)
    upload_reference(store, model, pd.DataFrame(ref), version="1")
    write_production(store, model, "1", {k: list(v) for k, v in cur.items()})
    return Analyzer(store).drift(model, "1", start=T0, end=T0 + HOUR)


@pytest.mark.parametrize("n_ref, n_cur, method", [(600, 500, "ks"), (1500, 1000, "wasserstein")])
def test_defaults_catch_real_shifts_and_spare_calm_features(
    store, n_ref: int, n_cur: int, method: str
) -> None:
    results = _scenario(store, f"truth_{n_ref}", n_ref, n_cur, seed=n_ref)
    features = results[results["feature"].notna()]
    assert set(features["method"]) == {method}
    flagged = set(features.loc[features["status"] == "drift", "feature"])
    assert {f"moved_{i}" for i in range(6)} <= flagged
    false_alarms = [f for f in flagged if f.startswith("calm_")]
    assert len(false_alarms) <= 0.05 * CALM
    share = by_key(results)[(None, "share")]
    assert share["value"] == pytest.approx(len(flagged) / (CALM + 6))
    assert share["status"] == "ok"  # 6 of 106 is below the 0.5 dataset-drift share


def test_benjamini_hochberg_threshold_is_reported(store) -> None:
    results = _scenario(store, "bh", 600, 500, seed=99)
    ks = results[results["method"] == "ks"]
    thresholds = set(ks["threshold"])
    assert len(thresholds) == 1
    threshold = thresholds.pop()
    assert 0.05 / (CALM + 6) <= threshold <= 0.05
    assert (ks.loc[ks["status"] == "drift", "value"] <= threshold).all()
    details = json.loads(ks.iloc[0]["details"])
    assert details["correction"] == "benjamini_hochberg" and details["tests"] == CALM + 6


def test_overrides_from_the_drift_section(store) -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame(
        {"age": rng.normal(40, 8, 2000), "code": rng.integers(0, 3, 2000), "id": np.arange(2000)}
    )
    upload_reference(store, "ovr", ref, version="1")
    write_production(
        store,
        "ovr",
        "1",
        {
            "age": list(rng.normal(42, 8, 800)),
            "code": list(rng.integers(0, 3, 800)),
            "id": list(range(800)),
        },
    )
    config = {
        "drift": {
            "methods": ["auto", "psi"],
            "correction": "none",
            "features": {
                "age": {"method": "ks", "threshold": 0.01},
                "code": {"type": "categorical"},
                "id": {"ignore": True},
            },
        }
    }
    records = by_key(Analyzer(store, config).drift("ovr", "1", start=T0, end=T0 + HOUR))
    assert records[("age", "ks")]["threshold"] == 0.01
    assert ("age", "psi") not in records  # the feature's own list replaces the default list
    assert json.loads(records[("age", "ks")]["details"])["selected"] == "configured"
    code = records[("code", "jensen_shannon")]
    assert json.loads(code["details"])["type"] == "categorical"
    assert records[("code", "psi")]["threshold"] == 0.25
    assert not any(feature == "id" for feature, _ in records)


def test_psi_warning_band(store) -> None:
    rng = np.random.default_rng(8)
    ref = pd.DataFrame({"v": rng.normal(0, 1, 5000)})
    upload_reference(store, "band", ref, version="1")
    write_production(store, "band", "1", {"v": list(rng.normal(0.4, 1, 5000))})
    psi = by_key(Analyzer(store).drift("band", "1", start=T0, end=T0 + 2 * HOUR, methods=["psi"]))
    record = psi[("v", "psi")]
    assert 0.1 <= record["value"] < 0.25
    assert record["status"] == "warning"
