"""Fairness of model versions over windows: one statement per version (:mod:`.queries`), its
per-group counts turned into records (:mod:`.records`)."""

from __future__ import annotations

from collections.abc import Sequence

from modeltel.analyzer.analyses.fairness.config import FairnessConfig
from modeltel.analyzer.analyses.fairness.queries import COUNTS, fairness_sql
from modeltel.analyzer.analyses.fairness.records import KIND, attribute_records
from modeltel.analyzer.base.analysis import Run, Target
from modeltel.analyzer.base.prediction_rows import feature_kinds, label_filter_pays
from modeltel.analyzer.base.query import Params, TimeWindows, to_time
from modeltel.analyzer.base.results import Result
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
        filter_labels, predictions = label_filter_pays(store, model, version, spec)
        if not predictions:
            continue
        kinds = feature_kinds(store, config.protected, model)
        params = Params()
        sql, _ = fairness_sql(
            model, version, spec, config, kinds, params, filter_labels=filter_labels
        )
        per_window: dict[int, dict[int, dict[str | None, dict[str, int]]]] = {}
        for w, a, g, *counts in store.query_rows(sql, parameters=params.values):
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
