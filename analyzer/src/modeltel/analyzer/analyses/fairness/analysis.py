"""Fairness of model versions over windows: one statement per version (:mod:`.queries`), its
per-group counts turned into records (:mod:`.records`)."""

from __future__ import annotations

from collections.abc import Sequence

from modeltel.analyzer.analyses.fairness.config import FairnessConfig
from modeltel.analyzer.analyses.fairness.queries import COUNTS, fairness_request
from modeltel.analyzer.analyses.fairness.records import KIND, attribute_records
from modeltel.analyzer.base.analysis import Run, Target
from modeltel.analyzer.base.query import TimeWindows, to_time
from modeltel.analyzer.base.results import Result
from modeltel.analyzer.base.row_scan import RowRequest, rows_for
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window


def compute_fairness(
    store: Store,
    targets: Sequence[Target],
    windows: Sequence[Window],
    settings: FairnessConfig,
    run: Run,
    /,
) -> list[Result]:
    """The records of every target with protected attributes, per window holding predictions."""
    spec = TimeWindows.from_windows(windows)
    results: list[Result] = []
    for model, version in targets:
        config = settings.for_model(model)
        if not config.protected:
            continue
        answer, _ = rows_for(store, run.scans, KIND, model, version, spec, fairness_request(config))
        width = len(config.protected)
        per_window: dict[int, dict[int, dict[str | None, dict[str, int]]]] = {}
        for w, a, *row in answer:
            g, counts = row[a], row[width:]
            groups = per_window.setdefault(int(w), {}).setdefault(int(a), {})
            groups[None if g is None else str(g)] = dict(zip(COUNTS, map(int, counts), strict=True))
        for key in spec.keys:
            if key not in per_window:
                continue
            start, end = spec.bounds(key)
            base = {
                "model": model,
                "version": version,
                "window_start": to_time(start),
                "window_end": to_time(end),
                "kind": KIND,
            }
            for index, attribute in enumerate(config.protected):
                groups = per_window[key].get(index, {})
                results += attribute_records(base, attribute, groups, config)
    return results


def fairness_row_request(
    store: Store, settings: FairnessConfig, run: Run, model: str
) -> RowRequest | None:
    """The row request of ``model``'s fairness (None without protected attributes)."""
    config = settings.for_model(model)
    return fairness_request(config) if config.protected else None
