"""Which part of the traffic explains a metric's change between two windows.

:func:`explain` counts, in one statement over both windows, the sums of every slice of every
:class:`~.slices.Dimension` (each categorical and binned numeric feature, and the serving
service), splits each slice's contribution to the change into the metric moved inside it
(*rate*) and its share of the traffic moved (*mix*; :mod:`.decomposition`), and ranks the
slices by how much of the change they explain. A second statement does the same for every
pair of values of the :data:`PAIR_DIMENSIONS` dimensions whose slices explain most.

A feature's drift (``drift:FEATURE``) is taken apart the same way: its PSI between the windows
is the change of a mean (:mod:`.drift_share`), counted in a first, smaller statement; it is
material from the PSI's warning level (:data:`DRIFT_LEVEL`), and the feature's own slices are
not ranked.

The :class:`Explanation` is what the CLI, the API, the page, the report and the retrain
webhook show: the metric before and after, every ranked slice with its size, metric and labels
before and after, and one sentence (:meth:`Explanation.summary`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from modeltel.analyzer.analyses.drift.methods import METHODS
from modeltel.analyzer.analyses.performance import describe_model
from modeltel.analyzer.analyses.performance.config import PerformanceConfig
from modeltel.analyzer.base.errors import ConfigError, NotFoundError
from modeltel.analyzer.base.query import TimeWindows
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.orchestration.explain.decomposition import Side, Split, change, material
from modeltel.analyzer.orchestration.explain.decomposition import split as split_slice
from modeltel.analyzer.orchestration.explain.drift_share import log_ratios
from modeltel.analyzer.orchestration.explain.metrics import (
    EXPLAINED,
    ExplainedMetric,
    explained_metric,
)
from modeltel.analyzer.orchestration.explain.slices import (
    Dimension,
    Key,
    Measure,
    SliceSums,
    dimensions,
    slice_sums,
)

PAIR_DIMENSIONS = 4
"""How many of the best single dimensions are paired with each other."""
MAX_DIMENSIONS = 60
"""The most dimensions one explanation cuts by (``dimensions`` chooses others)."""
DRIFT_LEVEL = METHODS["psi"].warning or 0.1
"""The PSI from which a feature's drift between the windows is material; a slice's part is
material from :data:`~.decomposition.MIN_RELATIVE` of it (and 4 standard errors)."""
COUNT = Measure("1", "0", frozenset(), labels=False)
"""Counts the rows of each slice."""

__all__ = ["EXPLAINED", "Explanation", "SliceChange", "explain"]


@dataclass(frozen=True)
class SliceChange:
    """One slice (``key``: its dimension/value pairs) before and after, and its part of the
    change."""

    key: Key
    before: Side
    after: Side
    part: Split
    material: bool
    means: bool = True
    """Whether the slice's metric is the mean of its rows (not for a drift)."""

    @property
    def metric_before(self) -> float | None:
        return self.before.mean if self.means else None

    @property
    def metric_after(self) -> float | None:
        return self.after.mean if self.means else None

    @property
    def name(self) -> str:
        """``dimension=value``, pairs joined by `` & ``."""
        return " & ".join(f"{d}={v}" for d, v in self.key)

    def to_dict(self, total0: Side, total1: Side, change_: float) -> dict[str, Any]:
        return {
            "slice": self.name,
            "dimensions": [d for d, _ in self.key],
            "values": [v for _, v in self.key],
            "predictions_before": self.before.rows,
            "predictions_after": self.after.rows,
            "share_before": _ratio(self.before.rows, total0.rows),
            "share_after": _ratio(self.after.rows, total1.rows),
            "counted_before": self.before.base,
            "counted_after": self.after.base,
            "metric_before": self.metric_before,
            "metric_after": self.metric_after,
            "labels_before": self.before.labels,
            "labels_after": self.after.labels,
            "contribution": self.part.contribution,
            "rate": self.part.rate,
            "mix": self.part.mix,
            "explained": self.part.contribution / change_ if change_ else None,
            "standard_error": self.part.se,
            "material": self.material,
        }


