"""Regression metrics against scikit-learn, and CBPE estimates against realized performance."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)

from modeltel.analyzer.inputs.labels import upload_labels
from modeltel.analyzer.orchestration.analyzer import Analyzer
from support.perfdata import HOUR, at, insert_predictions, realized, value

TOL = 1e-9


def regression_model(store, model: str, y_pred, y_true=None) -> list[str]:
    ids = [f"{model}{i}" for i in range(len(y_pred))]
    insert_predictions(
        store,
        model,
        ids,
        [at(i) for i in range(len(ids))],
        task="regression",
        values=y_pred,
    )
    if y_true is not None:
        upload_labels(
            store,
            model,
            pd.DataFrame({"id": ids, "truth": y_true}),
            id_column="id",
            label_column=None,
            value_column="truth",
        )
    return ids


def test_regression_metrics_equal_sklearn(store) -> None:
    rng = np.random.default_rng(2)
    y = rng.lognormal(3, 1, 2000)
    y[:3] = 0.0  # MAPE divides by max(|y|, eps) like sklearn
    y_pred = y + rng.normal(0, 5, 2000)
    regression_model(store, "price", y_pred, y)
    out = Analyzer(store).performance("price", "1", window=HOUR, write=False)
    assert value(out, "mae") == pytest.approx(mean_absolute_error(y, y_pred), rel=TOL)
    assert value(out, "mse") == pytest.approx(mean_squared_error(y, y_pred), rel=TOL)
    assert value(out, "rmse") == pytest.approx(np.sqrt(mean_squared_error(y, y_pred)), rel=TOL)
    assert value(out, "r2") == pytest.approx(r2_score(y, y_pred), abs=TOL)
    assert value(out, "mape") == pytest.approx(mean_absolute_percentage_error(y, y_pred), rel=TOL)
    assert value(out, "label_coverage") == 1.0
    assert "accuracy" not in set(out.metric)


def test_regression_edge_cases_follow_sklearn(store) -> None:
    regression_model(store, "const", [1.0, 2.0, 3.0], [5.0, 5.0, 5.0])
    out = Analyzer(store).performance("const", "1", window=HOUR, write=False)
    assert value(out, "r2") == r2_score([5.0] * 3, [1.0, 2.0, 3.0]) == 0.0
    regression_model(store, "exact", [5.0, 5.0], [5.0, 5.0])
    out = Analyzer(store).performance("exact", "1", window=HOUR, write=False)
    assert value(out, "r2") == r2_score([5.0, 5.0], [5.0, 5.0]) == 1.0
    regression_model(store, "single", [1.0], [2.0])
    out = Analyzer(store).performance("single", "1", window=HOUR, write=False)
    assert realized(out, "r2")["status"] == "no_data"
    assert value(out, "mae") == 1.0


def test_cbpe_estimates_a_calibrated_classifier_within_tolerance(store) -> None:
    """Labels drawn from the scores themselves: the scores are calibrated by construction.

    Stated tolerance: |estimated − realized| ≤ 0.03 for accuracy, precision, recall, F1 and
    ROC AUC at 4,000 predictions, and within 4 standard errors for accuracy.
    """
    rng = np.random.default_rng(42)
    n = 4000
    scores = rng.beta(0.8, 1.2, n)
    y = (rng.random(n) < scores).astype(int)
    predicted = (scores >= 0.5).astype(int)
    ids = [f"cb{i}" for i in range(n)]
    insert_predictions(
        store,
        "cal",
        ids,
        [at(i * 0.5) for i in range(n)],
        labels=list(map(str, predicted)),
        scores=scores,
    )
    analyzer = Analyzer(store)
    before = analyzer.performance("cal", "1", window=HOUR, write=False)
    assert realized(before, "accuracy")["status"] == "no_data"
    estimates = {
        m: value(before, m, "estimated")
        for m in ("accuracy", "precision", "recall", "f1", "roc_auc")
    }
    truth = {
        "accuracy": accuracy_score(y, predicted),
        "precision": precision_score(y, predicted),
        "recall": recall_score(y, predicted),
        "f1": f1_score(y, predicted),
        "roc_auc": roc_auc_score(y, scores),
    }
    for metric, estimate in estimates.items():
        assert estimate == pytest.approx(truth[metric], abs=0.03), metric
    std = json.loads(realized(before, "accuracy", "estimated")["details"])["std"]
    assert abs(estimates["accuracy"] - truth["accuracy"]) <= 4 * std
    # expected confusion matrix by hand
    expected_tp = scores[predicted == 1].sum()
    expected_fp = (1 - scores[predicted == 1]).sum()
    assert estimates["precision"] == pytest.approx(expected_tp / (expected_tp + expected_fp))

    upload_labels(store, "cal", pd.DataFrame({"prediction_id": ids, "label": y}))
    after = analyzer.performance("cal", "1", window=HOUR, write=False)
    for metric in estimates:
        row = realized(after, metric, "estimated")
        details = json.loads(row["details"])
        assert details["realized"] == pytest.approx(truth[metric], abs=TOL)
        assert details["error"] == pytest.approx(row["value"] - truth[metric], abs=TOL)
        assert value(after, metric) == pytest.approx(truth[metric], abs=TOL)
