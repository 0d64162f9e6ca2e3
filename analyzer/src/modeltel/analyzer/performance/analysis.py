"""Realized and estimated performance of one model version, as tidy result records.

:func:`compute_performance` runs one statement per call (see :mod:`.queries`) and turns each
window's counts into records of kind ``performance``:

- classification (binary): ``accuracy`` (confusion matrix in ``details``), ``precision``,
  ``recall``, ``f1``, ``roc_auc``, ``log_loss``; multiclass: ``accuracy`` and the macro and
  weighted precision, recall and F1; regression: ``mae``, ``mse``, ``rmse``, ``r2``, ``mape``;
- ``label_coverage`` (share of predictions with a label), ``label_delay_p50|p95|p99``
  (seconds from prediction to label timestamp, exact) and, for time windows,
  ``labels_unknown_ids`` (labels received in the window whose id matches no prediction);
- with ``source = estimated``: CBPE estimates for binary classifiers with calibrated scores
  (accuracy, precision, recall, F1, ROC AUC) and the expected accuracy (mean score of the
  predicted class) for multiclass ones; once labels exist the realized value and the
  estimate's error are in ``details``.

The positive class of a binary model is ``performance.positive_class``, else ``1``/``true``
when among the classes, else the larger of the two classes (numerically when both are
numbers), which is what ``predict_proba[:, 1]`` refers to in scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from modeltel.analyzer.errors import InputError
from modeltel.analyzer.performance.config import PerformanceConfig
from modeltel.analyzer.performance.metrics import (
    Metric,
    binary_metrics,
    confusion_matrix,
    estimated_binary_metrics,
    expected_auc,
    log_loss_from_sum,
    multiclass_metrics,
    regression_metrics,
    roc_auc,
)
from modeltel.analyzer.performance.queries import (
    DELAY_QUANTILES,
    NO_CLASS,
    Params,
    SlidingWindows,
    TimeWindows,
    Windows,
    binary_sql,
    classification_payload,
    joined_sql,
    multiclass_sql,
    prediction_filter,
    regression_payload,
    regression_sql,
    time_key,
    to_time,
    window_rows,
)
from modeltel.analyzer.store import Store

MAX_CLASSES = 1000
POSITIVE_NAMES = ("1", "true", "True", "yes", "positive")


@dataclass(frozen=True)
class ModelTask:
    """What the analysis computes: the task, the class list and the positive class."""

    task: str
    classes: tuple[str, ...] = ()
    positive: str | None = None

    @property
    def binary(self) -> bool:
        return self.task == "classification" and len(self.classes) <= 2

    @property
    def positive_index(self) -> int:
        if self.positive is None or self.positive not in self.classes:
            return NO_CLASS
        return self.classes.index(self.positive) + 1

    @property
    def negative(self) -> str | None:
        others = [c for c in self.classes if c != self.positive]
        return others[0] if len(others) == 1 else None


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def choose_positive(classes: Sequence[str], configured: str | None) -> str | None:
    """The positive class of a binary model (see the module docstring)."""
    if configured is not None:
        return configured
    for name in POSITIVE_NAMES:
        if name in classes:
            return name
    if len(classes) == 2:
        a, b = classes
        na, nb = _as_number(a), _as_number(b)
        if na is not None and nb is not None and na != nb:
            return a if na > nb else b
        return max(a, b)
    return None


def describe_model(
    store: Store, model: str, version: str, windows: Windows, config: PerformanceConfig
) -> ModelTask:
    """The task of the version's predictions in the windows, and its classes."""
    params = Params()
    where = prediction_filter(model, version, windows, params)
    task, n_values, n_labels, labels = store.query_rows(
        f"SELECT anyHeavy(task), countIf(prediction_value IS NOT NULL), "
        f"countIf(prediction_label IS NOT NULL), "
        f"groupUniqArrayIf({MAX_CLASSES + 1})(prediction_label, prediction_label IS NOT NULL) "
        f"FROM ml_predictions WHERE {where}",
        parameters=params.values,
    )[0]
    chosen = config.task or (
        str(task)
        if task in ("classification", "regression")
        else "regression"
        if int(n_values) > int(n_labels)
        else "classification"
    )
    if chosen == "regression":
        return ModelTask("regression")
    true_labels = store.query_rows(
        f"SELECT groupUniqArrayIf({MAX_CLASSES + 1})(label, label IS NOT NULL) FROM ml_labels "
        "WHERE model = {model:String}",
        parameters={"model": model},
    )[0][0]
    classes = sorted({str(c) for c in labels} | {str(c) for c in true_labels})
    if len(classes) > MAX_CLASSES:
        raise InputError(
            f"model {model!r} has more than {MAX_CLASSES} distinct classes; if it is a regression "
            "model set performance.task: regression (or send ml.task = regression)"
        )
    positive = choose_positive(classes, config.positive_class) if len(classes) <= 2 else None
    return ModelTask("classification", tuple(classes), positive)


