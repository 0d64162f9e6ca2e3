"""Quality of many model versions in one pass: the records of every target are those of the
target computed alone, whatever the features, references and per-model settings."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd

from modeltel.analyzer.analyses.quality import ANALYSIS, QualityConfig
from modeltel.analyzer.base.analysis import Run
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.inputs.reference import upload_reference
from support.perfdata import T0, at, insert_features, insert_predictions

HOUR_S = 3600
WINDOWS = (Window(T0, at(HOUR_S)), Window(at(HOUR_S), at(2 * HOUR_S)))
CONFIG = {
    "quality": {
        "models": {
            "fraud": {"features": {"age": {"min": 0, "max": 90}}},
            "loans": {
                "thresholds": {"missing_ratio": 0.3},
                "outliers": {"min_features": 1},
                "features": {"income": {"max": 150_000}},
            },
            "churn": {"outliers": {"quantiles": [0.05, 0.95]}},
        },
    }
}


def traffic(store, model: str, version: str, n: int, start_s: float, seed: int) -> list[str]:
    """``n`` predictions of ``model``/``version`` spread over the hour from ``start_s``."""
    ids = [f"{model}-{version}-{seed}-{i}" for i in range(n)]
    times = [at(start_s + i * HOUR_S / n) for i in range(n)]
    insert_predictions(store, model, ids, times, version=version, labels=["a"] * n)
    return ids


def features(store, model, version, ids, start_s, columns: dict[str, tuple[list, bool]]) -> None:
    """Feature values of ``ids`` (None: not sent), ``columns``: name → (values, categorical)."""
    times = [at(start_s + i * HOUR_S / len(ids)) for i in range(len(ids))]
    for name, (values, categorical) in columns.items():
        sent = [i for i, v in enumerate(values) if v is not None]
        kept = {"texts" if categorical else "numbers": [values[i] for i in sent]}
        insert_features(
            store,
            model,
            name,
            [ids[i] for i in sent],
            [times[i] for i in sent],
            categorical=categorical,
            version=version,
            **kept,
        )


def fleet(store) -> list[tuple[str, str]]:
    rng = np.random.default_rng(8)
    # credit 1 and 2: age and city; the reference is version 1's (version 2 uses it too)
    upload_reference(
        store,
        "credit",
        pd.DataFrame({"age": rng.normal(40, 10, 400), "city": rng.choice(["x", "y", "z"], 400)}),
        version="1",
    )
    for version, shift in (("1", 0.0), ("2", 15.0)):
        for hour in (0, 1):
            ids = traffic(store, "credit", version, 300, hour * HOUR_S, seed=hour)
            ages = list(rng.normal(40 + shift, 10, 300))
            cities = list(rng.choice(["x", "y", "z", "new"], 300, p=[0.3, 0.3, 0.3, 0.1]))
            features(
                store,
                "credit",
                version,
                ids,
                hour * HOUR_S,
                {"age": (ages, False), "city": (cities, True)},
            )
    # loans 1: other features, income often missing, a wrong-typed value, a new feature
    upload_reference(
        store,
        "loans",
        pd.DataFrame(
            {"income": rng.lognormal(10, 0.5, 300), "plan": rng.choice(["basic", "pro"], 300)}
        ),
        version="1",
    )
    ids = traffic(store, "loans", "1", 250, 0, seed=0)
    income = [None if rng.random() < 0.4 else float(v) for v in rng.lognormal(10.5, 0.7, 250)]
    plans = list(rng.choice(["basic", "pro", "gold"], 250))
    features(
        store,
        "loans",
        "1",
        ids,
        0,
        {"income": (income, False), "plan": (plans, True), "referrer": (["web"] * 250, True)},
    )
    insert_features(store, "loans", "income", ["loans-x"], [at(10)], texts=["n/a"])
    # churn 1: predictions before the windows only (no rows in them)
    upload_reference(store, "churn", pd.DataFrame({"tenure": rng.uniform(0, 60, 200)}), version="1")
    ids = traffic(store, "churn", "1", 100, -HOUR_S, seed=0)
    features(store, "churn", "1", ids, -HOUR_S, {"tenure": (list(rng.uniform(0, 60, 100)), False)})
    # fraud 1: no reference at all, declared bounds only
    ids = traffic(store, "fraud", "1", 120, HOUR_S, seed=1)
    features(store, "fraud", "1", ids, HOUR_S, {"age": (list(rng.normal(50, 30, 120)), False)})
    return [("credit", "1"), ("credit", "2"), ("loans", "1"), ("churn", "1"), ("fraud", "1")]


def test_one_pass_over_the_fleet_equals_each_version_alone(store) -> None:
    targets = fleet(store)
    settings = QualityConfig.load(CONFIG)
    together = ANALYSIS.compute(store, targets, WINDOWS, settings, Run())
    alone = [r for t in targets for r in ANALYSIS.compute(store, [t], WINDOWS, settings, Run())]
    assert [asdict(r) for r in together] == [asdict(r) for r in alone]
    by_target = {(r.model, r.version) for r in together}
    assert by_target == set(targets)
    # the computations differ as the data and the settings do
    credit_2 = [r for r in together if r.version == "2" and r.metric == "out_of_range_ratio"]
    credit_1 = [r for r in together if r.model == "credit" and r.version == "1"]
    ranges = {r.value for r in credit_1 if r.metric == "out_of_range_ratio"}
    assert min(r.value for r in credit_2) > max(ranges)
    first = [r for r in together if r.window_start == T0]
    loans = {r.metric: r for r in first if r.model == "loans" and r.feature == "income"}
    assert loans["missing_ratio"].status == "alert"
    assert loans["missing_ratio"].threshold == 0.3  # the model's own threshold
    assert loans["wrong_type_ratio"].value > 0
    assert loans["out_of_range_ratio"].details["max"] == 150_000
    new = [r for r in together if r.metric == "feature_new"]
    assert [(r.model, r.feature) for r in new] == [("loans", "referrer")]
    outlier = [r for r in first if r.model == "loans" and r.metric == "outlier_ratio"]
    assert [r.details["min_features"] for r in outlier] == [1]
    churn = [r for r in together if r.model == "churn"]
    assert churn and {r.status for r in churn} == {"no_data"}
    fraud = [r for r in together if r.model == "fraud" and r.status != "no_data"]
    assert {r.metric for r in fraud} == {"missing_ratio", "wrong_type_ratio", "out_of_range_ratio"}
