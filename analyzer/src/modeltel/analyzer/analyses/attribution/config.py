"""The ``attribution`` section of the YAML configuration, validated (``models.<model>``
overrides any key).

::

    attribution:
      baseline: 7d                  # reference period: this long before each window …
      reference_window: {start: 2026-01-01T00:00:00Z, end: 2026-01-08T00:00:00Z}  # … or fixed
      top_k: 5
      thresholds: {rank_correlation: 0.5, top_k_overlap: 0.5}   # drift below
      min_predictions: 30

Errors raise :class:`ConfigError` naming the key path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from modeltel.analyzer.base.config import Section, check_keys, expect, thresholds
from modeltel.analyzer.base.durations import parse_duration
from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.windows import Window

DEFAULT_THRESHOLDS = {"rank_correlation": 0.5, "top_k_overlap": 0.5}
_KEYS = {"baseline", "reference_window", "top_k", "thresholds", "min_predictions", "models"}


@dataclass(frozen=True)
class AttributionConfig(Section):
    """Validated ``attribution`` settings."""

    NAME = "attribution"

    baseline_s: float = 7 * 86400.0
    reference_window: Window | None = None
    top_k: int = 5
    thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    min_predictions: int = 30

    def parse(self, raw: Mapping[str, Any], path: str) -> AttributionConfig:
        return _parse(raw, path, self)


def _time(value: Any, path: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ConfigError(f"config key {path} must be an ISO time, got {value!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _parse(raw: Mapping[str, Any], path: str, base: AttributionConfig) -> AttributionConfig:
    check_keys(raw, _KEYS, path)
    out = base
    if raw.get("baseline") is not None:
        seconds = parse_duration(str(raw["baseline"]), name=f"config key {path}.baseline")
        if seconds <= 0:
            raise ConfigError(f"config key {path}.baseline must be positive")
        out = replace(out, baseline_s=seconds)
    if raw.get("reference_window") is not None:
        window = expect(raw["reference_window"], dict, f"{path}.reference_window", "{start, end}")
        if set(window) != {"start", "end"}:
            raise ConfigError(f"config key {path}.reference_window needs start and end")
        start = _time(window["start"], f"{path}.reference_window.start")
        end = _time(window["end"], f"{path}.reference_window.end")
        if end <= start:
            raise ConfigError(f"config key {path}.reference_window: end is not after start")
        out = replace(out, reference_window=Window(start, end))
    if raw.get("top_k") is not None:
        k = expect(raw["top_k"], int, f"{path}.top_k", "a positive count")
        if k <= 0:
            raise ConfigError(f"config key {path}.top_k must be positive")
        out = replace(out, top_k=int(k))
    if raw.get("min_predictions") is not None:
        n = expect(raw["min_predictions"], int, f"{path}.min_predictions", "a count")
        if n < 1:
            raise ConfigError(f"config key {path}.min_predictions must be at least 1")
        out = replace(out, min_predictions=int(n))
    if raw.get("thresholds") is not None:
        given = thresholds(
            raw["thresholds"], f"{path}.thresholds", DEFAULT_THRESHOLDS, out.thresholds
        )
        out = replace(out, thresholds=given)
    return out


def load_attribution_config(config: Mapping[str, Any] | None) -> AttributionConfig:
    """The ``attribution`` section of ``config``; ConfigError naming the key when invalid."""
    return AttributionConfig.load(config)
