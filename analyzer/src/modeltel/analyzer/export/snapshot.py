"""The latest value of every result series (:mod:`modeltel.analyzer.orchestration.latest`),
as gauge observations.

Each segment of a version's records is a value of the ``ml.segment`` label: a version publishes
at most :data:`MAX_PUBLISHED_SEGMENTS` of them (:func:`published_segments`), so that segments
configured on many dimensions cannot make ``/metrics`` explode. Every record stays in
``ml_results`` and the API.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modeltel.analyzer.base.results import severity
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.export.catalog import Observation, observations
from modeltel.analyzer.orchestration.latest import DEFAULT_MAX_AGE_S, latest_records


@dataclass(frozen=True)
class Snapshot:
    """Gauge observations by gauge name, and when they were read (unix seconds)."""

    taken_at: float = 0.0
    by_gauge: Mapping[str, list[Observation]] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_gauge.values())

    def values(self, gauge: str) -> list[Observation]:
        return list(self.by_gauge.get(gauge, ()))

    @property
    def models(self) -> set[tuple[str, str]]:
        return {
            (o.attributes["ml.model.name"], o.attributes["ml.model.version"])
            for obs in self.by_gauge.values()
            for o in obs
        }


MAX_PUBLISHED_SEGMENTS = 100
"""The most segments of one model version published as gauge series."""

Record = Mapping[str, Any]


def published_segments(
    records: Iterable[Record], most: int = MAX_PUBLISHED_SEGMENTS
) -> dict[tuple[str, str], set[str]]:
    """Per (model, version) with more than ``most`` segments, the ``most`` published: those
    whose worst record is worst first (alert or drift, then warning), then by name."""
    worst: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for r in records:
        segment = r.get("segment") or ""
        if segment:
            seen = worst[(str(r["model"]), str(r["version"]))]
            seen[segment] = max(seen.get(segment, 0), severity(r.get("status")))
    return {
        version: set(sorted(by, key=lambda s: (-by[s], s))[:most])
        for version, by in worst.items()
        if len(by) > most
    }


def build_snapshot(
    records: Iterable[Record],
    taken_at: float | None = None,
    most_segments: int = MAX_PUBLISHED_SEGMENTS,
) -> Snapshot:
    """Turn result records into gauge observations (one series keeps its last observation),
    at most ``most_segments`` segments per version (:func:`published_segments`)."""
    records = list(records)
    bounded = published_segments(records, most_segments)
    by_gauge: dict[str, dict[tuple[tuple[str, str], ...], Observation]] = defaultdict(dict)
    for record in records:
        kept = bounded.get((str(record["model"]), str(record["version"])))
        if kept is not None and record.get("segment") and record["segment"] not in kept:
            continue
        for obs in observations(record):
            key = tuple(sorted(obs.attributes.items()))
            by_gauge[obs.gauge][key] = obs
    return Snapshot(
        taken_at=time.time() if taken_at is None else taken_at,
        by_gauge={name: list(series.values()) for name, series in by_gauge.items()},
    )


def read_snapshot(
    store: Store, *, max_age_s: float = DEFAULT_MAX_AGE_S, now: float | None = None
) -> Snapshot:
    """The snapshot of ``store``'s latest results."""
    return build_snapshot(latest_records(store, max_age_s=max_age_s, now=now), taken_at=now)
