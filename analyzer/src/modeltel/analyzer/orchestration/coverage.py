"""What the stored results already cover: per model version, whether anything arrived since
its latest analysis, and which window holds its latest traffic.

A version *has news* when it was never analysed, when it has a prediction at or after the
point its results reach, or when a label of its model was received after its latest analysis
was computed. Its results reach, per analysis kind, the end of its latest window with a
result that is not ``no_data`` (no later than the moment it was computed: a window may end in
the future), and the version's results reach the earliest of those (health records aside). The loop
analyses a version with news and, for one without, only moves its staleness on
(:mod:`modeltel.analyzer.orchestration.loop`). Times compared are the store's own
(``ml_labels.received_at`` and ``ml_results.computed_at`` both default to the store's clock).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window, floor_time, utc
from modeltel.analyzer.orchestration.health import KIND as HEALTH

_PREDICTIONS_SQL = """
SELECT model, version, max(timestamp) FROM ml_predictions
WHERE timestamp >= {since:DateTime64(3)}
GROUP BY model, version
"""

_ANALYSED_SQL = """
SELECT model, version, min(through), max(at) FROM (
    SELECT model, version, kind, max(least(window_end, computed_at)) AS through,
           max(computed_at) AS at
    FROM ml_results_latest FINAL
    WHERE window_end >= {since:DateTime64(3)} AND kind != {health:String}
      AND status != 'no_data'
    GROUP BY model, version, kind
)
GROUP BY model, version
"""

_LABELS_SQL = """
SELECT model, max(received_at) FROM ml_labels
WHERE received_at >= {since:DateTime64(3)}
GROUP BY model
"""


@dataclass(frozen=True)
class Coverage:
    """One version's latest prediction, how far its results reach and when they were made,
    and its model's latest label reception (UTC; ``None`` when there is none)."""

    last_prediction: datetime | None
    analysed_through: datetime | None
    analysed_at: datetime | None
    last_label_received: datetime | None

    @property
    def has_news(self) -> bool:
        """True when predictions or labels arrived that no stored analysis has seen."""
        if self.analysed_through is None or self.analysed_at is None:
            return True
        if self.last_prediction is not None and self.last_prediction >= self.analysed_through:
            return True
        return self.last_label_received is not None and self.last_label_received > self.analysed_at

    def needs_analysis(self, trailing: Window) -> bool:
        """True when a cycle over ``trailing`` should run every analysis: the version
        :attr:`has_news`, or ``trailing`` ends before its latest prediction (a cycle asked
        about the past, as a backfill is, analyses what it is asked)."""
        last = self.last_prediction
        return self.has_news or (last is not None and trailing.end <= last)

    def traffic_window(self, trailing: Window, step_s: float) -> Window:
        """``trailing`` when the version's latest prediction is inside it (or it has none);
        else the window of the same length ending at the first ``step_s`` boundary after that
        prediction, so a paused or batch-scored version is analysed on its latest traffic
        instead of on an empty window."""
        last = self.last_prediction
        if last is None or last >= trailing.start:
            return trailing
        step = max(step_s, 1.0)
        end = floor_time(last, step) + timedelta(seconds=step)
        return Window(end - timedelta(seconds=trailing.seconds), end)


def coverage(
    store: Store, versions: Iterable[tuple[str, str]], since: datetime
) -> dict[tuple[str, str], Coverage]:
    """:class:`Coverage` of each of ``versions``, looking back to ``since`` (three grouped
    queries, whatever the number of versions)."""
    params = {"since": utc(since).replace(tzinfo=None), "health": HEALTH}
    last = {
        (str(m), str(v)): t for m, v, t in store.query_rows(_PREDICTIONS_SQL, parameters=params)
    }
    analysed = {
        (str(m), str(v)): (end, at)
        for m, v, end, at in store.query_rows(_ANALYSED_SQL, parameters=params)
    }
    labels = {str(m): t for m, t in store.query_rows(_LABELS_SQL, parameters=params)}
    out = {}
    for model, version in versions:
        end, at = analysed.get((model, version), (None, None))
        out[(model, version)] = Coverage(
            last_prediction=_aware(last.get((model, version))),
            analysed_through=_aware(end),
            analysed_at=_aware(at),
            last_label_received=_aware(labels.get(model)),
        )
    return out


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else utc(moment)
