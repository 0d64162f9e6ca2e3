"""The ``fairness`` section of the YAML configuration, validated.

::

    fairness:
      protected: [gender, age]          # categorical features, or numeric ones (cut by bins)
      bins: {age: [0, 30, 50, 120]}     # edges: [0, 30), [30, 50), [50, 120]
      favorable: approve                # the favorable predicted label …
      # favorable_score: 0.5            # … or a score cut-off (score >= cut-off is favorable)
      favorable_label: approve          # the true label that is favorable (default: favorable,
                                        #   "1" with favorable_score)
      reference_group: {gender: m}      # optional: also each group against this one
      min_group_size: 30                # smaller groups are left out, with the reason
      max_groups: 20                    # the most frequent groups per attribute
      thresholds:                       # alert above (below for disparate_impact_ratio)
        statistical_parity_difference: 0.1
        disparate_impact_ratio: 0.8     # the four-fifths rule
        equal_opportunity_difference: 0.1
        equalized_odds_difference: 0.1
      models:
        loans: {protected: [gender]}    # any key above, for one model

Without ``protected`` nothing is computed. Errors raise :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from modeltel.analyzer.base.config import Section, check_keys, expect, thresholds
from modeltel.analyzer.base.errors import ConfigError

DEFAULT_THRESHOLDS = {
    "statistical_parity_difference": 0.1,
    "disparate_impact_ratio": 0.8,
    "equal_opportunity_difference": 0.1,
    "equalized_odds_difference": 0.1,
}
LOWER_IS_WORSE = frozenset({"disparate_impact_ratio"})
"""Summary metrics that alert *below* their threshold."""

_KEYS = {
    "protected",
    "bins",
    "favorable",
    "favorable_score",
    "favorable_label",
    "reference_group",
    "min_group_size",
    "max_groups",
    "thresholds",
}


@dataclass(frozen=True)
class FairnessConfig(Section):
    """Validated ``fairness`` settings."""

    NAME = "fairness"

    protected: tuple[str, ...] = ()
    bins: dict[str, tuple[float, ...]] = field(default_factory=dict)
    favorable: str | None = None
    favorable_score: float | None = None
    favorable_label: str | None = None
    reference_group: dict[str, str] = field(default_factory=dict)
    min_group_size: int = 30
    max_groups: int = 20
    thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))

    @property
    def positive_label(self) -> str:
        """The true label counted as favorable."""
        if self.favorable_label is not None:
            return self.favorable_label
        return self.favorable if self.favorable is not None else "1"

    def parse(self, raw: Mapping[str, Any], path: str) -> FairnessConfig:
        check_keys(raw, _KEYS, path)
        out = self
        if "protected" in raw:
            names = expect(raw["protected"], list, f"{path}.protected", "a list of feature names")
            if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
                raise ConfigError(
                    f"config key {path}.protected must list distinct feature names, got {names!r}"
                )
            out = replace(out, protected=tuple(names))
        if "bins" in raw:
            given = expect(raw["bins"], dict, f"{path}.bins", "a mapping of feature: edges")
            out = replace(
                out,
                bins={
                    **out.bins,
                    **{str(k): _edges(v, f"{path}.bins.{k}") for k, v in given.items()},
                },
            )
        if "favorable" in raw and raw["favorable"] is not None:
            out = replace(out, favorable=_text(raw["favorable"], f"{path}.favorable"))
        if "favorable_score" in raw and raw["favorable_score"] is not None:
            cut = float(
                expect(
                    raw["favorable_score"],
                    (int, float),
                    f"{path}.favorable_score",
                    "a number (the score cut-off)",
                )
            )
            if math.isnan(cut):
                raise ConfigError(f"config key {path}.favorable_score must be a number")
            out = replace(out, favorable_score=cut)
        if out.favorable is not None and out.favorable_score is not None:
            raise ConfigError(
                f"config key {path}: give favorable (a predicted label) or favorable_score "
                "(a score cut-off), not both"
            )
        if "favorable_label" in raw and raw["favorable_label"] is not None:
            out = replace(
                out, favorable_label=_text(raw["favorable_label"], f"{path}.favorable_label")
            )
        if "reference_group" in raw:
            given = expect(
                raw["reference_group"],
                dict,
                f"{path}.reference_group",
                "a mapping of attribute: group",
            )
            out = replace(
                out,
                reference_group={
                    str(k): _text(v, f"{path}.reference_group.{k}") for k, v in given.items()
                },
            )
        for key in ("min_group_size", "max_groups"):
            if key in raw:
                number = expect(raw[key], int, f"{path}.{key}", "a positive whole number")
                if number < 1:
                    raise ConfigError(f"config key {path}.{key} must be at least 1, got {number}")
                out = replace(out, **{key: number})
        if raw.get("thresholds") is not None:
            out = replace(
                out,
                thresholds=thresholds(
                    raw["thresholds"], f"{path}.thresholds", DEFAULT_THRESHOLDS, out.thresholds
                ),
            )
        if out.protected and out.favorable is None and out.favorable_score is None:
            raise ConfigError(
                f"config key {path}.favorable is missing: name the favorable predicted label "
                "(favorable: approve) or a score cut-off (favorable_score: 0.5)"
            )
        for name in out.reference_group:
            if out.protected and name not in out.protected:
                raise ConfigError(
                    f"config key {path}.reference_group.{name} names no protected attribute; "
                    f"protected: {', '.join(out.protected)}"
                )
        return out


def _text(value: Any, path: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ConfigError(f"config key {path} must be a label, got {value!r}")


def _edges(value: Any, path: str) -> tuple[float, ...]:
    edges = expect(value, list, path, "a list of at least two increasing numbers")
    numbers = []
    for edge in edges:
        number = float(expect(edge, (int, float), path, "a list of numbers"))
        if math.isnan(number):
            raise ConfigError(f"config key {path} must be a list of numbers, got {edges!r}")
        numbers.append(number)
    if len(numbers) < 2 or any(b <= a for a, b in itertools.pairwise(numbers)):
        raise ConfigError(
            f"config key {path} must be at least two increasing numbers, got {edges!r}"
        )
    return tuple(numbers)


def bin_labels(edges: tuple[float, ...]) -> list[str]:
    """The group names of ``edges``: ``[a, b)`` …, the last bin closed ``[a, b]``."""
    names = [f"[{a:g}, {b:g})" for a, b in itertools.pairwise(edges)]
    names[-1] = names[-1][:-1] + "]"
    return names
