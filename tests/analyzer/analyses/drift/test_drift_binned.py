"""Binned counting (the fine grid): SQL slots equal numpy's, and the documented bounds hold."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from modeltel.analyzer import Analyzer
from modeltel.analyzer.analyses.drift import stats
from modeltel.analyzer.analyses.drift.grid import SLOTS, Grid
from modeltel.analyzer.inputs.reference import upload_reference
from support.drift import T0, binned_like, by_key, module_store, write_production

RNG = np.random.default_rng(5)


def test_sql_slots_equal_numpy_slots(store) -> None:
    values = np.concatenate(
        [
            RNG.normal(0, 1, 3000),
            RNG.standard_cauchy(500) * 1e4,
            [0.0, -0.0, 5e-324, 1e300, -1e300, np.inf, -np.inf, 1.5, -1.5],
        ]
    )
    grid = Grid.from_reference(-3.1, 3.1, -4.0, 4.0, 1.0)
    store.insert(
        "ml_reference",
        [["m", "1", "g", "x", i, None, float(v), 0] for i, v in enumerate(values)],
        ["model", "version", "reference", "feature", "row_id", "value", "value_num", "categorical"],
    )
    rows = store.query_rows(
        f"SELECT row_id, {Grid.sql_slot('value_num', repr(grid.lo), repr(grid.width))} "
        "FROM ml_reference WHERE model = 'm' ORDER BY row_id"
    )
    sql_slots = np.array([r[1] for r in rows])
    numpy_slots = grid.slots(values)
    assert np.array_equal(sql_slots, numpy_slots)
    assert numpy_slots.min() == 0 and numpy_slots.max() == SLOTS - 1  # −∞ and +∞
    order = np.argsort(values, kind="stable")
    assert np.all(np.diff(numpy_slots[order]) >= 0)  # monotone
    left, right = grid.edges()
    finite = np.isfinite(values)
    s = numpy_slots[finite]
    tolerance = 1e-9 * np.maximum(np.abs(values[finite]), 1.0)
    assert np.all(left[s] <= values[finite] + tolerance)
    assert np.all(values[finite] <= right[s] + tolerance)


@pytest.fixture(scope="module")
def shared_store(store_url):
    yield from module_store(store_url)


@pytest.fixture(scope="module")
def binned(shared_store):
    store = shared_store
    n_ref, n_cur = 3000, 2500
    ref = pd.DataFrame(
        {
            "latency": RNG.lognormal(3, 0.6, n_ref),
            "amount": np.concatenate([RNG.normal(50, 10, n_ref - 30), RNG.normal(5000, 100, 30)]),
            "ties": np.where(RNG.random(n_ref) < 0.6, 0.0, RNG.exponential(3, n_ref)),
        }
    )
    cur = pd.DataFrame(
        {
            "latency": RNG.lognormal(3.1, 0.7, n_cur),
            "amount": RNG.normal(58, 14, n_cur),
            "ties": np.where(RNG.random(n_cur) < 0.4, 0.0, RNG.exponential(3.5, n_cur)),
        }
    )
    upload_reference(store, "m", ref, version="1")
    write_production(store, "m", "1", cur.to_dict("list"))
    analyzer = Analyzer(store, {"drift": {"exact_limit": 0, "correction": "none"}})
    results = analyzer.drift("m", "1", start=T0, end=T0 + timedelta(hours=2), methods=["all"])
    return ref, cur, by_key(results)


@pytest.mark.parametrize("feature", ["latency", "amount", "ties"])
def test_binned_ks_and_wasserstein_within_their_bounds(binned, feature: str) -> None:
    ref, cur, records = binned
    r, c = ref[feature].to_numpy(), cur[feature].to_numpy()
    ks = json.loads(records[(feature, "ks")]["details"])
    assert ks["exact"] is False
    true_d = sps.ks_2samp(r, c).statistic
    assert ks["statistic"] - 1e-12 <= true_d <= ks["statistic_upper_bound"] + 1e-12
    if feature != "ties":  # a heavily tied value sits in one slot: the bound spans its mass
        assert ks["statistic_upper_bound"] - ks["statistic"] < 1e-2
    assert records[(feature, "ks")]["value"] == pytest.approx(
        stats.ks_pvalue(ks["statistic"], len(r), len(c)), rel=1e-12
    )
    w = records[(feature, "wasserstein")]
    details = json.loads(w["details"])
    true_w = sps.wasserstein_distance(r, c) / np.std(r)
    assert abs(w["value"] - true_w) <= details["bound"]
    assert details["bound"] < 1e-3


@pytest.mark.parametrize("feature", ["latency", "amount", "ties"])
def test_binned_psi_and_friends_are_exact_on_their_edges(binned, feature: str) -> None:
    ref, cur, records = binned
    for method, function in (
        ("psi", stats.psi),
        ("jensen_shannon", stats.jensen_shannon),
        ("total_variation", stats.total_variation),
    ):
        record = records[(feature, method)]
        details = json.loads(record["details"])
        r, c = binned_like(ref[feature], cur[feature], details)
        assert record["value"] == pytest.approx(function(r, c), abs=1e-9)
        # Reference-quantile bins: each holds about a tenth of the reference.
        assert details["bins"] >= 2
        if feature != "ties":
            assert np.all(np.abs(r / r.sum() - 0.1) < 0.01)