def _quantile_records(delays: Sequence[float], n_labeled: int) -> dict[str, Metric]:
    out = {}
    for q, value in zip(DELAY_QUANTILES, delays, strict=False):
        name = f"label_delay_p{round(q * 100)}"
        if n_labeled == 0 or value is None or (isinstance(value, float) and math.isnan(value)):
            out[name] = Metric(None, "no labelled predictions in the window")
        else:
            out[name] = Metric(float(value))
    return out


class _Records:
    """Collects tidy records for one model version."""

    def __init__(self, model: str, version: str, config: PerformanceConfig, segment: str) -> None:
        self.model, self.version, self.config, self.segment = model, version, config, segment
        self.records: list[dict[str, Any]] = []

    def add(
        self,
        bounds: tuple[datetime, datetime],
        metric: str,
        result: Metric,
        size: int,
        *,
        source: str = "realized",
        status: str | None = None,
        threshold: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if status is None:
            status, threshold = self.config.status(metric, result.value)
        info = dict(details or {})
        if result.reason:
            info["reason"] = result.reason
        record = {
            "model": self.model,
            "version": self.version,
            "window_start": bounds[0],
            "window_end": bounds[1],
            "kind": "performance",
            "segment": self.segment,
            "metric": metric,
            "value": result.value,
            "threshold": threshold,
            "status": status,
            "source": source,
            "current_size": int(size),
            "details": info,
        }
        self.records.append(record)
        return record


def _bounds(windows: Windows, row: dict[str, Any]) -> tuple[datetime, datetime]:
    if isinstance(windows, TimeWindows):
        start, end = windows.bounds(int(row["w"]))
        return to_time(start), to_time(end)
    # a sliding window spans its first to its last prediction (end exclusive: + 1 ms, the
    # resolution of ml_results)
    return to_time(int(row["first_ns"])), to_time(int(row["last_ns"]) + 1_000_000)


def _coverage(out: _Records, bounds: tuple[datetime, datetime], n: int, n_labeled: int) -> None:
    coverage = Metric(n_labeled / n) if n else Metric(None, "no predictions in the window")
    minimum = out.config.min_label_coverage
    if coverage.value is None:
        status = "no_data"
    elif minimum is None:
        status = "info"
    else:
        status = "warning" if coverage.value < minimum else "ok"
    out.add(
        bounds,
        "label_coverage",
        coverage,
        n,
        status=status,
        threshold=minimum,
        details={"predictions": n, "labelled": n_labeled},
    )


def _delays(out: _Records, bounds: tuple[datetime, datetime], delays: Any, n_labeled: int) -> None:
    limit = out.config.max_label_delay_s
    for metric, result in _quantile_records(list(delays), n_labeled).items():
        if result.value is None:
            status, threshold = "no_data", None
        elif metric == "label_delay_p95" and limit is not None:
            status, threshold = ("warning" if result.value > limit else "ok"), limit
        else:
            status, threshold = "info", None
        out.add(bounds, metric, result, n_labeled, status=status, threshold=threshold)


def _estimated(
    out: _Records,
    bounds: tuple[datetime, datetime],
    estimates: dict[str, Metric],
    realized: dict[str, dict[str, Any]],
    size: int,
    extra: dict[str, dict[str, Any]] | None = None,
) -> None:
    for metric, result in estimates.items():
        if metric.endswith("_std"):
            continue
        details: dict[str, Any] = {"method": "cbpe", **(extra or {}).get(metric, {})}
        truth = realized.get(metric)
        if truth is not None and truth["value"] is not None and result.value is not None:
            details["realized"] = truth["value"]
            details["error"] = result.value - truth["value"]
            details["labelled"] = truth["current_size"]
        out.add(bounds, metric, result, size, source="estimated", details=details)


def _binary(
    out: _Records, task: ModelTask, windows: Windows, row: dict[str, Any], estimated: bool
) -> None:
    bounds = _bounds(windows, row)
    n, n_labeled = int(row["n"]), int(row["n_labeled"])
    tp, fp, fn, tn = (int(row[c]) for c in ("tp", "fp", "fn", "tn"))
    n_eval, n_scored, n_pos = int(row["n_eval"]), int(row["n_scored"]), int(row["n_pos"])
    realized: dict[str, dict[str, Any]] = {}
    matrix = {
        "labels": [task.negative, task.positive],
        "matrix": [[tn, fp], [fn, tp]],
        "positive_class": task.positive,
    }
    for metric, result in binary_metrics(tp, fp, fn, tn).items():
        details = {"confusion_matrix": matrix} if metric == "accuracy" else {}
        realized[metric] = out.add(bounds, metric, result, n_eval, details=details)
    if n_scored == 0:
        auc = Metric(None, "no labelled predictions with a score")
    else:
        auc = roc_auc(float(row["auc"]), n_pos, n_scored - n_pos)
    realized["roc_auc"] = out.add(bounds, "roc_auc", auc, n_scored)
    out.add(bounds, "log_loss", log_loss_from_sum(float(row["loss"]), n_scored), n_scored)
    _coverage(out, bounds, n, n_labeled)
    _delays(out, bounds, row["delays"], n_labeled)
    if not estimated:
        return
    n_est = int(row["n_est"])
    estimates = estimated_binary_metrics(
        n_est, *(float(row[c]) for c in ("e_tp", "e_fp", "e_fn", "e_tn", "e_var"))
    )
    estimates["roc_auc"] = (
        expected_auc(float(row["e_auc_num"]), float(row["e_p"]), float(row["e_n"]))
        if n_est
        else Metric(None, "no scored predictions in the window")
    )
    std = estimates["accuracy_std"].value if "accuracy_std" in estimates else None
    extra = {"accuracy": {"std": std}} if std is not None else None
    _estimated(out, bounds, estimates, realized, n_est, extra)


def _multiclass(
    out: _Records, task: ModelTask, windows: Windows, row: dict[str, Any], estimated: bool
) -> None:
    bounds = _bounds(windows, row)
    n, n_labeled = int(row["n"]), int(row["n_labeled"])
    cells = [(int(t), int(p), int(c)) for t, p, c in row["cells"]]
    matrix = confusion_matrix(cells, len(task.classes))
    n_eval = int(matrix.sum())
    realized = {}
    for metric, result in multiclass_metrics(matrix).items():
        details = (
            {"confusion_matrix": {"labels": list(task.classes), "matrix": matrix.tolist()}}
            if metric == "accuracy"
            else {}
        )
        realized[metric] = out.add(bounds, metric, result, n_eval, details=details)
    _coverage(out, bounds, n, n_labeled)
    _delays(out, bounds, row["delays"], n_labeled)
    n_est = int(row["n_est"])
    if estimated and n_est:
        expected = Metric(float(row["s_est"]) / n_est)
        _estimated(out, bounds, {"accuracy": expected}, realized, n_est)


def _regression(out: _Records, windows: Windows, row: dict[str, Any]) -> None:
    bounds = _bounds(windows, row)
    n, n_labeled, n_eval = int(row["n"]), int(row["n_labeled"]), int(row["n_eval"])
    metrics = regression_metrics(
        n_eval,
        float(row["abs_error"]),
        float(row["sq_error"]),
        float(row["ss_tot"]) if n_eval else 0.0,
        float(row["ape"]),
    )
    for metric, result in metrics.items():
        out.add(bounds, metric, result, n_eval)
    _coverage(out, bounds, n, n_labeled)
    _delays(out, bounds, row["delays"], n_labeled)


def _should_filter_labels(
    store: Store, model: str, version: str, windows: Windows
) -> tuple[bool, int]:
    params = Params()
    where = prediction_filter(model, version, windows, params)
    params_l = {"model": model}
    in_range = int(
        store.query_rows(f"SELECT count() FROM ml_predictions WHERE {where}", params.values)[0][0]
    )
    labels = int(
        store.query_rows("SELECT count() FROM ml_labels WHERE model = {model:String}", params_l)[0][
            0
        ]
    )
    return in_range * 2 < labels, in_range


def compute_performance(
    store: Store,
    model: str,
    version: str,
    windows: Windows,
    config: PerformanceConfig,
) -> list[dict[str, Any]]:
    """Performance records of ``model``/``version`` for every window holding predictions."""
    filter_labels, in_range = _should_filter_labels(store, model, version, windows)
    if in_range == 0:
        return []
    if isinstance(windows, SlidingWindows) and in_range < windows.size:
        return []
    task = describe_model(store, model, version, windows, config)
    segment = windows.segment if isinstance(windows, SlidingWindows) else ""
    out = _Records(model, version, config, segment)
    params = Params()
    if task.task == "regression":
        payload = regression_payload()
    else:
        payload = classification_payload(task.classes, params)
    joined = joined_sql(model, version, windows, payload, params, filter_labels=filter_labels)
    rows = window_rows(windows, in_range, joined, params)
    estimated = config.estimated
    if task.task == "regression":
        sql = regression_sql(rows, params)
    elif task.binary:
        sql = binary_sql(rows, task.positive_index, params, estimated=estimated)
    else:
        sql = multiclass_sql(rows)
    frame = store.query_df(sql, parameters=params.values)
    for row in frame.to_dict("records"):
        if task.task == "regression":
            _regression(out, windows, row)
        elif task.binary:
            _binary(out, task, windows, row, estimated)
        else:
            _multiclass(out, task, windows, row, estimated)
    if isinstance(windows, TimeWindows):
        _unknown_ids(store, out, windows)
    return out.records


def _unknown_ids(store: Store, out: _Records, windows: TimeWindows) -> None:
    """``labels_unknown_ids`` per window: labels received in it whose id has no prediction."""
    params = Params()
    model_p = params.add(out.model, "String")
    start = params.add(windows.start_ns, "Int64")
    end = params.add(windows.end_ns, "Int64")
    key = time_key(windows, params, "received_at")
    received = (
        f"model = {model_p} AND received_at >= fromUnixTimestamp64Nano({start}) "
        f"AND received_at < fromUnixTimestamp64Nano({end})"
    )
    rows = dict(
        store.query_rows(
            f"SELECT {key} AS w, countIf(id_key NOT IN (SELECT id_key FROM ml_predictions "
            f"WHERE model = {model_p} AND id_key IN "
            f"(SELECT id_key FROM ml_labels WHERE {received}))) "
            f"FROM ml_labels WHERE {received} GROUP BY w",
            parameters=params.values,
        )
    )
    for key_value in windows.keys:
        count = int(rows.get(key_value, 0))
        start_ns, end_ns = windows.bounds(key_value)
        out.add(
            (to_time(start_ns), to_time(end_ns)),
            "labels_unknown_ids",
            Metric(float(count)),
            count,
            status="warning" if count else "ok",
            details={"meaning": "labels received in the window whose id matches no prediction"},
        )


def late_label_windows(
    store: Store, model: str, version: str, size_s: float, since: datetime
) -> list[tuple[int, int]]:
    """Aligned windows of ``size_s`` (unix-epoch multiples) holding predictions whose labels
    were received after ``since``, as (start_ns, end_ns), oldest first."""
    size_ns = round(size_s * 1e9)
    rows = store.query_rows(
        "SELECT DISTINCT intDiv(toUnixTimestamp64Nano(timestamp), {size:Int64}) AS k "
        "FROM ml_predictions WHERE model = {model:String} AND version = {version:String} "
        "AND id_key IN (SELECT id_key FROM ml_labels WHERE model = {model:String} "
        "AND received_at > fromUnixTimestamp64Nano({since:Int64})) ORDER BY k",
        parameters={
            "size": size_ns,
            "model": model,
            "version": version,
            "since": int(since.timestamp() * 1e9),
        },
    )
    return [(int(k) * size_ns, (int(k) + 1) * size_ns) for (k,) in rows]


def last_computed(store: Store, model: str, version: str) -> datetime | None:
    """When realized performance of the version was last written to ``ml_results``."""
    count, latest = store.query_rows(
        "SELECT count(), toUnixTimestamp64Milli(max(computed_at)) FROM ml_results "
        "WHERE model = {model:String} AND version = {version:String} "
        "AND kind = 'performance' AND source = 'realized'",
        parameters={"model": model, "version": version},
    )[0]
    if not count:
        return None
    return datetime.fromtimestamp(int(latest) / 1000, UTC)


def to_time_windows(bounds: Sequence[tuple[int, int]]) -> list[TimeWindows]:
    """Group (start_ns, end_ns) windows of one size into :class:`TimeWindows`."""
    if not bounds:
        return []
    size = bounds[0][1] - bounds[0][0]
    keys = tuple(sorted({start // size for start, _ in bounds}))
    return [TimeWindows(0, size, keys)]


__all__ = [
    "ModelTask",
    "choose_positive",
    "compute_performance",
    "describe_model",
    "last_computed",
    "late_label_windows",
    "to_time_windows",
]
