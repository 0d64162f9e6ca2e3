"""The ``drift`` section of the YAML configuration, validated.

::

    drift:
      reference: default          # name of the stored reference to compare with
      methods: [auto]             # per feature: auto (size-aware default), a list, or all
      thresholds: {psi: 0.25}     # per-method defaults (p-value methods: significance level)
      warnings: {psi: 0.1}        # per-method warning level (distances only)
      bins: 10                    # reference-quantile bins of numeric binned methods
      share: 0.5                  # dataset drift when this share of features drifted
      correction: benjamini_hochberg   # or bonferroni / none, across features
      small_reference: 1000       # reference rows up to which p-value tests are the default
      few_values: 5               # numeric features with this many distinct values or fewer
                                  #   are compared like categories by the default
      exact_limit: 10000          # count numeric features exactly up to this many distinct
                                  #   values; above, a fine grid with documented error bounds
      segment_by: null            # a categorical feature: one result set per value
      features:
        age: {method: psi, threshold: 0.2}
        plan: {type: categorical}
        customer_id: {ignore: true}
      prediction: {method: psi}   # override for prediction.score/value/label
      models:
        churn: {bins: 20}         # any key above, for one model

Errors raise :class:`ConfigError` naming the key path (``drift.features.age.threshold``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from modeltel.analyzer.analyses.drift.histogram import EXACT_LIMIT
from modeltel.analyzer.analyses.drift.methods import METHODS
from modeltel.analyzer.base.config import Section, expect
from modeltel.analyzer.base.errors import ConfigError

CORRECTIONS = ("none", "bonferroni", "benjamini_hochberg")
TYPES = ("categorical", "numerical")


@dataclass(frozen=True)
class FeatureRule:
    """Per-feature settings; ``None`` means "use the section default"."""

    methods: tuple[str, ...] | None = None
    threshold: float | None = None
    type: str | None = None
    ignore: bool = False


@dataclass(frozen=True)
class DriftConfig(Section):
    """Validated drift settings (defaults follow Evidently's data-drift preset)."""

    NAME = "drift"

    reference: str = "default"
    methods: tuple[str, ...] = ("auto",)
    thresholds: dict[str, float] = field(default_factory=dict)
    warnings: dict[str, float] = field(default_factory=dict)
    bins: int = 10
    share: float = 0.5
    correction: str = "benjamini_hochberg"
    small_reference: int = 1000
    few_values: int = 5
    exact_limit: int = EXACT_LIMIT
    segment_by: str | None = None
    features: dict[str, FeatureRule] = field(default_factory=dict)
    prediction: FeatureRule = field(default_factory=FeatureRule)

    def threshold(self, method: str, feature: str | None = None) -> float:
        rule = self.rule(feature) if feature is not None else None
        if rule is not None and rule.threshold is not None:
            return rule.threshold
        return self.thresholds.get(method, METHODS[method].threshold)

    def warning(self, method: str) -> float | None:
        return self.warnings.get(method, METHODS[method].warning)

    def rule(self, feature: str) -> FeatureRule:
        if feature.startswith("prediction."):
            return self.features.get(feature, self.prediction)
        return self.features.get(feature, FeatureRule())

    def parse(self, raw: Mapping[str, Any], path: str) -> DriftConfig:
        """These settings with ``raw`` applied; feature rules add to the existing ones."""
        return _parse(self, raw, path)


def load_drift_config(config: Mapping[str, Any] | None) -> DriftConfig:
    """Parse the ``drift`` section of a loaded configuration (``{}`` → defaults)."""
    return DriftConfig.load(config)


def _number(value: Any, path: str, *, low: float, high: float = math.inf) -> float:
    expect(value, (int, float), path, "a number")
    number = float(value)
    if not (low <= number <= high):
        raise ConfigError(f"config key {path} must be between {low} and {high}, got {value!r}")
    return number


def _integer(value: Any, path: str, *, low: int) -> int:
    expect(value, int, path, "a whole number")
    if value < low:
        raise ConfigError(f"config key {path} must be at least {low}, got {value!r}")
    return int(value)


def parse_methods(value: Any, path: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ConfigError(f"config key {path} must be a method name or a non-empty list of them")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, str) or (item not in METHODS and item not in ("auto", "all")):
            known = ", ".join(["auto", "all", *METHODS])
            raise ConfigError(f"config key {path}[{i}] is {item!r}; known methods: {known}")
        out.append(item)
    return tuple(out)


def _method_map(value: Any, path: str, *, warnings: bool = False) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ConfigError(f"config key {path} must be a mapping of method → number")
    out = {}
    for name, number in value.items():
        if name not in METHODS:
            raise ConfigError(
                f"config key {path}.{name} names no method; known: {', '.join(METHODS)}"
            )
        if warnings and METHODS[name].pvalue:
            raise ConfigError(f"config key {path}.{name}: p-value methods have no warning level")
        high = 1.0 if METHODS[name].pvalue else math.inf
        out[name] = _number(number, f"{path}.{name}", low=0.0, high=high)
    return out


def _rule(value: Any, path: str) -> FeatureRule:
    if not isinstance(value, dict):
        raise ConfigError(f"config key {path} must be a mapping (method, threshold, type, ignore)")
    known = {"method", "methods", "threshold", "type", "ignore"}
    for key in value:
        if key not in known:
            raise ConfigError(f"config key {path}.{key} is unknown; use {', '.join(sorted(known))}")
    methods = None
    for key in ("method", "methods"):
        if key in value:
            methods = parse_methods(value[key], f"{path}.{key}")
    threshold = None
    if "threshold" in value:
        threshold = _number(value["threshold"], f"{path}.threshold", low=0.0)
    type_ = value.get("type")
    if type_ is not None and type_ not in TYPES:
        raise ConfigError(f"config key {path}.type must be categorical or numerical, got {type_!r}")
    ignore = value.get("ignore", False)
    expect(ignore, bool, f"{path}.ignore", "true or false")
    return FeatureRule(methods=methods, threshold=threshold, type=type_, ignore=ignore)


def _parse(base: DriftConfig, raw: Mapping[str, Any], path: str) -> DriftConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"config key {path} must be a mapping")
    known = set(DriftConfig.__dataclass_fields__)
    for key in raw:
        if key not in known:
            raise ConfigError(
                f"config key {path}.{key} is unknown; known keys: {', '.join(sorted(known))}"
            )
    kwargs: dict[str, Any] = {}
    if "reference" in raw:
        kwargs["reference"] = expect(raw["reference"], str, f"{path}.reference", "a name")
    if "methods" in raw:
        kwargs["methods"] = parse_methods(raw["methods"], f"{path}.methods")
    if "thresholds" in raw:
        kwargs["thresholds"] = _method_map(raw["thresholds"], f"{path}.thresholds")
    if "warnings" in raw:
        kwargs["warnings"] = _method_map(raw["warnings"], f"{path}.warnings", warnings=True)
    if "bins" in raw:
        kwargs["bins"] = _integer(raw["bins"], f"{path}.bins", low=2)
    if "share" in raw:
        kwargs["share"] = _number(raw["share"], f"{path}.share", low=0.0, high=1.0)
    if "correction" in raw:
        correction = raw["correction"]
        if correction not in CORRECTIONS:
            raise ConfigError(
                f"config key {path}.correction must be one of {', '.join(CORRECTIONS)}, "
                f"got {correction!r}"
            )
        kwargs["correction"] = correction
    if "small_reference" in raw:
        kwargs["small_reference"] = _integer(
            raw["small_reference"], f"{path}.small_reference", low=0
        )
    if "exact_limit" in raw:
        kwargs["exact_limit"] = _integer(raw["exact_limit"], f"{path}.exact_limit", low=0)
    if "few_values" in raw:
        kwargs["few_values"] = _integer(raw["few_values"], f"{path}.few_values", low=1)
    if raw.get("segment_by") is not None:
        kwargs["segment_by"] = expect(raw["segment_by"], str, f"{path}.segment_by", "a feature")
    if "features" in raw:
        features = raw["features"] or {}
        if not isinstance(features, dict):
            raise ConfigError(f"config key {path}.features must be a mapping of feature → rule")
        kwargs["features"] = {
            **base.features,
            **{
                str(name): _rule(rule or {}, f"{path}.features.{name}")
                for name, rule in features.items()
            },
        }
    if "prediction" in raw:
        kwargs["prediction"] = _rule(raw["prediction"] or {}, f"{path}.prediction")
    return replace(base, **kwargs)
