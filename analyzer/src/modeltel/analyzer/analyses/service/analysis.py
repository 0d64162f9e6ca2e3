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
    first_seen_sql,
    service_query,
    shares_sql,
    window_stats_sql,
)
from modeltel.analyzer.analyses.service.records import service_records
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
    shares = _shares(store, q, config.max_classes)
    return service_records(
        model, version, spec, stats, counts, first_seen, last_before, shares, config
    )


def _shares(store: Store, q: Query, limit: int) -> dict[int, list[tuple[str, int]]]:
    """Predicted class counts per window (the ``limit`` most frequent classes)."""
    rows = store.query_rows(shares_sql(q, limit), parameters=q.params.values)
    out: dict[int, list[tuple[str, int]]] = {}
    for w, label, count in rows:
        out.setdefault(int(w), []).append((str(label), int(count)))
    return out
