"""Drift computed in the store equals scipy on the raw rows when values are counted exactly."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from modeltel.analyzer import Analyzer
from modeltel.analyzer.analyses.drift import stats
from modeltel.analyzer.inputs.reference import upload_reference
from support.drift import (
    T0,
    binned_like,
    by_key,
    category_counts,
    module_store,
    write_production,
)

RNG = np.random.default_rng(11)
N_REF, N_CUR = 900, 700


@pytest.fixture(scope="module")
def store(store_url):
    yield from module_store(store_url)


@pytest.fixture(scope="module")
def exact_data(store):
    ref = pd.DataFrame(
        {
            "age": RNG.integers(18, 80, N_REF),
            "balance": np.round(RNG.normal(1000, 250, N_REF), 1),
            "children": RNG.integers(0, 4, N_REF),
            "plan": RNG.choice(["basic", "gold", "pro"], N_REF, p=[0.5, 0.3, 0.2]),
        }
    )
    cur = pd.DataFrame(
        {
            "age": RNG.integers(25, 85, N_CUR),
            "balance": np.round(RNG.normal(1020, 260, N_CUR), 1),
            "children": RNG.integers(0, 5, N_CUR),
            "plan": RNG.choice(["basic", "gold", "pro", "trial"], N_CUR, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )
    upload_reference(store, "churn", ref, version="1")
    write_production(store, "churn", "1", cur.to_dict("list"), categorical=["plan"])
    return ref, cur


def expected_binned(method: str, r: np.ndarray, c: np.ndarray) -> float:
    p, q = r / r.sum(), c / c.sum()
    ps, qs = stats.smooth(r), stats.smooth(c)
    return {
        "psi": float(np.sum((qs - ps) * np.log(qs / ps))),
        "kl_divergence": float(sps.entropy(ps, qs)),
        "jensen_shannon": float(jensenshannon(p, q)),
        "hellinger": float(np.sqrt(0.5) * np.linalg.norm(np.sqrt(p) - np.sqrt(q))),
        "total_variation": float(0.5 * np.abs(p - q).sum()),
        "chi_squared": float(sps.chi2_contingency(np.vstack([r, c]), correction=False).pvalue),
    }[method]


def test_every_method_equals_scipy_on_the_raw_rows(store, exact_data) -> None:
    ref, cur = exact_data
    results = Analyzer(store).drift(
        "churn", "1", start=T0, end=T0 + timedelta(hours=1), methods=["all"]
    )
    records = by_key(results)
    checked = 0
    for feature in ("age", "balance", "children"):
        r_raw, c_raw = ref[feature].to_numpy(float), cur[feature].to_numpy(float)
        ks = records[(feature, "ks")]
        expected = sps.ks_2samp(r_raw, c_raw)
        assert json.loads(ks["details"])["statistic"] == pytest.approx(
            expected.statistic, abs=1e-12
        )
        assert ks["value"] == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
        w = records[(feature, "wasserstein")]["value"]
        assert w == pytest.approx(
            sps.wasserstein_distance(r_raw, c_raw) / max(np.std(r_raw), 1e-3), abs=1e-9
        )
        for method in (
            "psi",
            "kl_divergence",
            "jensen_shannon",
            "hellinger",
            "total_variation",
            "chi_squared",
        ):
            record = records[(feature, method)]
            r, c = binned_like(r_raw, c_raw, json.loads(record["details"]))
            assert record["value"] == pytest.approx(expected_binned(method, r, c), abs=1e-9), (
                feature,
                method,
            )
            checked += 1
    r, c = category_counts(list(ref["plan"]), list(cur["plan"]))
    for method in (
        "psi",
        "kl_divergence",
        "jensen_shannon",
        "hellinger",
        "total_variation",
        "chi_squared",
    ):
        assert records[("plan", method)]["value"] == pytest.approx(
            expected_binned(method, r, c), abs=1e-9
        )
        checked += 1
    assert records[("plan", "new_category_share")]["value"] == pytest.approx(
        float(np.mean(cur["plan"] == "trial")), abs=1e-12
    )
    assert ("plan", "ks") not in records and ("plan", "wasserstein") not in records
    assert checked == 24


def test_records_carry_window_sizes_and_reasons(store, exact_data) -> None:
    results = Analyzer(store).drift("churn", "1", start=T0, end=T0 + timedelta(hours=1))
    age = by_key(results)[("age", "ks")]
    assert age["kind"] == "drift" and age["model"] == "churn" and age["version"] == "1"
    assert age["reference_size"] == N_REF and age["current_size"] == N_CUR
    assert pd.Timestamp(age["window_start"]) == pd.Timestamp(T0)
    details = json.loads(age["details"])
    assert details["counting"] == "exact"
    assert details["selected"].startswith("auto: numeric")
    assert "reference 'default' of churn version 1" in details["reference"]


def test_results_are_written_to_ml_results(store, exact_data) -> None:
    from modeltel.analyzer.base.results import read_results

    Analyzer(store).drift("churn", "1", start=T0, end=T0 + timedelta(hours=1))
    stored = read_results(store, model="churn", kind="drift")
    assert set(stored["feature"].dropna()) == {"age", "balance", "children", "plan"}
    share = stored[stored["method"] == "share"].iloc[0]
    assert share["feature"] is None or pd.isna(share["feature"])
    assert 0.0 <= share["value"] <= 1.0
