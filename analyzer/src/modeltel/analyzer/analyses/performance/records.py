"""Tidy ``performance`` records from the per-window rows of :mod:`.queries`.

One function per task turns a window's counts into records (realized metrics, label coverage
and delay, CBPE estimates with their error once labels exist); :class:`Records` fills in the
model, version, window, status and threshold of each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modeltel.analyzer.analyses.performance.config import PerformanceConfig
from modeltel.analyzer.analyses.performance.metrics import (
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
from modeltel.analyzer.analyses.performance.queries import DELAY_QUANTILES, NO_CLASS
from modeltel.analyzer.base.query import TimeWindows, Windows, to_time
from modeltel.analyzer.base.results import Result, Status, weighted_count

KIND = "performance"


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


def _quantile_records(delays: Sequence[float], n_labeled: int) -> dict[str, Metric]:
    out = {}
    for q, value in zip(DELAY_QUANTILES, delays, strict=False):
        name = f"label_delay_p{round(q * 100)}"
        if n_labeled == 0 or value is None or (isinstance(value, float) and math.isnan(value)):
            out[name] = Metric(None, "no labelled predictions in the window")
        else:
            out[name] = Metric(float(value))
    return out


class Records:
    """Collects tidy records for one model version."""

    def __init__(self, model: str, version: str, config: PerformanceConfig, segment: str) -> None:
        self.model, self.version, self.config, self.segment = model, version, config, segment
        self.records: list[Result] = []

    def add(
        self,
        bounds: tuple[datetime, datetime],
        metric: str,
        result: Metric,
        size: int,
        *,
        source: str = "realized",
        status: Status | None = None,
        threshold: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> Result:
        if status is None:
            status, threshold = self.config.status(metric, result.value)
        info = dict(details or {})
        if result.reason:
            info["reason"] = result.reason
        record = Result(
            model=self.model,
            version=self.version,
            window_start=bounds[0],
            window_end=bounds[1],
            kind=KIND,
            segment=self.segment,
            metric=metric,
            value=result.value,
            threshold=threshold,
            status=status,
            source=source,
            current_size=int(size),
            details=info,
        )
        self.records.append(record)
        return record


def window_bounds(windows: Windows, row: dict[str, Any]) -> tuple[datetime, datetime]:
    if isinstance(windows, TimeWindows):
        start, end = windows.bounds(int(row["w"]))
        return to_time(start), to_time(end)
    # a sliding window spans its first to its last prediction (end exclusive: + 1 ms, the
    # resolution of ml_results)
    return to_time(int(row["first_ns"])), to_time(int(row["last_ns"]) + 1_000_000)


def _coverage(out: Records, bounds: tuple[datetime, datetime], n: float, n_labeled: float) -> None:
    """``label_coverage``: labelled predictions / predictions, both weighted by the
    predictions' sampling weights (``docs/sampling.md``)."""
    coverage = Metric(n_labeled / n) if n else Metric(None, "no predictions in the window")
    minimum = out.config.min_label_coverage
    if coverage.value is None:
        status = Status.NO_DATA
    elif minimum is None:
        status = Status.INFO
    else:
        status = Status.WARNING if coverage.value < minimum else Status.OK
    out.add(
        bounds,
        "label_coverage",
        coverage,
        round(n),
        status=status,
        threshold=minimum,
        details={"predictions": weighted_count(n), "labelled": weighted_count(n_labeled)},
    )


def _delays(out: Records, bounds: tuple[datetime, datetime], delays: Any, n_labeled: int) -> None:
    limit = out.config.max_label_delay_s
    for metric, result in _quantile_records(list(delays), n_labeled).items():
        threshold: float | None = None
        if result.value is None:
            status = Status.NO_DATA
        elif metric == "label_delay_p95" and limit is not None:
            status, threshold = (Status.WARNING if result.value > limit else Status.OK), limit
        else:
            status = Status.INFO
        out.add(bounds, metric, result, n_labeled, status=status, threshold=threshold)


def _estimated(
    out: Records,
    bounds: tuple[datetime, datetime],
    estimates: dict[str, Metric],
    realized: dict[str, Result],
    size: int,
    extra: dict[str, dict[str, Any]] | None = None,
) -> None:
    for metric, result in estimates.items():
        if metric.endswith("_std"):
            continue
        details: dict[str, Any] = {"method": "cbpe", **(extra or {}).get(metric, {})}
        truth = realized.get(metric)
        if truth is not None and truth.value is not None and result.value is not None:
            details["realized"] = truth.value
            details["error"] = result.value - truth.value
            details["labelled"] = truth.current_size
        out.add(bounds, metric, result, size, source="estimated", details=details)


def binary_records(
    out: Records, task: ModelTask, windows: Windows, row: dict[str, Any], estimated: bool
) -> None:
    bounds = window_bounds(windows, row)
    n_labeled = int(row["n_labeled"])
    tp, fp, fn, tn = (int(row[c]) for c in ("tp", "fp", "fn", "tn"))
    n_eval, n_scored, n_pos = int(row["n_eval"]), int(row["n_scored"]), int(row["n_pos"])
    realized: dict[str, Result] = {}
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
    _coverage(out, bounds, float(row["n_w"]), float(row["n_labeled_w"]))
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


def multiclass_records(
    out: Records, task: ModelTask, windows: Windows, row: dict[str, Any], estimated: bool
) -> None:
    bounds = window_bounds(windows, row)
    n_labeled = int(row["n_labeled"])
    cells = [(int(t), int(p), int(c)) for t, p, c in row["cells"]]
    matrix = confusion_matrix(cells, len(task.classes))
    n_eval = int(matrix.sum())
    realized: dict[str, Result] = {}
    for metric, result in multiclass_metrics(matrix).items():
        details = (
            {"confusion_matrix": {"labels": list(task.classes), "matrix": matrix.tolist()}}
            if metric == "accuracy"
            else {}
        )
        realized[metric] = out.add(bounds, metric, result, n_eval, details=details)
    _coverage(out, bounds, float(row["n_w"]), float(row["n_labeled_w"]))
    _delays(out, bounds, row["delays"], n_labeled)
    n_est = int(row["n_est"])
    if estimated and n_est:
        expected = Metric(float(row["s_est"]) / n_est)
        _estimated(out, bounds, {"accuracy": expected}, realized, n_est)


def regression_records(out: Records, windows: Windows, row: dict[str, Any]) -> None:
    bounds = window_bounds(windows, row)
    n_labeled, n_eval = int(row["n_labeled"]), int(row["n_eval"])
    metrics = regression_metrics(
        n_eval,
        float(row["abs_error"]),
        float(row["sq_error"]),
        float(row["ss_tot"]) if n_eval else 0.0,
        float(row["ape"]),
    )
    for metric, result in metrics.items():
        out.add(bounds, metric, result, n_eval)
    _coverage(out, bounds, float(row["n_w"]), float(row["n_labeled_w"]))
    _delays(out, bounds, row["delays"], n_labeled)
