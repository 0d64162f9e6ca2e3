"""Statistics on feature importances (small: one number per feature), computed in Python.

- :func:`ranks`: 1 for the most important feature, ties sharing their average rank;
- :func:`rank_correlation`: Spearman's ρ over the features both rankings have (equal to
  ``scipy.stats.spearmanr``);
- :func:`top_k` and :func:`top_k_overlap`: the k most important features, and the share of
  them two rankings have in common.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.stats import rankdata


def ranks(importance: Mapping[str, float]) -> dict[str, float]:
    """Rank of each feature, 1 = most important; ties share their average rank."""
    names = sorted(importance)
    values = rankdata([-importance[n] for n in names], method="average")
    return {n: float(r) for n, r in zip(names, values, strict=True)}


def rank_correlation(current: Mapping[str, float], reference: Mapping[str, float]) -> float | None:
    """Spearman's ρ over the features both have (None with < 2 features or no spread)."""
    names = sorted(set(current) & set(reference))
    if len(names) < 2:
        return None
    a = rankdata([current[n] for n in names])
    b = rankdata([reference[n] for n in names])
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def top_k(importance: Mapping[str, float], k: int) -> list[str]:
    """The ``k`` most important features (ties broken by name)."""
    return sorted(importance, key=lambda n: (-importance[n], n))[:k]


def top_k_overlap(
    current: Mapping[str, float], reference: Mapping[str, float], k: int
) -> tuple[float | None, int]:
    """(|top-k ∩ top-k| / k, k) over the features both have; k = min(k, their count)."""
    names = set(current) & set(reference)
    k = min(k, len(names))
    if k == 0:
        return None, 0
    a = set(top_k({n: current[n] for n in names}, k))
    b = set(top_k({n: reference[n] for n in names}, k))
    return len(a & b) / k, k
