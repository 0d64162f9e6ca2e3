"""The service health of one model version over windows.

:func:`compute_service` runs the statements of :mod:`.queries` over all the windows at once
(window statistics, the version's first and latest predictions, the volume baseline, the
class shares) and :mod:`.records` turns their rows into records.
"""

from __future__ import annotations

from collections.abc import Sequence

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
from modeltel.analyzer.base.query import TimeWindows
from modeltel.analyzer.base.results import Result
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window


def compute_service(
    store: Store,
    model: str,
    version: str,
    windows: Sequence[Window],
    config: ServiceConfig | None = None,
) -> list[Result]:
    """Service records of ``model``/``version`` for each window (see the package docstring)."""
    config = config or ServiceConfig()
    spec = TimeWindows.from_windows(windows)
    q = service_query(model, version, spec)
    stats = {
        int(row[0]): row[1:]
        for row in store.query_rows(window_stats_sql(q), parameters=q.params.values)
    }
    # volume baseline: counts per window-sized bucket before the first window
    first_sql, first_parameters = first_seen_sql(model, version, spec)
    first_seen, last_before = store.query_rows(first_sql, parameters=first_parameters)[0][:2]
    counts_sql, counts_params = baseline_counts_sql(model, version, spec, config.baseline_windows)
    counts = dict(store.query_rows(counts_sql, parameters=counts_params.values))
    shares = _top(store, shares_sql(q, config.max_classes), q)
    error_types = _top(store, error_types_sql(q, config.max_error_types), q)
    volume_sql, volume_params = counter_volume_sql(model, version, spec)
    counted = {
        int(w): (float(n), int(since))
        for w, n, since in store.query_rows(volume_sql, parameters=volume_params.values)
    }
    return service_records(
        model,
        version,
        spec,
        Counts(stats, counts, counted, shares, error_types),
        first_seen,
        last_before,
        config,
    )


def _top(store: Store, sql: str, q: Query) -> dict[int, list[tuple[str, float]]]:
    """Per window, (value, weighted count) pairs in the order of ``sql``'s rows."""
    out: dict[int, list[tuple[str, float]]] = {}
    for w, name, count in store.query_rows(sql, parameters=q.params.values):
        out.setdefault(int(w), []).append((str(name), float(count)))
    return out
