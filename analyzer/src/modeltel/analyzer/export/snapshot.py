"""The latest value of every result series in ``ml_results``, as gauge observations.

A *series* is one (model, version, kind, segment, feature, method, metric, source). Its
latest value is the one of its newest window (newest computation breaking ties, so recomputed
windows win), as ``ml_results_latest`` keeps it. Series whose newest window ended more than
``max_age`` ago are left out: a feature that stopped arriving does not keep its last drift
score for ever.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modeltel.analyzer.analyses import ANALYSES
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.export.catalog import Observation, observations
from modeltel.analyzer.orchestration import health

DEFAULT_MAX_AGE_S = 86_400.0

_LATEST_SQL = """
SELECT model, version, kind, segment, feature, method, metric, source,
       value, threshold, status, window_end
FROM ml_results_latest FINAL
WHERE window_end >= {since:DateTime64(3)}
  AND has({kinds:Array(String)}, kind)
  AND ({model:String} = '' OR model = {model:String})
  AND ({version:String} = '' OR version = {version:String})
ORDER BY model, version, kind, feature, method, metric
"""


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


def latest_records(
    store: Store,
    *,
    max_age_s: float = DEFAULT_MAX_AGE_S,
    now: float | None = None,
    model: str = "",
    version: str = "",
) -> list[dict[str, Any]]:
    """One record per result series of a registered analysis or the health score (of
    ``model``/``version`` when given): its newest value, threshold, status and window end."""
    now = time.time() if now is None else now
    since = datetime.fromtimestamp(now - max_age_s, UTC)
    kinds = [*ANALYSES, health.KIND]
    params = {"since": since, "model": model, "version": version, "kinds": kinds}
    frame = store.query_df(_LATEST_SQL, parameters=params)
    if frame.empty:
        return []
    frame = frame.astype(object).where(frame.notna(), None)
    return list(frame.to_dict("records"))


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
