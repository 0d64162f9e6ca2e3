"""Reference-vs-current histograms for people (the web page and reports).

:func:`histograms` counts a window the same way drift does and folds the fine counts into a
few readable bins per feature: equal-width bins over the central 99 % of both samples
(the outer 0.5 % on each side joins the first/last bin), one bin per value for numeric
features with few distinct values, and the most frequent categories plus ``other``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from modeltel.analyzer.analyses.drift.compare import Pair
from modeltel.analyzer.analyses.drift.config import DriftConfig
from modeltel.analyzer.analyses.drift.engine import DriftEngine
from modeltel.analyzer.analyses.drift.histogram import OTHER
from modeltel.analyzer.base.sources import ProductionSource, Source
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window


def _label(value: float) -> str:
    if math.isinf(value):
        return "+∞" if value > 0 else "−∞"
    return f"{value:.4g}"


def fold(pair: Pair, bins: int = 20) -> dict[str, Any]:
    """Readable bins of one aligned pair: labels, edges, counts and shares of both sides."""
    ref, cur = pair.reference, pair.current
    out: dict[str, Any] = {"type": "categorical" if pair.categorical else "numerical"}
    if pair.categorical:
        order = np.argsort(-(ref / max(ref.sum(), 1) + cur / max(cur.sum(), 1)), kind="stable")
        keys = [str(k) for k in pair.support[order]]
        r, c = ref[order], cur[order]
        if len(keys) > bins:
            keys = [*keys[: bins - 1], "other"]
            r = np.append(r[: bins - 1], r[bins - 1 :].sum())
            c = np.append(c[: bins - 1], c[bins - 1 :].sum())
        out.update(labels=[("other" if k == OTHER else k) for k in keys], edges=None)
    elif pair.exact and pair.support.size <= bins:
        out.update(labels=[_label(v) for v in pair.support], edges=None)
        r, c = ref, cur
    else:
        finite = np.isfinite(pair.support)
        points, weights = (
            pair.support[finite],
            (ref / max(ref.sum(), 1) + cur / max(cur.sum(), 1))[finite],
        )
        if points.size == 0:
            low, high = 0.0, 1.0
        else:
            cumulative = np.cumsum(weights) / weights.sum()
            low = float(points[min(np.searchsorted(cumulative, 0.005), points.size - 1)])
            high = float(points[min(np.searchsorted(cumulative, 0.995), points.size - 1)])
        if not high > low:
            low, high = low - 0.5, low + 0.5
        edges = np.linspace(low, high, bins + 1)
        index = np.clip(np.searchsorted(edges, pair.support, side="right") - 1, 0, bins - 1)
        r = np.bincount(index, weights=ref, minlength=bins).astype(np.float64)
        c = np.bincount(index, weights=cur, minlength=bins).astype(np.float64)
        labels = [f"{_label(a)} – {_label(b)}" for a, b in itertools.pairwise(edges)]
        out.update(labels=labels, edges=[float(e) for e in edges])
    out.update(
        reference=[int(v) for v in r],
        current=[int(v) for v in c],
        reference_share=[float(v) for v in (r / r.sum() if r.sum() else r)],
        current_share=[float(v) for v in (c / c.sum() if c.sum() else c)],
        reference_size=pair.n_reference,
        current_size=pair.n_current,
        missing={"reference": pair.missing[0], "current": pair.missing[1]},
    )
    return out


def histograms(
    store: Store,
    model: str,
    version: str,
    window: Window,
    *,
    reference: Source,
    config: DriftConfig | None = None,
    bins: int = 20,
    segment: str = "",
    engine: DriftEngine | None = None,
) -> dict[str, dict[str, Any]]:
    """``{feature: {"labels", "reference", "current", shares, sizes…}}`` for one window.

    ``reference`` is a :class:`~.sources.ReferenceSource` (or a production source of another
    version); counts come from the store, folded into at most ``bins`` bins per feature.
    """
    config = config or DriftConfig()
    engine = engine or DriftEngine(store)
    current = ProductionSource(model, version, window.start, window.end)
    rows = engine.current_rows(model, version, window.start, window.end)
    prepared = engine.prepare(reference, config, current_rows=rows)
    pairs = engine.pairs(prepared, current)
    return {
        feature: fold(pair, bins)
        for (seg, feature), pair in sorted(pairs.items())
        if seg == segment
    }
