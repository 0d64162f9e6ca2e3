"""The ``custom_metrics`` section of the YAML configuration, validated.

::

    custom_metrics:
      approval_rate:                          # the metric's name: letters, digits, _ and .
        sql: "avg(prediction_label = 'approve')"
        higher_is_better: true
        thresholds: {min: 0.3}                # alert below min / above max (or min:, max:)
      high_risk_share: {sql: "avg(prediction_score > 0.9)", max: 0.05}
      error_cost:
        sql: "sum(if(label != prediction_label, feature('amount'), 0))"
        needs_labels: true                    # evaluated over the predictions with a label
        description: revenue lost to wrong decisions
      segment_by: region                      # optional: also per value of this feature
      max_segments: 20                        # its most frequent values, the rest as "other"
      models:
        churn: {mean_amount: {sql: "avg(feature('amount'))"}, high_risk_share: null}

``models.<model>`` adds metrics for one model, replaces one of the same name, or removes one
(``null``); it may set its own ``segment_by`` (``null``: none). ``segment_by`` and
``max_segments`` are the section's own keys, not metric names. What an expression may be
is checked against the store when an Analyzer starts
(:func:`modeltel.analyzer.analyses.custom.expressions.validate`). Errors raise
:class:`ConfigError` naming the key path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from modeltel.analyzer.base.config import Section, check_keys, expect
from modeltel.analyzer.base.errors import ConfigError

DEFAULT_MAX_SEGMENTS = 20
MAX_SEGMENTS_LIMIT = 200
"""The bound of ``max_segments``: each segment is a label value of the gauges."""
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,99}$")
_METRIC_KEYS = {
    "sql",
    "higher_is_better",
    "thresholds",
    "min",
    "max",
    "needs_labels",
    "description",
}


@dataclass(frozen=True)
class CustomMetric:
    """One configured metric: its aggregate expression and how its value is judged."""

    name: str
    sql: str
    higher_is_better: bool | None = None
    min: float | None = None
    max: float | None = None
    needs_labels: bool = False
    description: str = ""

    @property
    def threshold(self) -> float | None:
        """The bound a value is compared with (``min`` when both are given)."""
        return self.min if self.min is not None else self.max


@dataclass(frozen=True)
class CustomMetricsConfig(Section):
    """Validated ``custom_metrics`` settings: the metrics by name."""

    NAME = "custom_metrics"

    metrics: dict[str, CustomMetric] = field(default_factory=dict)
    segment_by: str | None = None
    """A feature (categorical, or numeric taken by its value) to evaluate every metric per
    value of as well (records' ``segment`` = ``feature=value``)."""
    max_segments: int = DEFAULT_MAX_SEGMENTS
    """The most frequent values of ``segment_by`` in a window kept as segments; the others
    are one segment, ``other``."""

    def parse(self, raw: Mapping[str, Any], path: str) -> CustomMetricsConfig:
        metrics = dict(self.metrics)
        changes: dict[str, Any] = {}
        if "segment_by" in raw:
            by = raw["segment_by"]
            if by is not None:
                expect(by, str, f"{path}.segment_by", "a feature name")
            changes["segment_by"] = by or None
        if "max_segments" in raw:
            most = expect(raw["max_segments"], int, f"{path}.max_segments", "a whole number")
            if not 1 <= most <= MAX_SEGMENTS_LIMIT:
                raise ConfigError(
                    f"config key {path}.max_segments must be between 1 and "
                    f"{MAX_SEGMENTS_LIMIT}, got {most!r}"
                )
            changes["max_segments"] = most
        for name, spec in raw.items():
            if name in ("segment_by", "max_segments"):
                continue
            key = f"{path}.{name}"
            if not isinstance(name, str) or not NAME_PATTERN.match(name):
                raise ConfigError(
                    f"config key {key} is not a metric name: use letters, digits, _ and . "
                    "(starting with a letter or _)"
                )
            if spec is None:
                metrics.pop(name, None)
                continue
            metrics[name] = _metric(name, spec, key)
        return replace(self, metrics=metrics, **changes)


def _bound(value: Any, path: str) -> float | None:
    if value is None:
        return None
    number = float(expect(value, (int, float), path, "a number"))
    if math.isnan(number):
        raise ConfigError(f"config key {path} must be a number, got {value!r}")
    return number


def _metric(name: str, spec: Any, path: str) -> CustomMetric:
    expect(spec, dict, path, "a mapping with sql: and optional thresholds")
    check_keys(spec, _METRIC_KEYS, path)
    sql = spec.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        raise ConfigError(f"config key {path}.sql must be a SQL aggregate expression, got {sql!r}")
    bounds = {"min": spec.get("min"), "max": spec.get("max")}
    if spec.get("thresholds") is not None:
        given = expect(spec["thresholds"], dict, f"{path}.thresholds", "a mapping of min/max")
        check_keys(given, {"min", "max"}, f"{path}.thresholds")
        for side in ("min", "max"):
            if side in given:
                if bounds[side] is not None:
                    raise ConfigError(
                        f"config key {path}.thresholds.{side} repeats {path}.{side}: give one"
                    )
                bounds[side] = given[side]
    low = _bound(bounds["min"], f"{path}.min")
    high = _bound(bounds["max"], f"{path}.max")
    if low is not None and high is not None and low > high:
        raise ConfigError(f"config key {path}: min {low} is above max {high}")
    better = spec.get("higher_is_better")
    if better is not None:
        expect(better, bool, f"{path}.higher_is_better", "true or false")
    needs = spec.get("needs_labels", False)
    expect(needs, bool, f"{path}.needs_labels", "true or false")
    description = spec.get("description") or ""
    expect(description, str, f"{path}.description", "a text")
    return CustomMetric(
        name=name,
        sql=sql.strip(),
        higher_is_better=better,
        min=low,
        max=high,
        needs_labels=needs,
        description=description,
    )
