"""Performance metrics from counts and sums: small pure functions, no I/O.

The SQL in :mod:`.queries` reduces a window to a confusion matrix, a few sums and (for
ROC AUC) the exact Mann–Whitney statistic; these functions turn them into numbers equal to
scikit-learn's on the same rows. A metric that is undefined on the window is ``None`` with a
reason, where scikit-learn raises or returns NaN:

- a ratio with a zero denominator (precision without predicted positives, recall without
  actual positives …) is undefined, as scikit-learn's ``zero_division=np.nan``; macro and
  weighted averages leave undefined classes out, as scikit-learn does then;
- ROC AUC with one class among the labels (scikit-learn warns and returns NaN);
- R² with fewer than two labelled predictions (scikit-learn returns NaN);
- any metric of a window without labelled predictions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

EPS = float(np.finfo(np.float64).eps)
"""scikit-learn clips probabilities to [eps, 1 − eps] in log loss and divides by max(|y|, eps)
in MAPE."""


@dataclass(frozen=True)
class Metric:
    """A metric value, or None with the reason it is undefined."""

    value: float | None
    reason: str | None = None


NO_LABELS = "no labelled predictions in the window"


def _ratio(num: float, den: float, reason: str) -> Metric:
    if den == 0:
        return Metric(None, reason)
    return Metric(num / den)


# -- classification ----------------------------------------------------------------------------


def binary_metrics(tp: int, fp: int, fn: int, tn: int) -> dict[str, Metric]:
    """accuracy, precision, recall and F1 of the positive class from a 2×2 confusion matrix."""
    n = tp + fp + fn + tn
    if n == 0:
        return {m: Metric(None, NO_LABELS) for m in ("accuracy", "precision", "recall", "f1")}
    return {
        "accuracy": Metric((tp + tn) / n),
        "precision": _ratio(tp, tp + fp, "no positive predictions: precision is undefined"),
        "recall": _ratio(tp, tp + fn, "no positive labels: recall is undefined"),
        "f1": _ratio(
            2 * tp, 2 * tp + fp + fn, "no positive predictions or labels: F1 is undefined"
        ),
    }


def _nanaverage(values: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    keep = ~np.isnan(values)
    if not keep.any():
        return None
    if weights is None:
        return float(np.mean(values[keep]))
    w = weights[keep]
    if w.sum() == 0:
        return None
    return float(np.average(values[keep], weights=w))


def multiclass_metrics(confusion: np.ndarray) -> dict[str, Metric]:
    """accuracy and macro/weighted precision, recall, F1 from a K×K confusion matrix.

    ``confusion[i, j]`` counts rows of true class i predicted as j. Classes absent from both
    the labels and the predictions of the window do not count (their ratios are undefined).
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    n = confusion.sum()
    names = (
        "accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "precision_weighted",
        "recall_weighted",
        "f1_weighted",
    )
    if n == 0:
        return {m: Metric(None, NO_LABELS) for m in names}
    tp = np.diag(confusion)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, np.nan)
        recall = np.where(support > 0, tp / support, np.nan)
        f1_den = predicted + support
        f1 = np.where(f1_den > 0, 2 * tp / f1_den, np.nan)
    out = {"accuracy": Metric(float(tp.sum() / n))}
    for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        for average, weights in (("macro", None), ("weighted", support)):
            value = _nanaverage(values, weights)
            out[f"{name}_{average}"] = Metric(
                value, None if value is not None else f"{name} is undefined for every class"
            )
    return out


def roc_auc(auc: float, positives: int, negatives: int) -> Metric:
    """ROC AUC (ClickHouse's ``arrayROCAUC``: exact, ties counted half) of a window with
    ``positives`` and ``negatives`` labelled, scored predictions."""
    if positives == 0 or negatives == 0:
        return Metric(None, "only one class among the labels: ROC AUC is undefined")
    return Metric(auc)


