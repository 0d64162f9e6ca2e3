"""A feature's drift between two windows written as the change of a mean, so that the slices of
the traffic take it apart like any other explained metric.

With ``p`` a window's shares of the feature's bins (its slices: a categorical feature's values,
a numeric feature's reference deciles; predictions without a value left out) and ``q`` the same
shares smoothed as the drift analysis smooths them (``EPSILON`` for an empty bin), give each row
the value ``x = ln(q₁_b / q₀_b)`` of its bin ``b``. The mean of ``x`` is ``Σ_b p_b·ln(q₁_b/q₀_b)``
in each window, so its change is ``Σ_b (p₁_b − p₀_b)·ln(q₁_b/q₀_b)``: the PSI of the two windows
(exactly the drift analysis's when no bin is empty). A slice's contribution is then the part of
that sum its rows carry, its rate part the feature's distribution moving inside the slice, and its
mix part the slice's share of the traffic moving while its distribution differs from the rest's.
"""

from __future__ import annotations

import numpy as np

from modeltel.analyzer.analyses.drift.stats import smooth
from modeltel.analyzer.base.errors import NotFoundError
from modeltel.analyzer.base.segments import MISSING
from modeltel.analyzer.orchestration.explain.slices import SliceSums


def log_ratios(counts: SliceSums, feature: str) -> dict[str, float]:
    """Each bin's ``ln(q₁/q₀)`` (by slice name) from ``counts``, the slice sums of the feature's
    dimension alone. Raises :class:`NotFoundError` when a window has no value of it."""
    bins = sorted(
        value for ((name, value), *rest) in filter(None, counts) if name == feature and not rest
    )
    bins = [b for b in bins if b != MISSING]
    before = np.array([counts[((feature, b),)][0].rows for b in bins], dtype=float)
    after = np.array([counts[((feature, b),)][1].rows for b in bins], dtype=float)
    if before.sum() <= 0 or after.sum() <= 0:
        raise NotFoundError(f"feature {feature!r} has no value in one of the windows")
    return dict(zip(bins, np.log(smooth(after) / smooth(before)).tolist(), strict=True))
