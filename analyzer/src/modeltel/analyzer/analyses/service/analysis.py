"""The service health of model versions over windows.

:func:`service_results` runs the statements of :mod:`.queries` once for all the versions
sharing a configuration, over all the windows at once (window statistics, each version's
first and latest predictions, the volume baseline, the class shares, the error types, the
counted volume) and :mod:`.records` turns each version's rows into its records;
:func:`compute_service` is one version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modeltel.analyzer.analyses.service.config import ServiceConfig
from modeltel.analyzer.analyses.service.queries import (
    Query,
    baseline_counts_sql,
    counter_volume_sql,
    error_types_sql,
    first_seen_sql,
    service_query,
    shares_sql,
    window_stats_sql,
)
from modeltel.analyzer.analyses.service.records import Counts, service_records
from modeltel.analyzer.base.analysis import Run, Target
from modeltel.analyzer.base.query import TimeWindows
from modeltel.analyzer.base.results import Result
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window


def service_results(
    store: Store,
    targets: Sequence[Target],
    windows: Sequence[Window],
    settings: Any,
    run: Run | None = None,
    /,
) -> list[Result]:
    """Service records of each target for each window, each model with its own settings
    (``settings.for_model``); the versions whose settings ask the same statements (baseline
    windows, class and error type limits) share them."""
    groups: dict[tuple[int, int, int], list[tuple[Target, ServiceConfig]]] = {}
    for model, version in targets:
        config = settings.for_model(model)
        key = (config.baseline_windows, config.max_classes, config.max_error_types)
        groups.setdefault(key, []).append(((model, version), config))
    results: list[Result] = []
    for members in groups.values():
        results += _compute(store, members, windows)
    return results


def compute_service(
    store: Store,
    model: str,
    version: str,
    windows: Sequence[Window],
    config: ServiceConfig | None = None,
) -> list[Result]:
    """Service records of ``model``/``version`` for each window (see the package docstring)."""
    return _compute(store, [((model, version), config or ServiceConfig())], windows)


def _compute(
    store: Store, members: Sequence[tuple[Target, ServiceConfig]], windows: Sequence[Window]
) -> list[Result]:
    """The records of each (target, settings) of ``members``, whose settings ask the same
    statements."""
    targets = [target for target, _ in members]
    shared = members[0][1]
    spec = TimeWindows.from_windows(windows)
    q = service_query(targets, spec)
    stats: dict[Target, dict[int, Any]] = {}
    for model, version, w, *row in store.query_rows(
        window_stats_sql(q), parameters=q.params.values
    ):
        stats.setdefault((str(model), str(version)), {})[int(w)] = tuple(row)
    # volume baseline: counts per window-sized bucket before the first window
    first_sql, first_params = first_seen_sql(targets, spec)
    seen = {
        (str(m), str(v)): (first, last_before)
        for m, v, first, last_before, _ in store.query_rows(
            first_sql, parameters=first_params.values
        )
    }
    counts_sql, counts_params = baseline_counts_sql(targets, spec, shared.baseline_windows)
    baseline: dict[Target, dict[int, Any]] = {}
    for m, v, w, n in store.query_rows(counts_sql, parameters=counts_params.values):
        baseline.setdefault((str(m), str(v)), {})[w] = n
    shares = _top(store, shares_sql(q, shared.max_classes), q)
    error_types = _top(store, error_types_sql(q, shared.max_error_types), q)
    volume_sql, volume_params = counter_volume_sql(targets, spec)
    counted: dict[Target, dict[int, tuple[float, int]]] = {}
    for m, v, w, n, since in store.query_rows(volume_sql, parameters=volume_params.values):
        counted.setdefault((str(m), str(v)), {})[int(w)] = (float(n), int(since))
    results: list[Result] = []
    for target, config in members:
        first_seen, last_before = seen.get(target, (0, 0))
        counts = Counts(
            stats.get(target, {}),
            baseline.get(target, {}),
            counted.get(target, {}),
            shares.get(target, {}),
            error_types.get(target, {}),
        )
        results += service_records(*target, spec, counts, first_seen, last_before, config)
    return results


def _top(store: Store, sql: str, q: Query) -> dict[Target, dict[int, list[tuple[str, float]]]]:
    """Per version and window, (value, weighted count) pairs in the order of ``sql``'s rows."""
    out: dict[Target, dict[int, list[tuple[str, float]]]] = {}
    for model, version, w, name, count in store.query_rows(sql, parameters=q.params.values):
        by_window = out.setdefault((str(model), str(version)), {})
        by_window.setdefault(int(w), []).append((str(name), float(count)))
    return out
