"""The latest value of every result series in ``ml_results``.

A *series* is one (model, version, kind, segment, feature, method, metric, source) of a
registered analysis or of the health score. Its latest value is the one of its newest window
(newest computation breaking ties, so recomputed windows win), as ``ml_results_latest`` keeps
it. Series whose newest window ended more than ``max_age`` ago are left out: a feature that
stopped arriving does not keep its last drift score for ever. The loop scores health from
these records; ``/metrics`` publishes them (:mod:`modeltel.analyzer.export.snapshot`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from modeltel.analyzer.analyses import ANALYSES
from modeltel.analyzer.base.store import Store
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
  AND (empty({versions:Array(Tuple(String, String))})
       OR has({versions:Array(Tuple(String, String))}, (model, version)))
ORDER BY model, version, kind, feature, method, metric
"""


def latest_records(
    store: Store,
    *,
    max_age_s: float = DEFAULT_MAX_AGE_S,
    now: float | None = None,
    model: str = "",
    version: str = "",
    versions: Sequence[tuple[str, str]] = (),
) -> list[dict[str, Any]]:
    """One record per result series of a registered analysis or the health score (of
    ``model``/``version`` when given, of the (model, version) pairs ``versions`` when given):
    its newest value, threshold, status and window end, ordered by model and version."""
    now = time.time() if now is None else now
    since = datetime.fromtimestamp(now - max_age_s, UTC)
    kinds = [*ANALYSES, health.KIND]
    params = {
        "since": since,
        "model": model,
        "version": version,
        "kinds": kinds,
        "versions": [tuple(v) for v in versions],
    }
    frame = store.query_df(_LATEST_SQL, parameters=params)
    if frame.empty:
        return []
    frame = frame.astype(object).where(frame.notna(), None)
    return list(frame.to_dict("records"))
