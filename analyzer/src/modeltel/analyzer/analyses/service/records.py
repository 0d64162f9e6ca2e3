"""Tidy ``service`` records from the per-window rows of :mod:`.queries`.

:func:`service_records` makes every metric of each window; a latency, error ratio or
staleness alerts above its threshold (:func:`above`), the volume ratio on a spike or a drop
against the trailing baseline (:func:`volume_ratio`). ``last_seen`` carries over from one
window to the next, so a window without predictions still reports its staleness.
:func:`segment_records` makes those of one segment that make sense per segment (latencies,
throughput, error ratios, volume of the spans, class shares), ``no_data`` ones saying why for
a segment smaller than ``min_segment_size`` recorded predictions in a window.

Counts are weighted (each recorded prediction counts its ``weight``, ``docs/sampling.md``).
A window's ``volume`` (and ``throughput``) comes from the instrumentation's own
``ml.predictions`` counter instead when the counter has points in the window and no recorded
prediction of the window is more than :data:`COUNTER_SLACK_NS` older than the first point of
the counting series (spans stamped in the past, as a replay or the demo writes them, were
not counted by it); ``details.source`` says which.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modeltel.analyzer.analyses.service.config import ServiceConfig
from modeltel.analyzer.analyses.service.queries import LATENCY_QUANTILES
from modeltel.analyzer.base.query import TimeWindows, to_time
from modeltel.analyzer.base.results import Result, Status, weighted_count

KIND = "service"

SOURCE_COUNTER = "ml.predictions counter"
SOURCE_SPANS = "prediction spans"

COUNTER_SLACK_NS = 15 * 60 * 10**9
"""How much older than the counter's first point a recorded prediction may be (a process
exports its first point one export interval, 60 s by default, after it starts counting)."""


@dataclass(frozen=True)
class Counts:
    """The rows of :mod:`.queries`, per window key: ``stats`` (weighted predictions, calls and
    failed calls, latency quantiles, latest and earliest prediction in ns, recorded calls and
    recorded predictions: :class:`WindowStats`),
    ``baseline`` per baseline bucket, ``counted`` (counter predictions, the counter's first
    point in ns), and the weighted ``shares`` of predicted classes and ``error_types`` of
    failed calls."""

    stats: Mapping[int, Sequence[Any]]
    baseline: Mapping[int, float]
    counted: Mapping[int, tuple[float, int]]
    shares: Mapping[int, list[tuple[str, float]]]
    error_types: Mapping[int, list[tuple[str, float]]]


def above(value: float | None, threshold: float | None) -> Status:
    """``alert`` above ``threshold``, ``info`` without one, ``no_data`` without a value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Status.NO_DATA
    if threshold is None:
        return Status.INFO
    return Status.ALERT if value > threshold else Status.OK


def service_records(
    model: str,
    version: str,
    spec: TimeWindows,
    counts: Counts,
    first_seen: int,
    last_before: int | None,
    config: ServiceConfig,
) -> list[Result]:
    """The records of each window of ``spec`` from the rows of :mod:`.queries` (``counts``),
    the version's first prediction and its latest before the windows (ns)."""
    size_s = spec.size_ns / 1e9
    records: list[Result] = []
    seen = int(last_before) if last_before and int(last_before) > 0 else None
    for key_value in spec.keys:
        w_start, w_end = spec.bounds(key_value)
        stats = WindowStats.of(counts.stats.get(key_value, NO_STATS))
        volume = stats.volume
        if stats.recorded_calls:
            seen = max(seen or 0, int(stats.last_ns))
        source = SOURCE_SPANS
        counted = counts.counted.get(key_value)
        if counted is not None and (
            not stats.recorded_calls or int(stats.first_ns) >= counted[1] - COUNTER_SLACK_NS
        ):
            volume, source = weighted_count(counted[0]), SOURCE_COUNTER
        add = _adder(records, model, version, (to_time(w_start), to_time(w_end)))
        _latencies(add, stats, config)
        add("throughput", volume / size_s, Status.INFO, round(volume), details={"source": source})
        _errors(add, stats, counts.error_types.get(key_value, []), config)
        add("volume", float(volume), Status.INFO, round(volume), details={"source": source})
        ratio, status, baseline = volume_ratio(
            volume, key_value, counts.baseline, spec, first_seen, config
        )
        add(
            "volume_ratio",
            ratio,
            status,
            round(volume),
            details={
                "baseline": baseline,
                "spike": config.volume_spike,
                "drop": config.volume_drop,
            },
        )
        if seen is not None:
            add("last_seen", seen / 1e9, Status.INFO, round(volume))
            staleness = max(0.0, (w_end - seen) / 1e9)
            limit = config.max_staleness_s
            add("staleness", staleness, above(staleness, limit), round(volume), threshold=limit)
        _shares(add, stats, counts.shares.get(key_value, []))
    return records


