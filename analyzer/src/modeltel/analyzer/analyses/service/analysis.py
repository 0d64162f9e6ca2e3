"""The service health of model versions over windows.

:func:`service_results` runs the statements of :mod:`.queries` once for all the versions
sharing a configuration, over all the windows at once (window statistics, each version's
first and latest predictions, the volume baseline, the class shares, the error types, the
counted volume) and :mod:`.records` turns each version's rows into its records;
:func:`compute_service` is one version.

With ``service.segment_by`` the window statistics, class shares and error types read the
versions' segmented rows (:func:`.queries.segmented_query`) and give, in the same
statements, the overall rows (``sd = 0``, the same records as without segments) and every
segment's (:func:`.records.segment_records`, ``segment`` = ``dimension=value``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from modeltel.analyzer.analyses.service.config import ServiceConfig
from modeltel.analyzer.analyses.service.queries import (
    Query,
    baseline_counts_sql,
    counter_volume_sql,
    error_types_sql,
    first_seen_sql,
    segmented_query,
    service_query,
    shares_sql,
    window_stats_sql,
)
from modeltel.analyzer.analyses.service.records import Counts, segment_records, service_records
from modeltel.analyzer.base.analysis import Run, Target
from modeltel.analyzer.base.query import TimeWindows
from modeltel.analyzer.base.results import Result
from modeltel.analyzer.base.segments import (
    SegmentDimension,
    segment_dimensions,
    segment_name,
    segment_names,
)
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window

Key = tuple[Target, int, str | None]
"""A version and segment of the rows: (target, ``sd``, ``sv``); ``(target, 0, None)`` is every
prediction of the version."""


def service_results(
    store: Store,
    targets: Sequence[Target],
    windows: Sequence[Window],
    settings: Any,
    run: Run | None = None,
    /,
    *,
    segment_by: str | Sequence[str] | None = None,
) -> list[Result]:
    """Service records of each target for each window, each model with its own settings
    (``settings.for_model``); the versions whose settings ask the same statements (baseline
    windows, class and error type limits, segment dimensions) share them. ``segment_by`` (a
    dimension, comma-separated dimensions or a list) replaces ``service.segment_by``."""
    groups: dict[tuple[Any, ...], list[tuple[Target, ServiceConfig]]] = {}
    for model, version in targets:
        config = settings.for_model(model)
        if segment_by is not None:
            config = replace(config, segment_by=segment_names(segment_by, "segment_by"))
        key = (
            config.baseline_windows,
            config.max_classes,
            config.max_error_types,
            config.segment_by,
            config.max_segments,
        )
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
    dimensions: dict[Target, tuple[SegmentDimension, ...]] = {}
    if shared.segment_by:
        for model, version in targets:
            dimensions[(model, version)] = segment_dimensions(
                store, model, version, spec, shared.segment_by
            )
        q = segmented_query(list(dimensions.items()), spec, shared.max_segments)
    else:
        q = service_query(targets, spec)
    stats: dict[Key, dict[int, Any]] = {}
    for key, w, row in _keyed(store.query_rows(window_stats_sql(q), parameters=q.params.values), q):
        stats.setdefault(key, {})[w] = tuple(row)
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
        overall = (target, 0, None)
        counts = Counts(
            stats.get(overall, {}),
            baseline.get(target, {}),
            counted.get(target, {}),
            shares.get(overall, {}),
            error_types.get(overall, {}),
        )
        results += service_records(*target, spec, counts, first_seen, last_before, config)
        segments = {
            segment_name(dimensions[target][sd - 1], sv): (target, sd, sv)
            for (of, sd, sv) in stats
            if of == target and sd
        }
        for name, key in sorted(segments.items(), key=lambda item: (item[1][1], item[0])):
            counts = Counts(stats[key], {}, {}, shares.get(key, {}), error_types.get(key, {}))
            results += segment_records(*target, spec, counts, config, name)
    return results


def _keyed(rows: Iterable[Sequence[Any]], q: Query) -> Iterator[tuple[Key, int, Sequence[Any]]]:
    """(version and segment, window key, the other columns) of each row of a statement of
    ``q``: its rows start with ``model``, ``version``, ``w`` and, segmented, ``sd``, ``sv``."""
    for model, version, w, *rest in rows:
        sd, sv = 0, None
        if q.by:
            (sd, sv), rest = rest[:2], rest[2:]
        segment = sv if isinstance(sv, str) else None
        yield ((str(model), str(version)), int(sd), segment), int(w), rest


def _top(store: Store, sql: str, q: Query) -> dict[Key, dict[int, list[tuple[str, float]]]]:
    """Per version and segment and window, (value, weighted count) pairs in the order of
    ``sql``'s rows."""
    out: dict[Key, dict[int, list[tuple[str, float]]]] = {}
    for key, w, (name, count) in _keyed(store.query_rows(sql, parameters=q.params.values), q):
        out.setdefault(key, {}).setdefault(w, []).append((str(name), float(count)))
    return out
