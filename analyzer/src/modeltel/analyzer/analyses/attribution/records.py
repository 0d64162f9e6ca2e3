"""Tidy ``attribution`` records of one window from its and the reference's importances.

Per feature: ``importance`` and ``rank`` (``info``); of the whole ranking: ``rank_correlation``
and ``top_k_overlap`` (``drift`` below their threshold, ``no_data`` with fewer than
``min_predictions`` attributed predictions on either side) and ``drift`` (1 when either
drifted).
"""

from __future__ import annotations

from typing import Any

from modeltel.analyzer.analyses.attribution.config import AttributionConfig
from modeltel.analyzer.analyses.attribution.stats import (
    rank_correlation,
    ranks,
    top_k,
    top_k_overlap,
)
from modeltel.analyzer.base.results import Result, Status
from modeltel.analyzer.base.windows import Window

KIND = "attribution"

Importances = dict[str, tuple[float, int]]
"""feature → (mean |attribution|, attributed predictions)."""


def window_records(
    model: str,
    version: str,
    window: Window,
    current: Importances,
    reference: Importances,
    reference_period: Window,
    config: AttributionConfig,
) -> list[Result]:
    """The records of one window from its and the reference's importances."""
    cur = {f: v for f, (v, _) in current.items()}
    ref = {f: v for f, (v, _) in reference.items()}
    n_cur = max((n for _, n in current.values()), default=0)
    n_ref = max((n for _, n in reference.values()), default=0)
    cur_ranks, ref_ranks = ranks(cur), ranks(ref)
    out: list[Result] = []

    def add(
        feature: str | None, metric: str, value: float | None, status: Status, **extra: Any
    ) -> None:
        out.append(
            Result(
                model=model,
                version=version,
                window_start=window.start,
                window_end=window.end,
                kind=KIND,
                feature=feature,
                metric=metric,
                value=value,
                status=status,
                current_size=n_cur,
                reference_size=n_ref,
                **extra,
            )
        )

    for feature in sorted(cur):
        details = {
            "rank": cur_ranks[feature],
            "predictions": current[feature][1],
            "reference_importance": ref.get(feature),
            "reference_rank": ref_ranks.get(feature),
        }
        add(feature, "importance", cur[feature], Status.INFO, details=details)
        reference_rank = {"reference_rank": ref_ranks.get(feature)}
        add(feature, "rank", cur_ranks[feature], Status.INFO, details=reference_rank)
    enough = n_cur >= config.min_predictions and n_ref >= config.min_predictions
    rho = rank_correlation(cur, ref) if ref else None
    overlap, k = top_k_overlap(cur, ref, config.top_k) if ref else (None, 0)
    shared = sorted(set(cur) & set(ref))
    context = {
        "reference_start": reference_period.start,
        "reference_end": reference_period.end,
        "features": len(shared),
        "only_current": sorted(set(cur) - set(ref)),
        "only_reference": sorted(set(ref) - set(cur)),
        "min_predictions": config.min_predictions,
    }

    def decision(metric: str, value: float | None, extra: dict[str, Any]) -> Status:
        threshold = config.thresholds[metric]
        if value is None or not enough:
            status = Status.NO_DATA
        else:
            status = Status.DRIFT if value < threshold else Status.OK
        add(None, metric, value, status, threshold=threshold, details={**context, **extra})
        return status

    s1 = decision("rank_correlation", rho, {"method": "spearman"})
    s2 = decision(
        "top_k_overlap",
        overlap,
        {"k": k, "current_top": top_k(cur, k), "reference_top": top_k(ref, k)},
    )
    drifted = Status.DRIFT in (s1, s2)
    known = s1 != Status.NO_DATA or s2 != Status.NO_DATA
    add(
        None,
        "drift",
        (1.0 if drifted else 0.0) if known else None,
        (Status.DRIFT if drifted else Status.OK) if known else Status.NO_DATA,
        details={**context, "rank_correlation": rho, "top_k_overlap": overlap},
    )
    return out
