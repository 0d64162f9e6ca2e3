"""The ``performance`` section of the YAML configuration, validated.

::

    performance:
      task: null                # classification | regression; default: what the spans say
      positive_class: null      # binary: the class whose probability prediction_score is;
                                #   default "1"/"true" when present, else the larger of the
                                #   two classes (numerically when both are numbers), which is
                                #   scikit-learn's classes_[1], i.e. predict_proba[:, 1]
      window_size: null         # sliding windows of N predictions (with sliding_step)
      sliding_step: null        #   step S, default N (adjacent windows)
      thresholds:               # alert when a metric is worse than this (no default)
        accuracy: 0.8           #   higher is better: accuracy precision recall f1 roc_auc r2 …
        rmse: 12.5              #   lower is better: log_loss mae mse rmse mape
      estimated: true           # CBPE estimates for binary classifiers with scores
      min_label_coverage: null  # warning below this share of labelled predictions
      max_label_delay: null     # warning when the p95 label delay exceeds it (e.g. 2d)
      segment_by: []            # also per segment of these dimensions: a categorical feature,
                                #   service.name, or a numeric feature (reference deciles)
      max_segments: 20          # a dimension's most frequent values kept; the rest "other"
      min_segment_size: 100     # fewer predictions in a window: no_data records saying so
      models:
        churn: {positive_class: "yes"}   # any key above, for one model

Errors raise :class:`ConfigError` naming the key path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from modeltel.analyzer.analyses.performance.catalogue import SCORES
from modeltel.analyzer.base.config import Section, check_keys, expect, thresholds
from modeltel.analyzer.base.durations import parse_duration
from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.results import Status
from modeltel.analyzer.base.segments import with_segment_keys

_SCORES = {m.name: m for m in SCORES}
"""The metrics a threshold can be set for."""
TASKS = ("classification", "regression")
_KEYS = {
    "task",
    "positive_class",
    "window_size",
    "sliding_step",
    "thresholds",
    "estimated",
    "min_label_coverage",
    "max_label_delay",
    "segment_by",
    "max_segments",
    "min_segment_size",
    "models",
}


@dataclass(frozen=True)
class PerformanceConfig(Section):
    """Validated performance settings of one model."""

    NAME = "performance"

    task: str | None = None
    positive_class: str | None = None
    window_size: int | None = None
    sliding_step: int | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    estimated: bool = True
    min_label_coverage: float | None = None
    max_label_delay_s: float | None = None
    segment_by: tuple[str, ...] = ()
    """The segment dimensions (see :mod:`modeltel.analyzer.base.segments`)."""
    max_segments: int = 20
    """A dimension's most frequent values over the analysed range kept as segments; the
    others are one segment, ``other``."""
    min_segment_size: int = 100
    """A segment with fewer predictions in a window gets ``no_data`` records."""

    def parse(self, raw: Mapping[str, Any], path: str) -> PerformanceConfig:
        return _parse(raw, path, self)

    def status(self, metric: str, value: float | None) -> tuple[Status, float | None]:
        """(status, threshold) of a metric value: ``alert`` when worse than its threshold."""
        threshold = self.thresholds.get(metric)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return Status.NO_DATA, threshold
        if threshold is None:
            return Status.INFO, None
        worse = value < threshold if _SCORES[metric].higher_is_better else value > threshold
        return (Status.ALERT if worse else Status.OK), threshold


def _number(value: Any, path: str, *, low: float | None = None, high: float | None = None) -> float:
    number = float(expect(value, (int, float), path, "a number"))
    if (
        math.isnan(number)
        or (low is not None and number < low)
        or (high is not None and number > high)
    ):
        bounds = f" between {low} and {high}" if low is not None and high is not None else ""
        raise ConfigError(f"config key {path} must be a number{bounds}, got {value!r}")
    return number


def _count(value: Any, path: str) -> int:
    number = expect(value, int, path, "a whole number")
    if number <= 0:
        raise ConfigError(f"config key {path} must be positive, got {value!r}")
    return int(number)


def _parse(cfg: Mapping[str, Any], path: str, base: PerformanceConfig) -> PerformanceConfig:
    check_keys(cfg, _KEYS, path)
    out = base
    if cfg.get("task") is not None:
        task = str(cfg["task"])
        if task not in TASKS:
            raise ConfigError(f"config key {path}.task must be classification or regression")
        out = replace(out, task=task)
    if cfg.get("positive_class") is not None:
        positive = cfg["positive_class"]
        if isinstance(positive, bool):
            positive = "true" if positive else "false"
        out = replace(out, positive_class=str(positive))
    if cfg.get("window_size") is not None:
        out = replace(out, window_size=_count(cfg["window_size"], f"{path}.window_size"))
    if cfg.get("sliding_step") is not None:
        out = replace(out, sliding_step=_count(cfg["sliding_step"], f"{path}.sliding_step"))
    if cfg.get("thresholds") is not None:
        given = thresholds(cfg["thresholds"], f"{path}.thresholds", sorted(_SCORES), out.thresholds)
        out = replace(out, thresholds=given)
    if cfg.get("estimated") is not None:
        out = replace(
            out,
            estimated=bool(expect(cfg["estimated"], bool, f"{path}.estimated", "true or false")),
        )
    if cfg.get("min_label_coverage") is not None:
        out = replace(
            out,
            min_label_coverage=_number(
                cfg["min_label_coverage"], f"{path}.min_label_coverage", low=0, high=1
            ),
        )
    if cfg.get("max_label_delay") is not None:
        out = replace(
            out,
            max_label_delay_s=parse_duration(
                str(cfg["max_label_delay"]), name=f"config key {path}.max_label_delay"
            ),
        )
    out = with_segment_keys(cfg, path, out)
    return out


def load_performance_config(config: Mapping[str, Any] | None) -> PerformanceConfig:
    """The ``performance`` section of ``config`` (defaults when absent)."""
    return PerformanceConfig.load(config)
