"""How much of a metric's change one slice of the traffic explains: a rate/mix decomposition.

The metrics explained are means of a per-row value ``x`` over the rows a metric counts (the
labelled predictions for accuracy, every prediction for the error ratio): ``M = S / N``.
Cut the rows into the slices of one dimension (``clinic=east``, ``clinic=west`` …); slice
``s`` has ``n`` rows, ``Σx = s`` and weight ``w = n / N``, so ``M = Σ w·m`` over its slices.
Between a window before (0) and after (1), with ``M̄ = (M₀ + M₁) / 2``:

- ``rate = (m₁ − m₀)·(w₀ + w₁) / 2`` — the metric moved inside the slice;
- ``mix = (w₁ − w₀)·((m₀ + m₁) / 2 − M̄)`` — the slice's share moved, counted by how far the
  slice's metric is from the overall one (a slice as good as the rest moves nothing);
- ``contribution = rate + mix``, and over the slices of one dimension the contributions add up
  to ``M₁ − M₀`` exactly.

A slice present on one side only has no rate part (its metric is taken equal on both sides).
Each contribution has a standard error from the rows' sums of squares; a slice is *material*
when it is at least :data:`MIN_Z` standard errors and :data:`MIN_RELATIVE` of ``|M̄|`` away
from zero, and so is the overall change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_Z = 4.0
"""Standard errors a contribution must be from zero to be material (several hundred slices are
tested at once; at 4 a slice of unchanged traffic is flagged with probability 6·10⁻⁵)."""
MIN_RELATIVE = 0.01
"""The smallest material contribution, as a share of the metric's mean level ``|M̄|``."""


@dataclass(frozen=True)
class Side:
    """The sums of one slice (or of all rows) in one window: ``rows`` predictions, ``base``
    rows the metric counts, ``total`` Σx and ``squares`` Σx² over them, ``labels`` labelled
    predictions."""

    rows: int = 0
    base: int = 0
    total: float = 0.0
    squares: float = 0.0
    labels: int = 0

    @property
    def mean(self) -> float | None:
        return self.total / self.base if self.base else None

    def __add__(self, other: Side) -> Side:
        return Side(
            self.rows + other.rows,
            self.base + other.base,
            self.total + other.total,
            self.squares + other.squares,
            self.labels + other.labels,
        )


@dataclass(frozen=True)
class Split:
    """A slice's ``contribution`` to the change of the metric, its ``rate`` and ``mix`` parts
    (they add up to it), and its standard error ``se``."""

    contribution: float
    rate: float
    mix: float
    se: float


def change(before: Side, after: Side) -> tuple[float, float]:
    """The change of the overall metric and its standard error (both sides need rows)."""
    m0, m1 = before.mean, after.mean
    assert m0 is not None and m1 is not None
    return m1 - m0, math.sqrt(_var(before, m0) + _var(after, m1))


def split(before: Side, after: Side, total0: Side, total1: Side) -> Split:
    """The :class:`Split` of one slice (``before``/``after``) of the rows ``total0``/``total1``."""
    big0, big1 = total0.mean, total1.mean
    assert big0 is not None and big1 is not None
    level = (big0 + big1) / 2
    w0 = before.base / total0.base
    w1 = after.base / total1.base
    m0, m1 = before.mean, after.mean
    if m0 is None and m1 is None:
        return Split(0.0, 0.0, 0.0, 0.0)
    m0 = m1 if m0 is None else m0
    m1 = m0 if m1 is None else m1
    assert m0 is not None and m1 is not None
    rate = (m1 - m0) * (w0 + w1) / 2
    mix = (w1 - w0) * ((m0 + m1) / 2 - level)
    se = math.sqrt(
        _centred_var(before, total0.base, level) + _centred_var(after, total1.base, level)
    )
    return Split(rate + mix, rate, mix, se)


def material(value: float, se: float, level: float) -> bool:
    """Whether a change or contribution of ``value`` (standard error ``se``) of a metric whose
    mean level is ``level`` is material (see the module docstring)."""
    if value == 0:
        return False
    return abs(value) >= MIN_Z * se and abs(value) >= MIN_RELATIVE * abs(level)


def _var(side: Side, mean: float) -> float:
    """The variance of the mean of x over the side's base rows."""
    return max(side.squares / side.base - mean * mean, 0.0) / side.base


def _centred_var(side: Side, total_base: int, level: float) -> float:
    """The variance of the mean of ``(x − level)·[row in slice]`` over all ``total_base`` rows."""
    if not total_base:
        return 0.0
    first = (side.total - level * side.base) / total_base
    second = (side.squares - 2 * level * side.total + level * level * side.base) / total_base
    return max(second - first * first, 0.0) / total_base