@dataclass(frozen=True)
class Explanation:
    """A metric's change between two windows of a model version, taken apart by slice."""

    model: str
    version: str
    metric: ExplainedMetric
    before_window: Window
    after_window: Window
    before: Side
    after: Side
    change: float
    standard_error: float
    material: bool
    slices: tuple[SliceChange, ...]
    """Single slices, the most explaining first."""
    pairs: tuple[SliceChange, ...]
    """Pairs of slices, the most explaining first."""
    dimensions: tuple[str, ...]

    @property
    def value_before(self) -> float:
        """The metric in the window before (0 for a drift: the windows against themselves)."""
        if self.metric.feature is not None:
            return 0.0
        assert self.before.mean is not None
        return self.before.mean

    @property
    def value_after(self) -> float:
        """The metric in the window after (for a drift: the PSI between the windows)."""
        if self.metric.feature is not None:
            return self.change
        assert self.after.mean is not None
        return self.after.mean

    @property
    def top(self) -> SliceChange | None:
        """The slice explaining most of a material change, if it is material itself."""
        if self.material and self.slices and self.slices[0].material:
            return self.slices[0]
        return None

    def summary(self) -> str:
        """One sentence: how the metric moved and the slice explaining most of it."""
        m = self.metric
        b, a = self.value_before, self.value_after
        drift = m.feature is not None
        if not self.material:
            if drift:
                return f"{m.title} is {_fmt(a)} between the windows, below {_fmt(DRIFT_LEVEL)}"
            return f"{m.title} did not change materially ({_fmt(b)} before, {_fmt(a)} after)"
        if drift:
            head, noun = f"{m.title} is {_fmt(a)} between the windows", "drift"
        else:
            moved_up = self.change > 0
            head = f"{m.title} {'rose' if moved_up else 'fell'} from {_fmt(b)} to {_fmt(a)}"
            noun = "rise" if moved_up else "fall"
        top = self.top
        if top is None:
            return f"{head}; no single slice explains a material part of it"
        share = _pct(top.part.contribution / self.change)
        after_share = _ratio(top.after.rows, self.after.rows) or 0.0
        own = top.metric_after if top.metric_after is not None else top.metric_before
        metric = "" if own is None else f"{m.title} {_fmt(own)}"
        if abs(top.part.mix) > abs(top.part.rate):
            before_share = _ratio(top.before.rows, self.before.rows) or 0.0
            grew = "grew" if after_share > before_share else "shrank"
            tail = (
                f"{share} of the {noun} is {top.name}, whose share of traffic {grew} from "
                f"{_pct(before_share)} to {_pct(after_share)}" + (f" ({metric})" if metric else "")
            )
        else:
            inside = metric or f"{m.feature} moved inside it"
            tail = f"{share} of the {noun} is {top.name} ({_pct(after_share)} of traffic, {inside})"
        return f"{head}; {tail}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the API and ``modeltel explain --format json``."""
        t0, t1 = self.before, self.after
        return {
            "model": self.model,
            "version": self.version,
            "metric": self.metric.name,
            "higher_is_better": self.metric.higher_is_better,
            "before_window": _window(self.before_window),
            "after_window": _window(self.after_window),
            "before": self.value_before,
            "after": self.value_after,
            "change": self.change,
            "standard_error": self.standard_error,
            "material": self.material,
            "predictions_before": t0.rows,
            "predictions_after": t1.rows,
            "counted_before": t0.base,
            "counted_after": t1.base,
            "summary": self.summary(),
            "dimensions": list(self.dimensions),
            "slices": [s.to_dict(t0, t1, self.change) for s in self.slices],
            "pairs": [s.to_dict(t0, t1, self.change) for s in self.pairs],
        }


