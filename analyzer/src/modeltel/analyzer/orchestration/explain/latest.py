"""A model version's explanation "now", as the page, the report and the retrain webhook show it:
its default explained metric (accuracy for a classifier, mae for a regressor; see
:func:`~.metrics.explained_metric`) in its latest window of data against the window before.

The latest window is ``window_s`` long (default one hour, the analysis loop's default window)
and ends at the minute after the version's last prediction, so a model whose traffic paused
is explained on its last traffic rather than on an empty hour.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modeltel.analyzer.analyses.performance.config import PerformanceConfig
from modeltel.analyzer.base.errors import NotFoundError
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window, floor_time
from modeltel.analyzer.orchestration.explain import Explanation, explain

DEFAULT_WINDOW_S = 3600.0
"""The latest window's length when none is given."""


def data_end(store: Store, model: str, version: str, until: datetime | None = None) -> datetime:
    """The minute after the version's last prediction (before ``until`` when given); raises
    :class:`NotFoundError` when it has none."""
    rows = store.query_rows(
        "SELECT count(), max(timestamp) FROM ml_predictions WHERE model = {m:String} "
        "AND version = {v:String} AND timestamp < {u:DateTime64(3)}",
        parameters={"m": model, "v": version, "u": until or datetime(2200, 1, 1, tzinfo=UTC)},
    )
    if not rows or not rows[0][0]:
        before = f" before {until.isoformat()}" if until is not None else ""
        raise NotFoundError(f"model {model!r} version {version!r} has no predictions{before}")
    last = rows[0][1]
    last = last.replace(tzinfo=UTC) if last.tzinfo is None else last.astimezone(UTC)
    return floor_time(last, 60) + timedelta(minutes=1)


def latest_windows(
    end: datetime, window_s: float = DEFAULT_WINDOW_S, windows_back: int = 1
) -> tuple[Window, Window]:
    """(before, after): the window of ``window_s`` ending at ``end``, and the one as long
    ending ``windows_back - 1`` windows before it starts (1: the window just before)."""
    step = timedelta(seconds=window_s)
    after = Window(end - step, end)
    before_end = after.start - (windows_back - 1) * step
    return Window(before_end - step, before_end), after


def latest_explanation(
    store: Store,
    model: str,
    version: str,
    *,
    metric: str | None = None,
    performance: PerformanceConfig | None = None,
    end: datetime | None = None,
    until: datetime | None = None,
    window_s: float = DEFAULT_WINDOW_S,
    windows_back: int = 1,
    top: int = 10,
) -> Explanation:
    """The :class:`Explanation` of ``metric`` (default: the model's default explained metric)
    between the windows of :func:`latest_windows` ending at ``end`` (default:
    :func:`data_end` of the predictions before ``until``). ``performance``: the configuration's
    ``performance`` section (its ``models.<model>`` overrides are applied here). Raises
    :class:`NotFoundError` (no predictions, no labels in a window) or :class:`ConfigError`
    (a metric the model's task has not)."""
    if end is None:
        end = data_end(store, model, version, until)
    before, after = latest_windows(end, window_s, windows_back)
    config = (performance or PerformanceConfig()).for_model(model)
    return explain(store, model, version, before, after, metric=metric, config=config, top=top)