def segment_records(
    model: str,
    version: str,
    spec: TimeWindows,
    counts: Counts,
    config: ServiceConfig,
    segment: str,
) -> list[Result]:
    """The records of ``segment`` (``dimension=value``) in each window of ``spec`` where it
    has predictions: latencies, throughput, error ratios, volume (of the spans) and class
    shares; ``no_data`` records saying why when it has fewer than ``config.min_segment_size``
    recorded predictions. ``counts.baseline`` and ``counts.counted`` are not used: the volume
    ratio, last seen and staleness are the version's only."""
    size_s = spec.size_ns / 1e9
    records: list[Result] = []
    for key_value in spec.keys:
        if key_value not in counts.stats:
            continue
        w_start, w_end = spec.bounds(key_value)
        stats = WindowStats.of(counts.stats[key_value])
        window: list[Result] = []
        add = _adder(window, model, version, (to_time(w_start), to_time(w_end)), segment)
        details = {"source": SOURCE_SPANS}
        _latencies(add, stats, config)
        add("throughput", stats.volume / size_s, Status.INFO, round(stats.volume), details=details)
        _errors(add, stats, counts.error_types.get(key_value, []), config)
        add("volume", float(stats.volume), Status.INFO, round(stats.volume), details=details)
        _shares(add, stats, counts.shares.get(key_value, []))
        if stats.predictions < config.min_segment_size:
            _too_small(window, int(stats.predictions), config.min_segment_size)
        records += window
    return records


@dataclass(frozen=True)
class WindowStats:
    """One row of :func:`.queries.window_stats_sql` after its keys: weighted ``volume``,
    ``calls`` and ``errors`` (as :func:`weighted_count` shows them), the ``latencies`` of the
    recorded calls, the latest and earliest prediction in ns, the recorded calls and the
    recorded ``predictions``."""

    volume: int | float
    calls: int | float
    errors: int | float
    latencies: Sequence[float]
    last_ns: int
    first_ns: int
    recorded_calls: int
    predictions: int

    @classmethod
    def of(cls, row: Sequence[Any]) -> WindowStats:
        volume, calls, errors, *rest = row
        return cls(*map(weighted_count, (volume, calls, errors)), *rest)


NO_STATS = (0.0, 0.0, 0.0, [math.nan] * 3, 0, 0, 0, 0)
"""The statistics of a window without predictions."""


def _adder(
    records: list[Result],
    model: str,
    version: str,
    bounds: tuple[Any, Any],
    segment: str = "",
) -> Any:
    """A function appending one record of the window ``bounds`` to ``records``."""

    def add(metric: str, value: float | None, status: Status, size: int, **extra: Any) -> None:
        records.append(
            Result(
                model=model,
                version=version,
                window_start=bounds[0],
                window_end=bounds[1],
                kind=KIND,
                segment=segment,
                metric=metric,
                value=value,
                status=status,
                current_size=int(size),
                **extra,
            )
        )

    return add


def _latencies(add: Any, stats: WindowStats, config: ServiceConfig) -> None:
    for q, value in zip(LATENCY_QUANTILES, stats.latencies, strict=False):
        metric = f"latency_p{round(q * 100)}"
        lat = float(value) if stats.recorded_calls else None
        threshold = config.thresholds.get(metric)
        add(metric, lat, above(lat, threshold), stats.recorded_calls, threshold=threshold)


def _errors(
    add: Any, stats: WindowStats, error_types: list[tuple[str, float]], config: ServiceConfig
) -> None:
    calls, errors = stats.calls, stats.errors
    ratio = errors / calls if calls else None
    threshold = config.thresholds.get("error_ratio")
    add(
        "error_ratio",
        ratio,
        above(ratio, threshold),
        round(calls),
        threshold=threshold,
        details={"calls": calls, "errors": errors, "recorded_calls": int(stats.recorded_calls)},
    )
    for error_type, count in error_types:
        add(
            "error_type_ratio",
            count / calls if calls else None,
            Status.INFO,
            round(calls),
            feature=error_type,
            details={"errors": weighted_count(count), "calls": calls},
        )


def _shares(add: Any, stats: WindowStats, shares: list[tuple[str, float]]) -> None:
    """Class shares of the recorded volume (what the spans stand for)."""
    for label, count in shares:
        add(
            "prediction_share",
            count / stats.volume if stats.volume else None,
            Status.INFO,
            round(stats.volume),
            feature=label,
            details={"count": weighted_count(count)},
        )


def _too_small(records: list[Result], size: int, minimum: int) -> None:
    """Turn a small segment's records into ``no_data`` ones saying why."""
    reason = f"{size} prediction(s) in the segment, fewer than service.min_segment_size ({minimum})"
    for record in records:
        record.value, record.threshold, record.status = None, None, Status.NO_DATA
        record.details = {"reason": reason, "predictions": size}


def volume_ratio(
    volume: float,
    key: int,
    counts: Mapping[int, float],
    spec: TimeWindows,
    first_seen: int,
    config: ServiceConfig,
) -> tuple[float | None, Status, float | None]:
    """(ratio, status, baseline) against the mean volume of the trailing windows."""
    k = config.baseline_windows
    first_key = (int(first_seen) - spec.origin_ns) // spec.size_ns
    keys = [b for b in range(key - k, key) if b >= first_key]
    if not keys:
        return None, Status.NO_DATA, None
    baseline = sum(float(counts.get(b, 0)) for b in keys) / len(keys)
    if baseline == 0:
        return None, Status.NO_DATA, baseline
    ratio = volume / baseline
    if ratio >= config.volume_spike or ratio <= config.volume_drop:
        return ratio, Status.ALERT, baseline
    return ratio, Status.OK, baseline
