"""The ``service`` section of the YAML configuration, validated.

::

    service:
      thresholds: {latency_p99: 0.2, error_ratio: 0.05}   # alert above (error_ratio 0.05 default)
      max_staleness: 30m       # alert when no prediction for this long (no default)
      baseline_windows: 24     # trailing windows forming the volume baseline
      volume_spike: 3.0        # alert when volume_ratio ≥ this …
      volume_drop: 0.33        # … or ≤ this
      max_classes: 50          # prediction_share for the most frequent classes only
      max_error_types: 5       # error_ratio by error_type for the most frequent types only
      segment_by: []           # also per segment of these dimensions: a categorical feature,
                               #   service.name, or a numeric feature (reference deciles)
      max_segments: 20         # a dimension's most frequent values kept; the rest "other"
      min_segment_size: 100    # fewer predictions in a window: no_data records saying so
      models:
        churn: {max_staleness: 2h}   # any key above, for one model

Errors raise :class:`ConfigError` naming the key path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from modeltel.analyzer.base.config import Section, check_keys, expect, thresholds
from modeltel.analyzer.base.durations import parse_duration
from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.segments import with_segment_keys

_THRESHOLD_METRICS = ("latency_p50", "latency_p95", "latency_p99", "error_ratio")
_KEYS = {
    "thresholds",
    "max_staleness",
    "baseline_windows",
    "volume_spike",
    "volume_drop",
    "max_classes",
    "max_error_types",
    "segment_by",
    "max_segments",
    "min_segment_size",
    "models",
}


@dataclass(frozen=True)
class ServiceConfig(Section):
    """Validated ``service`` settings."""

    NAME = "service"

    thresholds: dict[str, float] = field(default_factory=lambda: {"error_ratio": 0.05})
    max_staleness_s: float | None = None
    baseline_windows: int = 24
    volume_spike: float = 3.0
    volume_drop: float = 0.33
    max_classes: int = 50
    max_error_types: int = 5
    segment_by: tuple[str, ...] = ()
    """The segment dimensions (see :mod:`modeltel.analyzer.base.segments`)."""
    max_segments: int = 20
    """A dimension's most frequent values over the analysed range kept as segments; the
    others are one segment, ``other``."""
    min_segment_size: int = 100
    """A segment with fewer recorded predictions in a window gets ``no_data`` records."""

    def parse(self, raw: Mapping[str, Any], path: str) -> ServiceConfig:
        return _parse(raw, path, self)


def load_service_config(config: Mapping[str, Any] | None) -> ServiceConfig:
    """The ``service`` section of ``config``; ConfigError naming the key when invalid."""
    return ServiceConfig.load(config)


def _parse(cfg: Mapping[str, Any], path: str, base: ServiceConfig) -> ServiceConfig:
    check_keys(cfg, _KEYS, path)
    out = base
    if cfg.get("thresholds") is not None:
        given = thresholds(
            cfg["thresholds"], f"{path}.thresholds", _THRESHOLD_METRICS, out.thresholds
        )
        out = replace(out, thresholds=given)
    if cfg.get("max_staleness") is not None:
        out = replace(
            out,
            max_staleness_s=parse_duration(
                str(cfg["max_staleness"]), name=f"config key {path}.max_staleness"
            ),
        )

    def positive(key: str, types: type | tuple[type, ...], what: str) -> Any:
        value = expect(cfg[key], types, f"{path}.{key}", what)
        if value <= 0:
            raise ConfigError(f"config key {path}.{key} must be positive, got {value!r}")
        return value

    if cfg.get("baseline_windows") is not None:
        out = replace(out, baseline_windows=int(positive("baseline_windows", int, "a count")))
    if cfg.get("max_classes") is not None:
        out = replace(out, max_classes=int(positive("max_classes", int, "a count")))
    if cfg.get("max_error_types") is not None:
        out = replace(out, max_error_types=int(positive("max_error_types", int, "a count")))
    if cfg.get("volume_spike") is not None:
        out = replace(out, volume_spike=float(positive("volume_spike", (int, float), "a number")))
    if cfg.get("volume_drop") is not None:
        out = replace(out, volume_drop=float(positive("volume_drop", (int, float), "a number")))
    if out.volume_drop >= out.volume_spike:
        raise ConfigError(f"config key {path}.volume_drop must be below {path}.volume_spike")
    out = with_segment_keys(cfg, path, out)
    return out