def log_loss_from_sum(total: float, n: int) -> Metric:
    """Mean log loss from the sum of per-row losses."""
    if n == 0:
        return Metric(None, "no labelled predictions with a score")
    return Metric(total / n)


# -- regression --------------------------------------------------------------------------------


def regression_metrics(
    n: int, abs_error: float, sq_error: float, ss_tot: float, ape: float
) -> dict[str, Metric]:
    """MAE, MSE, RMSE, R² and MAPE from sums over ``n`` labelled predictions.

    ``ss_tot`` is Σ(y − ȳ)²; ``ape`` is Σ|y − ŷ| / max(|y|, eps). R² of a constant target is 1
    when every prediction is exact and 0 otherwise (scikit-learn's ``force_finite``).
    """
    if n == 0:
        return {m: Metric(None, NO_LABELS) for m in ("mae", "mse", "rmse", "r2", "mape")}
    mse = sq_error / n
    if n < 2:
        r2 = Metric(None, "R² needs at least two labelled predictions")
    elif ss_tot == 0:
        r2 = Metric(1.0 if sq_error == 0 else 0.0)
    else:
        r2 = Metric(1.0 - sq_error / ss_tot)
    return {
        "mae": Metric(abs_error / n),
        "mse": Metric(mse),
        "rmse": Metric(math.sqrt(mse)),
        "r2": r2,
        "mape": Metric(ape / n),
    }


# -- confidence-based estimation (CBPE) --------------------------------------------------------


def estimated_binary_metrics(
    n: int, e_tp: float, e_fp: float, e_fn: float, e_tn: float, var_correct: float
) -> dict[str, Metric]:
    """Expected accuracy, precision, recall and F1 from the expected confusion matrix.

    With calibrated scores p (probability of the positive class), a row predicted positive is
    a true positive with probability p and a false positive with 1 − p; one predicted negative
    is a false negative with p and a true negative with 1 − p. The ratios are NannyML's CBPE
    estimates (ratios of expected counts). ``var_correct`` = Σ c(1 − c) over rows, c the
    probability of being right, gives the standard error of the accuracy estimate.
    """
    if n == 0:
        return {
            m: Metric(None, "no scored predictions in the window")
            for m in ("accuracy", "precision", "recall", "f1")
        }
    out = binary_metrics_float(e_tp, e_fp, e_fn, e_tn)
    return out | {"accuracy_std": Metric(math.sqrt(var_correct) / n)}


def binary_metrics_float(tp: float, fp: float, fn: float, tn: float) -> dict[str, Metric]:
    """:func:`binary_metrics` on expected (fractional) counts."""
    n = tp + fp + fn + tn
    return {
        "accuracy": _ratio(tp + tn, n, "no scored predictions"),
        "precision": _ratio(tp, tp + fp, "no positive predictions: precision is undefined"),
        "recall": _ratio(tp, tp + fn, "no expected positives: recall is undefined"),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn, "F1 is undefined"),
    }


def expected_auc(numerator: float, positives: float, negatives: float) -> Metric:
    """Expected ROC AUC: Σᵢ pᵢ·(Σ_{sⱼ<sᵢ}(1 − pⱼ) + ½Σ_{sⱼ=sᵢ}(1 − pⱼ)) / (P·N)."""
    if positives <= 0 or negatives <= 0:
        return Metric(None, "scores are all 0 or all 1: expected ROC AUC is undefined")
    return Metric(numerator / (positives * negatives))


def confusion_matrix(cells: Sequence[tuple[int, int, int]], size: int) -> np.ndarray:
    """A ``size``×``size`` matrix from (true index, predicted index, count), indexes from 1."""
    out = np.zeros((size, size), dtype=np.int64)
    for true_i, pred_i, count in cells:
        if 1 <= true_i <= size and 1 <= pred_i <= size:
            out[true_i - 1, pred_i - 1] += int(count)
    return out
