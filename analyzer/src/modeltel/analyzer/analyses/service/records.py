"""Tidy ``service`` records from the per-window rows of :mod:`.queries`.

:func:`service_records` makes every metric of each window; a latency, error ratio or
staleness alerts above its threshold (:func:`above`), the volume ratio on a spike or a drop
against the trailing baseline (:func:`volume_ratio`). ``last_seen`` carries over from one
window to the next, so a window without predictions still reports its staleness.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from modeltel.analyzer.analyses.service.config import ServiceConfig
from modeltel.analyzer.analyses.service.queries import LATENCY_QUANTILES
from modeltel.analyzer.base.query import TimeWindows, to_time
from modeltel.analyzer.base.results import Result, Status

KIND = "service"


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
    stats: Mapping[int, Sequence[Any]],
    counts: Mapping[int, int],
    first_seen: int,
    last_before: int | None,
    shares: Mapping[int, list[tuple[str, int]]],
    config: ServiceConfig,
) -> list[Result]:
    """The records of each window of ``spec`` from the rows of :mod:`.queries`: ``stats`` per
    window key, ``counts`` per baseline bucket, the version's first prediction and its latest
    before the windows (ns), and the class ``shares`` per window key."""
    size_s = spec.size_ns / 1e9
    records: list[Result] = []
    seen = int(last_before) if last_before and int(last_before) > 0 else None
    for key_value in spec.keys:
        w_start, w_end = spec.bounds(key_value)
        bounds = (to_time(w_start), to_time(w_end))
        volume, calls, errors, latencies, last_ns = stats.get(
            key_value, (0, 0, 0, [math.nan] * 3, 0)
        )
        volume, calls, errors = int(volume), int(calls), int(errors)
        if volume:
            seen = max(seen or 0, int(last_ns))

        def add(metric: str, value: float | None, status: Status, size: int, **extra: Any) -> None:
            records.append(
                Result(
                    model=model,
                    version=version,
                    window_start=bounds[0],  # noqa: B023
                    window_end=bounds[1],  # noqa: B023
                    kind=KIND,
                    metric=metric,
                    value=value,
                    status=status,
                    current_size=int(size),
                    **extra,
                )
            )

        for q, value in zip(LATENCY_QUANTILES, latencies, strict=False):
            metric = f"latency_p{round(q * 100)}"
            lat = float(value) if calls else None
            threshold = config.thresholds.get(metric)
            add(metric, lat, above(lat, threshold), calls, threshold=threshold)
        add("throughput", volume / size_s, Status.INFO, volume)
        ratio = errors / calls if calls else None
        threshold = config.thresholds.get("error_ratio")
        add(
            "error_ratio",
            ratio,
            above(ratio, threshold),
            calls,
            threshold=threshold,
            details={"calls": calls, "errors": errors},
        )
        add("volume", float(volume), Status.INFO, volume)
        ratio, status, baseline = volume_ratio(volume, key_value, counts, spec, first_seen, config)
        add(
            "volume_ratio",
            ratio,
            status,
            volume,
            details={
                "baseline": baseline,
                "spike": config.volume_spike,
                "drop": config.volume_drop,
            },
        )
        if seen is not None:
            add("last_seen", seen / 1e9, Status.INFO, volume)
            staleness = max(0.0, (w_end - seen) / 1e9)
            limit = config.max_staleness_s
            add("staleness", staleness, above(staleness, limit), volume, threshold=limit)
        for label, count in shares.get(key_value, []):
            share = count / volume if volume else None
            add(
                "prediction_share",
                share,
                Status.INFO,
                volume,
                feature=label,
                details={"count": count},
            )
    return records


def volume_ratio(
    volume: int,
    key: int,
    counts: Mapping[int, int],
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
    baseline = sum(int(counts.get(b, 0)) for b in keys) / len(keys)
    if baseline == 0:
        return None, Status.NO_DATA, baseline
    ratio = volume / baseline
    if ratio >= config.volume_spike or ratio <= config.volume_drop:
        return ratio, Status.ALERT, baseline
    return ratio, Status.OK, baseline
