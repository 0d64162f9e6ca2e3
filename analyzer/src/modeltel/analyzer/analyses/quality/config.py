"""The ``quality`` section of the YAML configuration, validated.

::

    quality:
      reference: default            # the stored reference to compare with
      thresholds:                   # alert above (defaults shown); missing_ratio is added to
        missing_ratio: 0.1          #   the reference's own missing ratio of the feature
        wrong_type_ratio: 0.01
        out_of_range_ratio: 0.05
        new_category_ratio: 0.05
        outlier_ratio: 0.05
      outliers: {quantiles: [0.005, 0.995], min_features: 2}
      features:
        age: {min: 0, max: 120}     # declared bounds (used with or without a reference)
      segment_by: []                # also per segment of these dimensions: a categorical
                                    #   feature, service.name, or a numeric feature (deciles)
      max_segments: 20              # a dimension's most frequent values kept; the rest "other"
      min_segment_size: 100         # fewer predictions in a window: no_data records saying so
      models:
        churn: {thresholds: {missing_ratio: 0.3}}   # any key above, for one model

Errors raise :class:`ConfigError` naming the key path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from modeltel.analyzer.base.config import Section, check_keys, expect, thresholds
from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.segments import with_segment_keys

DEFAULT_THRESHOLDS = {
    "missing_ratio": 0.1,
    "wrong_type_ratio": 0.01,
    "out_of_range_ratio": 0.05,
    "new_category_ratio": 0.05,
    "outlier_ratio": 0.05,
}
_KEYS = {
    "reference",
    "thresholds",
    "outliers",
    "features",
    "segment_by",
    "max_segments",
    "min_segment_size",
    "models",
}


@dataclass(frozen=True)
class QualityConfig(Section):
    """Validated ``quality`` settings."""

    NAME = "quality"

    reference: str = "default"
    thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    quantiles: tuple[float, float] = (0.005, 0.995)
    min_features: int = 2
    bounds: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    segment_by: tuple[str, ...] = ()
    """The segment dimensions (see :mod:`modeltel.analyzer.base.segments`)."""
    max_segments: int = 20
    """A dimension's most frequent values over the analysed range kept as segments; the
    others are one segment, ``other``."""
    min_segment_size: int = 100
    """A segment with fewer predictions in a window gets ``no_data`` records."""

    def parse(self, raw: Mapping[str, Any], path: str) -> QualityConfig:
        return _parse(raw, path, self)


def _number(value: Any, path: str) -> float:
    number = float(expect(value, (int, float), path, "a number"))
    if math.isnan(number):
        raise ConfigError(f"config key {path} must be a number, got {value!r}")
    return number


def load_quality_config(config: Mapping[str, Any] | None) -> QualityConfig:
    """The ``quality`` section of ``config``; ConfigError naming the key when invalid."""
    return QualityConfig.load(config)


def _parse(cfg: Mapping[str, Any], path: str, base: QualityConfig) -> QualityConfig:
    check_keys(cfg, _KEYS, path)
    out = base
    if cfg.get("reference") is not None:
        out = replace(out, reference=str(cfg["reference"]))
    if cfg.get("thresholds") is not None:
        given = thresholds(
            cfg["thresholds"], f"{path}.thresholds", DEFAULT_THRESHOLDS, out.thresholds
        )
        out = replace(out, thresholds=given)
    if cfg.get("outliers") is not None:
        raw = expect(cfg["outliers"], dict, f"{path}.outliers", "a mapping")
        if raw.get("quantiles") is not None:
            q = expect(raw["quantiles"], list, f"{path}.outliers.quantiles", "[low, high]")
            if len(q) != 2:
                raise ConfigError(f"config key {path}.outliers.quantiles must be [low, high]")
            lo = _number(q[0], f"{path}.outliers.quantiles[0]")
            hi = _number(q[1], f"{path}.outliers.quantiles[1]")
            if not 0 <= lo < hi <= 1:
                raise ConfigError(
                    f"config key {path}.outliers.quantiles must satisfy 0 <= low < high <= 1"
                )
            out = replace(out, quantiles=(lo, hi))
        if raw.get("min_features") is not None:
            k = expect(raw["min_features"], int, f"{path}.outliers.min_features", "a count")
            if k <= 0:
                raise ConfigError(f"config key {path}.outliers.min_features must be positive")
            out = replace(out, min_features=int(k))
    if cfg.get("features") is not None:
        raw = expect(cfg["features"], dict, f"{path}.features", "a mapping of feature: bounds")
        bounds = dict(out.bounds)
        for name, rule in raw.items():
            rule = expect(rule, dict, f"{path}.features.{name}", "a mapping with min/max")
            extra = sorted(set(rule) - {"min", "max"})
            if extra:
                raise ConfigError(f"config key {path}.features.{name}.{extra[0]} is not known")
            low = _number(rule["min"], f"{path}.features.{name}.min") if "min" in rule else None
            high = _number(rule["max"], f"{path}.features.{name}.max") if "max" in rule else None
            if low is not None and high is not None and low > high:
                raise ConfigError(f"config key {path}.features.{name}: min is above max")
            bounds[str(name)] = (low, high)
        out = replace(out, bounds=bounds)
    out = with_segment_keys(cfg, path, out)
    return out
