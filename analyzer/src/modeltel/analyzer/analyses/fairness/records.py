"""Fairness records of one window and protected attribute, from its per-group counts.

Per group (``segment`` = ``attribute=group``): ``selection_rate`` (favorable predictions /
predictions), and over the predictions with a label ``true_positive_rate`` (favorable among
the truly favorable), ``false_positive_rate`` (favorable among the truly unfavorable) and
``accuracy``; with a reference group, ``selection_rate_difference`` (group − reference) and
``selection_rate_ratio`` (group / reference). Per attribute (no segment), over the groups that
are kept: ``statistical_parity_difference`` (max − min selection rate, fairlearn's
``demographic_parity_difference``), ``disparate_impact_ratio`` (min / max, fairlearn's
``demographic_parity_ratio``), ``equal_opportunity_difference`` (max − min true positive rate)
and ``equalized_odds_difference`` (the larger of the true and false positive rate differences,
fairlearn's ``equalized_odds_difference``). A group with fewer than ``min_group_size``
predictions (labelled predictions, for the label-based rates), or beyond the ``max_groups``
most frequent, is left out with the reason in ``details``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modeltel.analyzer.analyses.fairness.config import LOWER_IS_WORSE, FairnessConfig
from modeltel.analyzer.base.results import Result, Status

KIND = "fairness"
GROUP_METRICS = ("selection_rate", "true_positive_rate", "false_positive_rate", "accuracy")
REFERENCE_METRICS = ("selection_rate_difference", "selection_rate_ratio")
SUMMARY_METRICS = (
    "statistical_parity_difference",
    "disparate_impact_ratio",
    "equal_opportunity_difference",
    "equalized_odds_difference",
)


def _ratio(top: int, bottom: int) -> float | None:
    return top / bottom if bottom else None


def group_rates(counts: Mapping[str, int]) -> dict[str, float | None]:
    """A group's rates from its :data:`~.queries.COUNTS`."""
    return {
        "selection_rate": _ratio(counts["selected"], counts["n"]),
        "true_positive_rate": _ratio(counts["tp"], counts["positives"]),
        "false_positive_rate": _ratio(counts["fp"], counts["negatives"]),
        "accuracy": _ratio(counts["correct"], counts["labelled"]),
    }


def _no_value_reason(metric: str, groups_with_selection: int) -> str:
    """Why a summary metric has no value."""
    if metric not in ("statistical_parity_difference", "disparate_impact_ratio"):
        return "fewer than two groups with enough labelled predictions of both outcomes"
    if groups_with_selection < 2:
        return "fewer than two groups with enough predictions"
    return "no group has a favorable selection rate above 0"


def _spread(values: Sequence[float]) -> float | None:
    return max(values) - min(values) if len(values) >= 2 else None


def attribute_records(
    base: Mapping[str, Any],
    attribute: str,
    groups: Mapping[str | None, Mapping[str, int]],
    config: FairnessConfig,
) -> list[Result]:
    """The records of one attribute in one window; ``groups`` maps a group (None: missing or
    outside the bins) to its counts; ``base`` holds the records' common fields."""

    def record(metric: str, value: float | None, size: int, **fields: Any) -> Result:
        status = fields.pop("status", Status.INFO if value is not None else Status.NO_DATA)
        return Result(
            **base,
            feature=attribute,
            metric=metric,
            value=value,
            status=status,
            current_size=size,
            **fields,
        )

    left_out: dict[str, str] = {}
    missing = groups.get(None, {}).get("n", 0)
    ranked = sorted(
        ((g, c) for g, c in groups.items() if g is not None), key=lambda gc: (-gc[1]["n"], gc[0])
    )
    for g, _ in ranked[config.max_groups :]:
        left_out[g] = f"beyond the {config.max_groups} most frequent groups"
    kept = {}
    for g, counts in ranked[: config.max_groups]:
        if counts["n"] < config.min_group_size:
            left_out[g] = (
                f"{counts['n']} predictions, fewer than min_group_size {config.min_group_size}"
            )
        else:
            kept[g] = counts
    out: list[Result] = []
    rates: dict[str, dict[str, float | None]] = {}
    for g, counts in kept.items():
        rate = group_rates(counts)
        if counts["labelled"] < config.min_group_size:
            for name in ("true_positive_rate", "false_positive_rate", "accuracy"):
                rate[name] = None
        rates[g] = rate
        segment = f"{attribute}={g}"
        details = {"group": g, **{k: int(v) for k, v in counts.items()}}
        sizes = {
            "selection_rate": counts["n"],
            "true_positive_rate": counts["positives"],
            "false_positive_rate": counts["negatives"],
            "accuracy": counts["labelled"],
        }
        for name in GROUP_METRICS:
            out.append(record(name, rate[name], int(sizes[name]), segment=segment, details=details))
    reference = config.reference_group.get(attribute)
    if reference is not None:
        ref_rate = rates.get(reference, {}).get("selection_rate")
        for g, rate in rates.items():
            mine = rate["selection_rate"]
            segment = f"{attribute}={g}"
            info = {"group": g, "reference_group": reference}
            if ref_rate is None or mine is None:
                info["reason"] = f"the reference group {reference!r} is not among the kept groups"
            difference = mine - ref_rate if ref_rate is not None and mine is not None else None
            ratio = mine / ref_rate if ref_rate and mine is not None else None
            size = int(kept[g]["n"])
            out.append(
                record("selection_rate_difference", difference, size, segment=segment, details=info)
            )
            out.append(record("selection_rate_ratio", ratio, size, segment=segment, details=info))
    selection = [r["selection_rate"] for r in rates.values() if r["selection_rate"] is not None]
    tpr = [r["true_positive_rate"] for r in rates.values() if r["true_positive_rate"] is not None]
    fpr = [r["false_positive_rate"] for r in rates.values() if r["false_positive_rate"] is not None]
    spd = _spread(selection)
    dir_ = (
        (min(selection) / max(selection) if max(selection) > 0 else None)
        if len(selection) >= 2
        else None
    )
    eod = _spread(tpr)
    fpr_spread = _spread(fpr)
    odds = max(eod, fpr_spread) if eod is not None and fpr_spread is not None else None
    summary = {
        "statistical_parity_difference": (spd, sum(int(c["n"]) for c in kept.values())),
        "disparate_impact_ratio": (dir_, sum(int(c["n"]) for c in kept.values())),
        "equal_opportunity_difference": (eod, sum(int(c["labelled"]) for c in kept.values())),
        "equalized_odds_difference": (odds, sum(int(c["labelled"]) for c in kept.values())),
    }
    for name, (value, size) in summary.items():
        threshold = config.thresholds.get(name)
        details: dict[str, Any] = {
            "groups": {g: {k: v for k, v in r.items() if v is not None} for g, r in rates.items()},
        }
        if left_out:
            details["left_out"] = left_out
        if missing:
            details["missing_or_outside_bins"] = int(missing)
        if value is None:
            status = Status.NO_DATA
            details["reason"] = _no_value_reason(name, len(selection))
        elif threshold is None:
            status = Status.INFO
        elif name in LOWER_IS_WORSE:
            status = Status.ALERT if value < threshold else Status.OK
        else:
            status = Status.ALERT if value > threshold else Status.OK
        out.append(record(name, value, size, threshold=threshold, status=status, details=details))
    return out
