"""The ``multivariate`` configuration section (every key optional; ``models.<model>`` overrides
any key for one model)::

    multivariate:
      reference: default          # the stored reference the PCA is fitted on
      features: [age, income]     # numerical reference features used (default: all of them)
      variance: 0.65              # keep the components explaining this share of variance …
      components: null            # … or exactly this many
      sample: 20000               # about this many reference rows the PCA is fitted on (the
                                  #   same rows every time: a cut on a hash of the row id)
      chunks: 10                  # reference chunks whose spread sets the drift threshold
      sigmas: 3                   # threshold: reference mean ± sigmas × σ of the chunk means …
      min_change: 0.1             # … never closer than 10 % of the reference mean
      outlier_quantile: 0.99      # a prediction is an outlier above this quantile of the
                                  #   reference's per-row errors
      thresholds: {outlier_ratio: 0.05}   # alert above
      min_predictions: 20         # fewer scored predictions in a window: no decision
      worst: 10                   # worst prediction ids kept in the outlier_ratio details
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from modeltel.analyzer.base.config import Section, check_keys, expect
from modeltel.analyzer.base.errors import ConfigError

_KEYS = {
    "reference",
    "features",
    "variance",
    "components",
    "sample",
    "chunks",
    "sigmas",
    "min_change",
    "outlier_quantile",
    "thresholds",
    "min_predictions",
    "worst",
    "models",
}


@dataclass(frozen=True)
class MultivariateConfig(Section):
    """Validated ``multivariate`` settings."""

    NAME = "multivariate"

    reference: str = "default"
    features: tuple[str, ...] | None = None
    variance: float = 0.65
    components: int | None = None
    sample: int = 20_000
    chunks: int = 10
    sigmas: float = 3.0
    min_change: float = 0.1
    outlier_quantile: float = 0.99
    outlier_ratio: float = 0.05
    min_predictions: int = 20
    worst: int = 10

    def parse(self, raw: Mapping[str, Any], path: str) -> MultivariateConfig:
        return _parse(raw, path, self)

    def fit_key(self) -> tuple[Any, ...]:
        """The settings a fitted reference model depends on (for caching)."""
        return (
            self.reference,
            self.features,
            self.variance,
            self.components,
            self.sample,
            self.chunks,
            self.outlier_quantile,
        )


def _number(value: Any, path: str, low: float, high: float, *, open_low: bool = False) -> float:
    number = float(expect(value, (int, float), path, "a number"))
    if math.isnan(number) or number > high or number < low or (open_low and number == low):
        bound = "(" if open_low else "["
        raise ConfigError(f"config key {path} must be in {bound}{low}, {high}], got {value!r}")
    return number


def _count(value: Any, path: str, low: int) -> int:
    number = expect(value, int, path, "a whole number")
    if number < low:
        raise ConfigError(f"config key {path} must be at least {low}, got {value!r}")
    return int(number)


def _parse(raw: Mapping[str, Any], path: str, base: MultivariateConfig) -> MultivariateConfig:
    check_keys(raw, _KEYS, path)
    out = base
    changes: dict[str, Any] = {}
    if raw.get("reference") is not None:
        changes["reference"] = str(raw["reference"])
    if raw.get("features") is not None:
        names = expect(raw["features"], list, f"{path}.features", "a list of feature names")
        if len(names) < 2:
            raise ConfigError(f"config key {path}.features needs at least two features")
        changes["features"] = tuple(str(n) for n in names)
    if raw.get("variance") is not None:
        changes["variance"] = _number(raw["variance"], f"{path}.variance", 0, 1, open_low=True)
    if raw.get("components") is not None:
        changes["components"] = _count(raw["components"], f"{path}.components", 1)
    if raw.get("sample") is not None:
        changes["sample"] = _count(raw["sample"], f"{path}.sample", 10)
    if raw.get("chunks") is not None:
        changes["chunks"] = _count(raw["chunks"], f"{path}.chunks", 2)
    if raw.get("sigmas") is not None:
        changes["sigmas"] = _number(raw["sigmas"], f"{path}.sigmas", 0, 100, open_low=True)
    if raw.get("min_change") is not None:
        changes["min_change"] = _number(raw["min_change"], f"{path}.min_change", 0, 10)
    if raw.get("outlier_quantile") is not None:
        changes["outlier_quantile"] = _number(
            raw["outlier_quantile"], f"{path}.outlier_quantile", 0, 1, open_low=True
        )
    if raw.get("min_predictions") is not None:
        changes["min_predictions"] = _count(raw["min_predictions"], f"{path}.min_predictions", 1)
    if raw.get("worst") is not None:
        changes["worst"] = _count(raw["worst"], f"{path}.worst", 0)
    if raw.get("thresholds") is not None:
        given = expect(raw["thresholds"], dict, f"{path}.thresholds", "a mapping")
        extra = sorted(set(given) - {"outlier_ratio"})
        if extra:
            raise ConfigError(
                f"config key {path}.thresholds.{extra[0]} is not known; expected outlier_ratio"
            )
        if given.get("outlier_ratio") is not None:
            changes["outlier_ratio"] = _number(
                given["outlier_ratio"], f"{path}.thresholds.outlier_ratio", 0, 1
            )
    return replace(out, **changes)


def load_multivariate_config(config: Mapping[str, Any] | None) -> MultivariateConfig:
    """The ``multivariate`` section of ``config``; ConfigError naming the key when invalid."""
    return MultivariateConfig.load(config)
