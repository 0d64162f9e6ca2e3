"""Reference profiles kept in the store: written at upload, read back by drift runs, replaced
with the reference, and the same results whether read back or computed."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from modeltel.analyzer.analyses.drift.histogram import profile
from modeltel.analyzer.base.sources import ReferenceSource
from modeltel.analyzer.inputs.reference import reference_from_window, upload_reference
from modeltel.analyzer.orchestration.analyzer import Analyzer
from support.drift import T0, module_store, write_production

WINDOW = {"start": T0, "end": T0 + timedelta(hours=1)}


@pytest.fixture(scope="module")
def store(store_url):
    yield from module_store(store_url)


def stored_profiles(store, model: str, version: str = "1") -> pd.DataFrame:
    return store.query_df(
        "SELECT feature, uploaded_at, reference_rows, categorical, rows, distinct, q_low, q_high "
        "FROM ml_reference_profiles FINAL WHERE model = {m:String} AND version = {v:String} "
        "ORDER BY uploaded_at, feature",
        parameters={"m": model, "v": version},
    )


def reference_frame(seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40 + shift, 10, 3000),
            "income": rng.lognormal(8, 1, 3000),
            "plan": rng.choice(["basic", "gold", "pro"], 3000),
        }
    )


def production(store, model: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    write_production(
        store,
        model,
        "1",
        {
            "age": rng.normal(45, 10, 2000).tolist(),
            "income": rng.lognormal(8, 1, 2000).tolist(),
            "plan": rng.choice(["basic", "gold", "pro"], 2000).tolist(),
        },
        categorical=["plan"],
        step=timedelta(seconds=1.5),
    )


def drift_values(store, model: str) -> dict[tuple[str, str], float]:
    frame = Analyzer(store).drift(model, "1", methods=["all"], write=False, **WINDOW)
    return {(r.feature, r.method): r.value for r in frame.itertuples() if r.feature}


def test_upload_stores_the_profile_that_drift_would_compute(store) -> None:
    upload_reference(store, "prof", reference_frame(1), version="1")
    kept = stored_profiles(store, "prof")
    assert sorted(kept["feature"]) == ["age", "income", "plan"]
    assert set(kept["reference_rows"]) == {9000}  # 3,000 rows × 3 features
    assert dict(zip(kept["feature"], kept["categorical"], strict=True)) == {
        "age": 0,
        "income": 0,
        "plan": 1,
    }
    computed = {p.feature: p for p in profile(store, ReferenceSource("prof", "1"))}
    for row in kept.itertuples():
        assert row.rows == computed[row.feature].rows
        assert row.distinct == computed[row.feature].distinct
        if not row.categorical:
            assert row.q_low == computed[row.feature].q_low
            assert row.q_high == computed[row.feature].q_high


def test_drift_gives_the_same_results_read_back_or_computed(store) -> None:
    upload_reference(store, "same", reference_frame(2), version="1")
    production(store, "same", 3)
    read_back = drift_values(store, "same")
    store.command("TRUNCATE TABLE ml_reference_profiles")
    computed = drift_values(store, "same")
    assert read_back == computed
    assert read_back[("age", "psi")] > 0.1  # the 5-year shift is seen either way
    # the run that had to compute it stored it again
    assert sorted(stored_profiles(store, "same")["feature"]) == ["age", "income", "plan"]


def test_replacing_a_reference_replaces_its_profile(store) -> None:
    upload_reference(store, "again", reference_frame(4), version="1")
    production(store, "again", 5)
    before = drift_values(store, "again")
    first = stored_profiles(store, "again")
    upload_reference(store, "again", reference_frame(4, shift=5.0), version="1")
    second = stored_profiles(store, "again")
    assert len(second) == 3 and set(second["uploaded_at"]).isdisjoint(set(first["uploaded_at"]))
    after = drift_values(store, "again")
    # production is centred on 45: the new reference (also 45) sees far less drift of age
    assert after[("age", "psi")] < before[("age", "psi")] / 5


def test_a_reference_captured_from_a_window_gets_its_profile(store) -> None:
    production(store, "captured", 6)
    reference_from_window(store, "captured", "1", WINDOW["start"], WINDOW["end"], name="week")
    kept = store.query_df(
        "SELECT feature FROM ml_reference_profiles FINAL "
        "WHERE model = 'captured' AND reference = 'week' ORDER BY feature"
    )
    assert {"age", "income", "plan"} <= set(kept["feature"])


def test_an_all_missing_column_profiles_as_empty_and_drift_goes_on(store) -> None:
    frame = reference_frame(7)
    frame["blank"] = [None] * len(frame)
    frame["blank_text"] = pd.Series([None] * len(frame), dtype="object")
    summary = upload_reference(
        store, "blank", frame, version="1", categorical=["plan", "blank_text"]
    )
    assert any("blank" in w for w in summary.warnings)
    kept = stored_profiles(store, "blank").set_index("feature")
    assert kept.loc["blank", "distinct"] == 0 and kept.loc["blank_text", "distinct"] == 0
    production(store, "blank", 8)
    values = drift_values(store, "blank")
    assert ("age", "psi") in values
