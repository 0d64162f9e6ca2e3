"""The latest value of every result series (:mod:`modeltel.analyzer.orchestration.latest`),
as gauge observations."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

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


def build_snapshot(records: Iterable[Mapping[str, Any]], taken_at: float | None = None) -> Snapshot:
    """Turn result records into gauge observations (one series keeps its last observation)."""
    by_gauge: dict[str, dict[tuple[tuple[str, str], ...], Observation]] = defaultdict(dict)
    for record in records:
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
