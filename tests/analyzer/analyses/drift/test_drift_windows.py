"""Windows: fixed hourly windows, the last N predictions, two model versions, segments."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from modeltel.analyzer import Analyzer
from modeltel.analyzer.base.errors import NotFoundError
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.inputs.reference import upload_reference
from support.drift import T0, by_key, module_store, write_production

RNG = np.random.default_rng(21)
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def store(store_url):
    yield from module_store(store_url)


@pytest.fixture(scope="module")
def two_hours(store):
    """Version 1: a calm first hour and a shifted second hour; version 2 like the second."""
    n = 600
    ref = pd.DataFrame({"x": RNG.normal(0, 1, 1500), "region": RNG.choice(["eu", "us"], 1500)})
    upload_reference(store, "w", ref, version="1")
    calm = {"x": list(RNG.normal(0, 1, n)), "region": list(RNG.choice(["eu", "us"], n))}
    regions = list(RNG.choice(["eu", "us"], n))
    shifted = {
        "x": [RNG.normal(1.0, 1) if r == "eu" else RNG.normal(0, 1) for r in regions],
        "region": regions,
    }
    step = timedelta(seconds=5)  # 600 predictions fill 50 minutes
    write_production(store, "w", "1", calm, categorical=["region"], start=T0, step=step)
    write_production(
        store, "w", "1", shifted, categorical=["region"], start=T0 + HOUR, step=step, id_prefix="q"
    )
    write_production(
        store, "w", "2", shifted, categorical=["region"], start=T0 + HOUR, step=step, id_prefix="r"
    )
    write_production(
        store, "w", "3", calm, categorical=["region"], start=T0 + HOUR, step=step, id_prefix="s"
    )
    return ref, calm, shifted


def test_fixed_hourly_windows_in_one_call(store, two_hours) -> None:
    results = Analyzer(store).drift("w", "1", start=T0, end=T0 + 2 * HOUR, window="1h")
    x = results[(results["feature"] == "x")].sort_values("window_start")
    assert [pd.Timestamp(t) for t in x["window_start"]] == [
        pd.Timestamp(T0),
        pd.Timestamp(T0 + HOUR),
    ]
    assert list(x["method"]) == ["wasserstein", "wasserstein"]  # reference of 1500 rows
    assert list(x["status"]) == ["ok", "drift"]
    assert list(x["current_size"]) == [600, 600]


def test_last_n_predictions(store, two_hours) -> None:
    _, _, shifted = two_hours
    analyzer = Analyzer(store)
    results = analyzer.drift("w", "1", last_n=200)
    x = by_key(results)[("x", "wasserstein")]
    assert x["current_size"] == 200
    window = analyzer.last_n_window("w", "1", 200)
    assert pd.Timestamp(x["window_start"]) == pd.Timestamp(window.start)
    assert window.end - window.start == timedelta(seconds=5 * 199, milliseconds=1)
    ref = two_hours[0]["x"].to_numpy()
    expected = sps.wasserstein_distance(ref, shifted["x"][-200:]) / np.std(ref)
    assert x["value"] == pytest.approx(expected, abs=1e-9)


def test_last_n_predictions_made_in_one_millisecond(store, two_hours) -> None:
    """One batch span gives its rows one timestamp: the stored window still has an end after
    its start, and the results read back as a window (the page builds one from them)."""
    write_production(store, "one-ms", "1", {"x": [0.1, 0.2, 0.3]}, start=T0, step=timedelta(0))
    upload_reference(store, "one-ms", pd.DataFrame({"x": RNG.normal(0, 1, 50)}), version="1")
    Analyzer(store).drift("one-ms", "1", last_n=10**6)
    rows = store.query_rows(
        "SELECT window_start, window_end FROM ml_results WHERE model = 'one-ms' AND kind = 'drift'"
    )
    assert rows and all(end > start for start, end in rows)
    Window(rows[0][0], rows[0][1])


def test_two_versions_compared_over_the_same_window(store, two_hours) -> None:
    _, calm, shifted = two_hours
    analyzer = Analyzer(store)
    window = {"start": T0 + HOUR, "end": T0 + 2 * HOUR}
    same = by_key(analyzer.drift("w", "2", baseline_version="1", **window))
    assert same[("x", "ks")]["value"] == 1.0  # identical rows: small sample → ks
    assert "production data of w version 1" in json.loads(same[("x", "ks")]["details"])["reference"]
    different = by_key(analyzer.drift("w", "3", baseline_version="1", **window))
    expected = sps.ks_2samp(shifted["x"], calm["x"])
    assert different[("x", "ks")]["value"] == pytest.approx(expected.pvalue, rel=1e-9)


def test_segments_by_a_categorical_feature(store, two_hours) -> None:
    ref, _, shifted = two_hours
    results = Analyzer(store).drift(
        "w", "1", start=T0 + HOUR, end=T0 + 2 * HOUR, segment_by="region", methods=["wasserstein"]
    )
    x = results[results["feature"] == "x"].set_index("segment")
    assert set(x.index) == {"", "region=eu", "region=us"}
    # the version's own drift comes beside its segments', as without segment_by
    alone = Analyzer(store).drift(
        "w", "1", start=T0 + HOUR, end=T0 + 2 * HOUR, methods=["wasserstein"], write=False
    )
    overall = alone[alone["feature"] == "x"].iloc[0]
    assert (
        x.loc["", "value"]
        == overall["value"]
        == pytest.approx(
            sps.wasserstein_distance(ref["x"], shifted["x"]) / np.std(ref["x"]), abs=1e-9
        )
    )
    assert x.loc["region=eu", "status"] == "drift"
    assert x.loc["region=us", "status"] == "ok"
    eu_cur = [v for v, r in zip(shifted["x"], shifted["region"], strict=True) if r == "eu"]
    eu_ref = ref.loc[ref["region"] == "eu", "x"].to_numpy()
    assert x.loc["region=eu", "current_size"] == len(eu_cur)
    assert x.loc["region=eu", "reference_size"] == len(eu_ref)
    assert x.loc["region=eu", "value"] == pytest.approx(
        sps.wasserstein_distance(eu_ref, eu_cur) / np.std(eu_ref), abs=1e-9
    )
    within = results[results["segment"] != ""]
    assert "region" not in set(within["feature"].dropna())  # not compared inside its segments
    shares = results[results["method"] == "share"]
    assert sorted(shares["segment"]) == ["", "region=eu", "region=us"]


def test_unknown_model_and_missing_reference(store, two_hours) -> None:
    analyzer = Analyzer(store)
    with pytest.raises(NotFoundError, match="no predictions"):
        analyzer.drift("nobody")
    write_production(store, "noref", "1", {"x": [1.0, 2.0]})
    with pytest.raises(NotFoundError, match="modeltel reference upload noref"):
        analyzer.drift("noref", "1", start=T0, end=T0 + HOUR)


def test_reference_of_another_version_is_used_when_the_version_has_none(store, two_hours) -> None:
    results = Analyzer(store).drift("w", "3", start=T0 + HOUR, end=T0 + 2 * HOUR)
    details = json.loads(by_key(results)[("x", "wasserstein")]["details"])
    assert details["reference"] == "reference 'default' of w version 1"
