"""Performance of many model versions in one pass: the records of every target are those of
the target computed alone, whatever the task, the classes, the labels and the settings."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from modeltel.analyzer.analyses.performance import ANALYSIS, PerformanceConfig
from modeltel.analyzer.base.analysis import Run
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.inputs.labels import upload_labels
from support.perfdata import T0, at, insert_predictions

HOUR_S = 3600
WINDOWS = (Window(T0, at(HOUR_S)), Window(at(HOUR_S), at(2 * HOUR_S)))
CONFIG = {
    "performance": {
        "thresholds": {"accuracy": 0.6},
        "models": {
            "loans": {"positive_class": "deny", "estimated": False},
            "price": {"thresholds": {"mae": 1.0}},
        },
    }
}


def predictions(store, model, version, n, start_s, rng, *, task="classification", classes=()):
    """``n`` predictions of ``model``/``version`` over the hour from ``start_s``: their ids,
    times and predicted classes (or values)."""
    ids = [f"{model}-{version}-{start_s}-{i}" for i in range(n)]
    times = [at(start_s + i * HOUR_S / n) for i in range(n)]
    if task == "regression":
        values = rng.normal(10, 3, n)
        insert_predictions(store, model, ids, times, version=version, task=task, values=values)
        return ids, times, values
    predicted = rng.choice(list(classes), n)
    scores = np.round(rng.random(n), 2) if len(classes) == 2 else None
    insert_predictions(store, model, ids, times, version=version, labels=predicted, scores=scores)
    return ids, times, predicted


def labels(store, model, ids, times, truth, rng, *, share=0.7, value=False) -> None:
    """Labels of about ``share`` of ``ids``, received up to an hour after the prediction."""
    kept = np.flatnonzero(rng.random(len(ids)) < share)
    delays = rng.exponential(900, len(ids))
    frame = pd.DataFrame(
        {
            "prediction_id": [ids[i] for i in kept],
            "target": [truth[i] for i in kept],
            "ts": [(times[i] + pd.Timedelta(seconds=float(delays[i]))).isoformat() for i in kept],
        }
    )
    column = {"value_column": "target", "label_column": None} if value else {}
    upload_labels(
        store, model, frame, timestamp_column="ts", **({"label_column": "target"} | column)
    )


def fleet(store) -> list[tuple[str, str]]:
    rng = np.random.default_rng(11)
    # churn 1 and 2: binary 0/1 with scores, both hours; version 2 repeats some of 1's ids
    for version in ("1", "2"):
        for hour in (0, 1):
            ids, times, predicted = predictions(
                store, "churn", version, 200, hour * HOUR_S, rng, classes=("0", "1")
            )
            if version == "2" and hour == 0:
                shared = [f"churn-1-0-{i}" for i in range(20)]
                insert_predictions(
                    store, "churn", shared, times[:20], version="2", labels=["1"] * 20
                )
            flip = rng.random(len(ids)) < 0.2
            truth = [str(1 - int(p)) if f else str(p) for p, f in zip(predicted, flip, strict=True)]
            labels(store, "churn", ids, times, truth, rng)
    # loans 1: other classes, its own positive class, second hour only
    ids, times, predicted = predictions(
        store, "loans", "1", 150, HOUR_S, rng, classes=("approve", "deny")
    )
    labels(store, "loans", ids, times, list(rng.choice(["approve", "deny"], 150)), rng)
    # tier 1: multiclass
    ids, times, predicted = predictions(store, "tier", "1", 300, 0, rng, classes=("a", "b", "c"))
    labels(store, "tier", ids, times, [p if rng.random() < 0.6 else "c" for p in predicted], rng)
    # price 1: regression
    ids, times, values = predictions(store, "price", "1", 250, 0, rng, task="regression")
    labels(store, "price", ids, times, list(values + rng.normal(0, 1, 250)), rng, value=True)
    # fresh 1: binary, no label of its predictions; labels received in the first hour: an
    # unknown id and one of churn's ids for fresh, one of churn's own ids and an unknown one
    # for churn
    predictions(store, "fresh", "1", 120, 0, rng, classes=("0", "1"))
    received = [
        ("fresh", "nobody"),
        ("fresh", "churn-1-0-1"),
        ("churn", "churn-1-0-0"),
        ("churn", "nobody"),
    ]
    store.insert(
        "ml_labels",
        [[m, i, "1", None, at(30), at(60), "upload"] for m, i in received],
        ["model", "prediction_id", "label", "label_value", "timestamp", "received_at", "source"],
    )
    # gone 1: predictions before the windows only (no rows in them)
    ids, times, predicted = predictions(store, "gone", "1", 80, -HOUR_S, rng, classes=("0", "1"))
    labels(store, "gone", ids, times, list(predicted), rng)
    return [
        ("churn", "1"),
        ("churn", "2"),
        ("loans", "1"),
        ("tier", "1"),
        ("price", "1"),
        ("fresh", "1"),
        ("gone", "1"),
    ]


def coverage_of(records, metric: str) -> list:
    """The ``metric`` records of the first window."""
    return [r for r in records if r.metric == metric and r.window_start == T0]


def same(a: Any, b: Any) -> bool:
    """Equal, floats up to the last bits a different summation order changes."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def test_one_pass_over_the_fleet_equals_each_version_alone(store) -> None:
    targets = fleet(store)
    settings = PerformanceConfig.load(CONFIG)
    together = ANALYSIS.compute(store, targets, WINDOWS, settings, Run())
    alone = [r for t in targets for r in ANALYSIS.compute(store, [t], WINDOWS, settings, Run())]
    assert len(together) == len(alone)
    for one_pass, by_itself in zip(together, alone, strict=True):
        assert same(asdict(one_pass), asdict(by_itself)), (one_pass, by_itself)
    assert {(r.model, r.version) for r in together} == set(targets)
    # the computations differ as the data and the settings do
    metrics = {(r.model, r.metric) for r in together if r.status != "no_data"}
    assert {("price", "mae"), ("tier", "f1_macro"), ("churn", "roc_auc")} <= metrics
    assert ("price", "accuracy") not in metrics and ("tier", "roc_auc") not in metrics
    coverage = [r for r in together if r.metric == "label_coverage" and r.window_start == T0]
    by_model = {(r.model, r.version): r for r in coverage}
    assert by_model[("churn", "2")].current_size == 220  # its own ids and 20 of version 1's
    assert by_model[("fresh", "1")].value == 0.0
    assert by_model[("loans", "1")].status == "no_data"  # no predictions in the first hour
    assert {r.status for r in together if r.model == "gone"} == {"no_data"}
    unknown = {(r.model, r.version): r.value for r in coverage_of(together, "labels_unknown_ids")}
    assert unknown[("fresh", "1")] == 2.0 and unknown[("churn", "1")] == 1.0
    assert unknown[("churn", "2")] == 1.0 and unknown[("tier", "1")] == 0.0
    accuracy = [r for r in together if r.metric == "accuracy" and r.model == "loans"]
    assert accuracy and all(r.threshold == 0.6 for r in accuracy)
    estimated = {r.model for r in together if r.source == "estimated"}
    assert "churn" in estimated and "loans" not in estimated