def explain(
    store: Store,
    model: str,
    version: str,
    before: Window,
    after: Window,
    *,
    metric: str | None = None,
    config: PerformanceConfig | None = None,
    names: Sequence[str] | None = None,
    max_values: int = 20,
    top: int = 10,
) -> Explanation:
    """The :class:`Explanation` of ``metric`` (see :mod:`.metrics`; default accuracy or mae)
    of ``model``/``version`` between the equal windows ``before`` and ``after`` (``after``
    starting a whole number of windows after ``before`` ends), cut by the dimensions
    ``names`` (default: every feature and the serving service). ``metric`` ``drift:FEATURE``
    explains the feature's PSI between the windows. Raises :class:`NotFoundError` when a
    window has no row the metric counts."""
    if not 1 <= max_values <= 200:
        raise ConfigError("max_values must be between 1 and 200")
    if top < 1:
        raise ConfigError("top must be a positive number of slices")
    windows = _windows(before, after)
    task = describe_model(store, model, version, windows, config or PerformanceConfig())
    chosen = explained_metric(metric, task.task, task.binary)
    measure = Measure(chosen.base, chosen.value, chosen.columns, chosen.labels, task.positive)
    before_windows = TimeWindows(windows.origin_ns, windows.size_ns, windows.keys[:1])
    drifting = chosen.feature
    if drifting is not None and names is not None and drifting not in names:
        names = [*names, drifting]
    try:
        cuts = dimensions(store, model, version, windows, before_windows, names)
        if drifting is not None and drifting not in {c.name for c in cuts}:
            dimensions(store, model, version, windows, before_windows, [drifting])
    except KeyError as exc:
        raise ConfigError(
            f"model {model!r} has no feature {exc.args[0]} in these windows"
        ) from None
    if len(cuts) > MAX_DIMENSIONS:
        raise ConfigError(
            f"{len(cuts)} dimensions are more than {MAX_DIMENSIONS}; name the ones to cut by"
        )
    sides = (windows.keys[0], windows.keys[-1])
    target = [c for c in cuts if c.name == drifting]
    if drifting is not None:
        if not target:
            raise ConfigError(f"feature {drifting!r} takes one value only before; nothing drifts")
        counts = slice_sums(store, model, version, windows, sides, COUNT, target, most=max_values)
        measure = replace(COUNT, lookup=(drifting, log_ratios(counts, drifting)))
    sums = slice_sums(store, model, version, windows, sides, measure, cuts, most=max_values)
    t0, t1 = sums.get((), (Side(), Side()))
    for side, window in ((t0, before), (t1, after)):
        if not side.base:
            raise NotFoundError(
                f"model {model!r} version {version!r} has no prediction counted by "
                f"{chosen.name} between {window.start.isoformat()} and {window.end.isoformat()}"
                + (" (it needs labels)" if chosen.labels else "")
            )
    moved, se = change(t0, t1)
    means = drifting is None
    if means:
        level = ((t0.mean or 0.0) + (t1.mean or 0.0)) / 2
        changed = material(moved, se, level)
    else:
        level, changed = DRIFT_LEVEL, moved >= DRIFT_LEVEL
    singles = _ranked(sums, t0, t1, moved if changed else 0.0, level, means)
    kept = [c for c in cuts if c.name != drifting and _has_slices(sums, c)]
    best = _best_dimensions(singles, kept)
    pairs: list[SliceChange] = []
    if len(best) >= 2:
        pair_sums = slice_sums(
            store, model, version, windows, sides, measure, [*best, *target], pairs=True,
            most=max_values,
        )  # fmt: skip
        ranked = _ranked(pair_sums, t0, t1, moved if changed else 0.0, level, means)
        pairs = [s for s in ranked if len(s.key) == 2 and drifting not in dict(s.key)]
    return Explanation(
        model,
        version,
        chosen,
        before,
        after,
        t0,
        t1,
        moved,
        se,
        changed,
        tuple(s for s in singles if s.key[0][0] in {c.name for c in kept})[:top],
        tuple(pairs[:top]),
        tuple(c.name for c in kept),
    )


def _windows(before: Window, after: Window) -> TimeWindows:
    size = after.end - after.start
    if before.end - before.start != size:
        raise ConfigError("the window before and the window after must be equally long")
    if before.end > after.start:
        raise ConfigError("the window before must end before the window after starts")
    return TimeWindows.from_windows([before, after])


def _ranked(
    sums: SliceSums, t0: Side, t1: Side, moved: float, level: float, means: bool
) -> list[SliceChange]:
    """Every slice of ``sums`` with its part of the change, the most explaining first: by
    contribution in the direction of ``moved``, by its size when ``moved`` is 0."""
    out = []
    for key, (b, a) in sums.items():
        if not key:
            continue
        part = split_slice(b, a, t0, t1)
        is_material = material(part.contribution, part.se, level)
        out.append(SliceChange(key, b, a, part, is_material, means))
    if moved:
        out.sort(key=lambda s: (-s.part.contribution * (1.0 if moved > 0 else -1.0), s.name))
    else:
        out.sort(key=lambda s: (-abs(s.part.contribution), s.name))
    return out


def _has_slices(sums: SliceSums, cut: Dimension) -> bool:
    """Whether the dimension cuts the traffic into more than one slice."""
    return sum(1 for key in sums if len(key) == 1 and key[0][0] == cut.name) > 1


def _best_dimensions(singles: Sequence[SliceChange], cuts: Sequence[Dimension]) -> list[Dimension]:
    by_name = {c.name: c for c in cuts}
    best: list[Dimension] = []
    for s in singles:
        name = s.key[0][0]
        if name in by_name and by_name[name] not in best:
            best.append(by_name[name])
        if len(best) == PAIR_DIMENSIONS:
            break
    return best


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _pct(value: float) -> str:
    return f"{100 * value:.0f} %"


def _window(window: Window) -> dict[str, str]:
    return {"start": window.start.isoformat(), "end": window.end.isoformat()}
