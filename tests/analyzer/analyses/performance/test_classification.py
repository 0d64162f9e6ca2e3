"""Realized classification metrics computed in ClickHouse equal scikit-learn's on the same rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from modeltel.analyzer.analyses.performance import choose_positive
from modeltel.analyzer.inputs.labels import upload_labels
from modeltel.analyzer.orchestration.analyzer import Analyzer
from support.perfdata import HOUR, at, insert_predictions, realized, value

TOL = 1e-9


def binary_model(store, model: str, n: int, rng: np.random.Generator, *, positives: float):
    ids = [f"{model}-{i}" for i in range(n)]
    times = [at(i * 3000 / n) for i in range(n)]
    y = (rng.random(n) < positives).astype(int)
    # informative, tied scores (two decimals), imbalanced classes
    scores = np.clip(np.round(0.25 * y + rng.random(n) * 0.75, 2), 0, 1)
    predicted = (scores >= 0.5).astype(int)
    insert_predictions(store, model, ids, times, labels=[str(p) for p in predicted], scores=scores)
    return ids, times, y, scores, predicted


def test_binary_metrics_equal_sklearn_with_ties_imbalance_and_partial_labels(store) -> None:
    rng = np.random.default_rng(7)
    ids, times, y, scores, predicted = binary_model(store, "churn", 3000, rng, positives=0.08)
    labelled = rng.random(len(ids)) < 0.8
    delays = rng.exponential(3600, len(ids))
    frame = pd.DataFrame(
        {
            "prediction_id": np.array(ids)[labelled],
            "label": y[labelled],
            "ts": [
                (times[i] + pd.Timedelta(seconds=float(delays[i]))).isoformat()
                for i in np.flatnonzero(labelled)
            ],
        }
    )
    upload_labels(store, "churn", frame, timestamp_column="ts")

    out = Analyzer(store).performance("churn", "1", window=HOUR, write=False)
    yt, ys, yp = y[labelled], scores[labelled], predicted[labelled]
    assert value(out, "accuracy") == pytest.approx(accuracy_score(yt, yp), abs=TOL)
    assert value(out, "precision") == pytest.approx(precision_score(yt, yp), abs=TOL)
    assert value(out, "recall") == pytest.approx(recall_score(yt, yp), abs=TOL)
    assert value(out, "f1") == pytest.approx(f1_score(yt, yp), abs=TOL)
    assert value(out, "roc_auc") == pytest.approx(roc_auc_score(yt, ys), abs=TOL)
    assert value(out, "log_loss") == pytest.approx(log_loss(yt, y_proba=ys, labels=[0, 1]), abs=TOL)
    details = json.loads(realized(out, "accuracy")["details"])
    matrix = details["confusion_matrix"]
    assert matrix["labels"] == ["0", "1"] and matrix["positive_class"] == "1"
    assert matrix["matrix"] == confusion_matrix(yt, yp, labels=[0, 1]).tolist()
    assert realized(out, "accuracy")["current_size"] == labelled.sum()

    assert value(out, "label_coverage") == pytest.approx(labelled.mean(), abs=TOL)
    expected = np.percentile(delays[labelled], [50, 95, 99])
    for name, want in zip(("p50", "p95", "p99"), expected, strict=True):
        # label timestamps are stored to the microsecond
        assert value(out, f"label_delay_{name}") == pytest.approx(want, abs=2e-6)
    assert set(out.status) <= {"info", "ok"}


def test_window_with_one_class_only_mirrors_sklearn(store) -> None:
    ids = [f"o{i}" for i in range(200)]
    times = [at(i) for i in range(200)]
    rng = np.random.default_rng(3)
    scores = rng.random(200)
    predicted = (scores >= 0.9).astype(int)  # a few false positives
    insert_predictions(store, "one", ids, times, labels=[str(p) for p in predicted], scores=scores)
    insert_predictions(store, "one", ["other"], [at(7200)], labels=["1"], scores=[0.9])
    upload_labels(store, "one", pd.DataFrame({"prediction_id": ids, "label": ["0"] * 200}))
    y = np.zeros(200, dtype=int)
    with pytest.warns(UndefinedMetricWarning, match="Only one class"):
        assert np.isnan(roc_auc_score(y, scores))
    out = Analyzer(store).performance("one", "1", window=HOUR, write=False)
    auc = realized(out, "roc_auc")
    assert auc["status"] == "no_data"
    assert value(out, "roc_auc") is None
    assert "one class" in json.loads(auc["details"])["reason"]
    assert value(out, "accuracy") == pytest.approx(accuracy_score(y, predicted), abs=TOL)
    assert value(out, "precision") == pytest.approx(
        precision_score(y, predicted, zero_division=np.nan), abs=TOL
    )
    # no positive labels: recall and F1's sklearn value is nan (zero_division=nan)
    assert np.isnan(recall_score(y, predicted, zero_division=np.nan))
    assert value(out, "recall") is None and realized(out, "recall")["status"] == "no_data"
    assert f1_score(y, predicted, zero_division=np.nan) == pytest.approx(0.0)
    assert value(out, "f1") == pytest.approx(0.0)
    assert value(out, "log_loss") == pytest.approx(
        log_loss(y, y_proba=scores, labels=[0, 1]), abs=TOL
    )


def test_window_without_labels_has_no_data_but_estimates(store) -> None:
    ids = [f"n{i}" for i in range(300)]
    insert_predictions(
        store, "nolab", ids, [at(i) for i in range(300)], labels=["1"] * 300, scores=[0.8] * 300
    )
    out = Analyzer(store).performance("nolab", "1", window=HOUR, write=False)
    for metric in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"):
        row = realized(out, metric)
        assert row["status"] == "no_data", metric
        assert json.loads(row["details"])["reason"]
    assert value(out, "label_coverage") == 0.0
    assert realized(out, "label_delay_p95")["status"] == "no_data"
    assert value(out, "accuracy", "estimated") == pytest.approx(0.8)


def test_multiclass_macro_and_weighted_equal_sklearn(store) -> None:
    rng = np.random.default_rng(11)
    n = 2500
    classes = np.array(["cat", "dog", "eel", "fox"])
    y = rng.choice(classes[:3], n, p=[0.7, 0.25, 0.05])  # "fox" is never true …
    noise = rng.random(n)
    predicted = np.where(noise < 0.7, y, rng.choice(classes, n))  # … but sometimes predicted
    predicted[:5] = "cat"
    ids = [f"m{i}" for i in range(n)]
    insert_predictions(
        store, "zoo", ids, [at(i) for i in range(n)], labels=list(predicted), scores=noise
    )
    upload_labels(store, "zoo", pd.DataFrame({"prediction_id": ids, "label": y}))
    out = Analyzer(store).performance("zoo", "1", window=HOUR, write=False)
    assert value(out, "accuracy") == pytest.approx(accuracy_score(y, predicted), abs=TOL)
    for name, fn in (("precision", precision_score), ("recall", recall_score), ("f1", f1_score)):
        for average in ("macro", "weighted"):
            want = fn(y, predicted, average=average, zero_division=np.nan)
            assert value(out, f"{name}_{average}") == pytest.approx(want, abs=TOL), (name, average)
    matrix = json.loads(realized(out, "accuracy")["details"])["confusion_matrix"]
    assert matrix["labels"] == list(classes)
    assert matrix["matrix"] == confusion_matrix(y, predicted, labels=classes).tolist()
    assert "roc_auc" not in set(out.metric)
    assert value(out, "accuracy", "estimated") == pytest.approx(noise.mean(), abs=TOL)


def test_log_loss_clips_like_sklearn(store) -> None:
    scores = [0.0, 1.0, 0.0, 1.0, 0.5, 1e-20, 1 - 1e-17]
    y = [1, 0, 0, 1, 1, 1, 0]
    ids = [f"c{i}" for i in range(len(y))]
    insert_predictions(
        store,
        "clip",
        ids,
        [at(i) for i in range(len(y))],
        labels=[str(int(s >= 0.5)) for s in scores],
        scores=scores,
    )
    upload_labels(store, "clip", pd.DataFrame({"prediction_id": ids, "label": y}))
    out = Analyzer(store).performance("clip", "1", window=HOUR, write=False)
    want = log_loss(y, y_proba=np.array(scores), labels=[0, 1])
    assert value(out, "log_loss") == pytest.approx(want, rel=1e-12)


def test_latest_label_wins_and_reupload_is_idempotent(store) -> None:
    ids = [f"l{i}" for i in range(100)]
    insert_predictions(store, "late", ids, [at(i) for i in range(100)], labels=["1"] * 100)
    first = pd.DataFrame({"prediction_id": ids, "label": ["0"] * 100})
    upload_labels(store, "late", first)
    analyzer = Analyzer(store)
    assert value(analyzer.performance("late", "1", window=HOUR, write=False), "accuracy") == 0.0
    fixed = pd.DataFrame({"prediction_id": ids[:30], "label": ["1"] * 30})
    upload_labels(store, "late", fixed)
    assert value(
        analyzer.performance("late", "1", window=HOUR, write=False), "accuracy"
    ) == pytest.approx(0.3)
    upload_labels(store, "late", fixed)
    upload_labels(store, "late", fixed)
    assert value(
        analyzer.performance("late", "1", window=HOUR, write=False), "accuracy"
    ) == pytest.approx(0.3)
    assert store.query_rows("SELECT count() FROM ml_labels FINAL WHERE model = 'late'") == [(100,)]


def test_sliding_windows_of_n_predictions_equal_sklearn_on_each_slice(store) -> None:
    rng = np.random.default_rng(5)
    ids, _, y, scores, predicted = binary_model(store, "slide", 1500, rng, positives=0.4)
    upload_labels(store, "slide", pd.DataFrame({"prediction_id": ids, "label": y}))
    out = Analyzer(store).performance("slide", "1", window=HOUR, sliding=(500, 200), write=False)
    accuracy = out[(out.metric == "accuracy") & (out.source == "realized")]
    assert list(accuracy.segment.unique()) == ["sliding:500/200"]
    assert len(accuracy) == 6  # windows start at rows 0, 200, …, 1000
    auc = out[(out.metric == "roc_auc") & (out.source == "realized")].sort_values("window_start")
    for k, (acc, roc) in enumerate(
        zip(accuracy.sort_values("window_start").value, auc.value, strict=True)
    ):
        rows = slice(200 * k, 200 * k + 500)
        assert acc == pytest.approx(accuracy_score(y[rows], predicted[rows]), abs=TOL)
        assert roc == pytest.approx(roc_auc_score(y[rows], scores[rows]), abs=TOL)


@pytest.mark.parametrize(
    ("classes", "configured", "positive"),
    [
        (["0", "1"], None, "1"),
        (["false", "true"], None, "true"),
        (["no", "yes"], None, "yes"),
        (["cat", "dog"], None, "dog"),
        (["10", "9"], None, "10"),
        (["a", "b"], "a", "a"),
    ],
)
def test_positive_class_follows_predict_proba_column_one(classes, configured, positive) -> None:
    assert choose_positive(classes, configured) == positive
