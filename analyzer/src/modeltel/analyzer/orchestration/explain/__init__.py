"""Which part of the traffic explains a metric's change between two windows.

:func:`explain` counts, in one statement over both windows, the sums of every slice of every
:class:`~.slices.Dimension` (each categorical and binned numeric feature, and the serving
service), splits each slice's contribution to the change into the metric moved inside it
(*rate*) and its share of the traffic moved (*mix*; :mod:`.decomposition`), and ranks the
slices by how much of the change they explain. A second statement does the same for every
pair of values of the :data:`PAIR_DIMENSIONS` dimensions whose slices explain most.

The :class:`Explanation` is what the CLI, the API, the page, the report and the retrain
webhook show: the metric before and after, every ranked slice with its size, metric and labels
before and after, and one sentence (:meth:`Explanation.summary`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from modeltel.analyzer.analyses.performance import describe_model
from modeltel.analyzer.analyses.performance.config import PerformanceConfig
from modeltel.analyzer.base.errors import ConfigError, NotFoundError
from modeltel.analyzer.base.query import TimeWindows
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.orchestration.explain.decomposition import Side, Split, change, material
from modeltel.analyzer.orchestration.explain.decomposition import split as split_slice
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
            "metric_before": self.before.mean,
            "metric_after": self.after.mean,
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
    def top(self) -> SliceChange | None:
        """The slice explaining most of a material change, if it is material itself."""
        if self.material and self.slices and self.slices[0].material:
            return self.slices[0]
        return None

    def summary(self) -> str:
        """One sentence: how the metric moved and the slice explaining most of it."""
        m = self.metric
        b, a = self.before.mean, self.after.mean
        assert b is not None and a is not None
        if not self.material:
            return f"{m.title} did not change materially ({_fmt(b)} before, {_fmt(a)} after)"
        head = f"{m.title} {'fell' if self.change < 0 else 'rose'} from {_fmt(b)} to {_fmt(a)}"
        top = self.top
        if top is None:
            return f"{head}; no single slice explains a material part of it"
        share = top.part.contribution / self.change
        noun = "fall" if self.change < 0 else "rise"
        after_share = _ratio(top.after.rows, self.after.rows) or 0.0
        metric_after = top.after.mean if top.after.mean is not None else top.before.mean
        assert metric_after is not None
        if abs(top.part.mix) > abs(top.part.rate):
            before_share = _ratio(top.before.rows, self.before.rows) or 0.0
            moved = "grew" if after_share > before_share else "shrank"
            tail = (
                f"{_pct(share)} of the {noun} is {top.name}, whose share of traffic {moved} "
                f"from {_pct(before_share)} to {_pct(after_share)} ({m.title} "
                f"{_fmt(metric_after)})"
            )
        else:
            tail = (
                f"{_pct(share)} of the {noun} is {top.name} ({_pct(after_share)} of traffic, "
                f"{m.title} {_fmt(metric_after)})"
            )
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
            "before": t0.mean,
            "after": t1.mean,
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
    ``names`` (default: every feature and the serving service). Raises
    :class:`NotFoundError` when a window has no row the metric counts."""
    if not 1 <= max_values <= 200:
        raise ConfigError("max_values must be between 1 and 200")
    if top < 1:
        raise ConfigError("top must be a positive number of slices")
    windows = _windows(before, after)
    task = describe_model(store, model, version, windows, config or PerformanceConfig())
    chosen = explained_metric(metric, task.task, task.binary)
    measure = Measure(chosen.base, chosen.value, chosen.columns, chosen.labels, task.positive)
    before_windows = TimeWindows(windows.origin_ns, windows.size_ns, windows.keys[:1])
    try:
        cuts = dimensions(store, model, version, windows, before_windows, names)
    except KeyError as exc:
        raise ConfigError(
            f"model {model!r} has no feature {exc.args[0]} in these windows"
        ) from None
    if len(cuts) > MAX_DIMENSIONS:
        raise ConfigError(
            f"{len(cuts)} dimensions are more than {MAX_DIMENSIONS}; name the ones to cut by"
        )
    sides = (windows.keys[0], windows.keys[-1])
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
    level = ((t0.mean or 0.0) + (t1.mean or 0.0)) / 2
    changed = material(moved, se, level)
    singles = _ranked(sums, t0, t1, moved if changed else 0.0, level)
    kept = [c for c in cuts if _has_slices(sums, c)]
    best = _best_dimensions(singles, kept)
    pairs: list[SliceChange] = []
    if len(best) >= 2:
        pair_sums = slice_sums(
            store, model, version, windows, sides, measure, best, pairs=True, most=max_values
        )
        ranked = _ranked(pair_sums, t0, t1, moved if changed else 0.0, level)
        pairs = [s for s in ranked if len(s.key) == 2]
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


def _ranked(sums: SliceSums, t0: Side, t1: Side, moved: float, level: float) -> list[SliceChange]:
    """Every slice of ``sums`` with its part of the change, the most explaining first: by
    contribution in the direction of ``moved``, by its size when ``moved`` is 0."""
    out = []
    for key, (b, a) in sums.items():
        if not key:
            continue
        part = split_slice(b, a, t0, t1)
        out.append(SliceChange(key, b, a, part, material(part.contribution, part.se, level)))
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
