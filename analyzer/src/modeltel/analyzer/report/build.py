"""Gather a model health report: one model version over a week or a month.

The period ends at ``end`` (default: the end of the model's latest analysed window, else
now) and starts 7 (``week``) or 30 (``month``) days earlier. Verdicts come from each
kind's latest window with data, and trends count non-overlapping windows
(:mod:`~modeltel.analyzer.report.periods`). Everything comes from
``ml_results`` plus two counts over ``ml_predictions``/``ml_labels``, so a report's size
depends on the number of windows and features, never on the number of predictions; and
"what changed" is the explanation of the latest hour of data before the period's end against
the hour before (:func:`~modeltel.analyzer.orchestration.explain.latest.latest_explanation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from modeltel.analyzer.analyses.performance.config import PerformanceConfig
from modeltel.analyzer.base.config import load_config
from modeltel.analyzer.base.errors import ConfigError, ModeltelError
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.orchestration import health as health_module
from modeltel.analyzer.orchestration.explain import Explanation
from modeltel.analyzer.orchestration.explain.latest import latest_explanation
from modeltel.analyzer.report.periods import judged_until, report_view
from modeltel.analyzer.report.recommend import (
    Recommendation,
    drift_counts,
    latest_drifted,
    recommendations,
)
from modeltel.analyzer.web.data import ModelView, model_view, resolve_version

PERIODS = {"week": 7, "month": 30}


@dataclass
class Report:
    """Everything a report shows; :func:`modeltel.analyzer.report.html.render_html` draws it."""

    model: str
    version: str
    period: str
    start: datetime
    end: datetime
    generated_at: datetime
    view: ModelView
    health: health_module.HealthScore
    recommendations: list[Recommendation]
    predictions: int
    labels: int
    drift: dict[str, tuple[int, int]]
    drifted_now: list[str]
    judged_until: datetime | None = None
    """The end of the latest window with data that the verdicts come from."""
    last_prediction: datetime | None = None
    explanation: Explanation | None = None
    """What changed in the latest hour of data (None when it could not be computed)."""
    explanation_error: str = ""
    """Why there is no explanation."""

    @property
    def retrain(self) -> bool:
        return any(r.severity == "retrain" for r in self.recommendations)


def period_days(period: str) -> int:
    """Days in a named period; ConfigError for an unknown name."""
    try:
        return PERIODS[period]
    except KeyError:
        raise ConfigError(
            f"unknown period {period!r}; choose one of {', '.join(PERIODS)}"
        ) from None


def _period_end(store: Store, model: str, version: str) -> datetime:
    rows = store.query_rows(
        "SELECT max(window_end), count() FROM ml_results "
        "WHERE model = {m:String} AND version = {v:String}",
        parameters={"m": model, "v": version},
    )
    if rows and rows[0][1]:
        last = rows[0][0]
        return last.replace(tzinfo=UTC) if last.tzinfo is None else last.astimezone(UTC)
    return datetime.now(UTC)


def _counts(
    store: Store, model: str, version: str, start: datetime, end: datetime
) -> tuple[int, int]:
    params: dict[str, Any] = {"m": model, "v": version, "s": start, "e": end}
    predictions = store.query_rows(
        "SELECT count() FROM ml_predictions WHERE model = {m:String} AND version = {v:String} "
        "AND timestamp >= {s:DateTime64(3)} AND timestamp < {e:DateTime64(3)}",
        parameters=params,
    )[0][0]
    labels = store.query_rows(
        "SELECT count() FROM ml_labels FINAL WHERE model = {m:String} AND id_key IN ("
        " SELECT id_key FROM ml_predictions WHERE model = {m:String} AND "
        " version = {v:String} AND timestamp >= {s:DateTime64(3)}"
        " AND timestamp < {e:DateTime64(3)})",
        parameters=params,
    )[0][0]
    return int(predictions), int(labels)


def build_report(
    store: Store,
    model: str,
    version: str | None = None,
    *,
    period: str = "week",
    end: datetime | None = None,
) -> Report:
    """Collect the report of ``model`` (its latest version unless ``version``).

    Raises :class:`NotFoundError` for an unknown model/version and :class:`ConfigError` for
    an unknown period.
    """
    days = period_days(period)
    version = resolve_version(store, model, version)
    if end is None:
        end = _period_end(store, model, version)
    end = end.replace(tzinfo=UTC) if end.tzinfo is None else end.astimezone(UTC)
    start = end - timedelta(days=days)
    view = report_view(model_view(store, model, version, since=start, until=end))
    stored = [r for r in view.latest.get("health", []) if r["metric"] == "health_score"]
    # every segment's records, as the stored health score counts them
    latest_records = [r for records in view.latest_segmented.values() for r in records]
    health = health_module.health_score(
        [r for r in latest_records if r["kind"] != health_module.KIND]
    )
    if stored and stored[0]["value"] is not None and health.score is None:
        value = float(stored[0]["value"])
        health = health_module.HealthScore(value, health_module.status_of(value))
    predictions, labels = _counts(store, model, version, start, end)
    explanation, explanation_error = _explanation(store, model, version, end)
    return Report(
        model=model,
        version=version,
        period=period,
        start=start,
        end=end,
        generated_at=datetime.now(UTC),
        view=view,
        health=health,
        recommendations=recommendations(view, explanation),
        predictions=predictions,
        labels=labels,
        drift=drift_counts(view),
        drifted_now=latest_drifted(view),
        judged_until=judged_until(view),
        last_prediction=view.summary.get("last_seen"),
        explanation=explanation,
        explanation_error=explanation_error,
    )


def _explanation(
    store: Store, model: str, version: str, end: datetime
) -> tuple[Explanation | None, str]:
    """The latest explanation of the predictions before ``end``, or why there is none."""
    try:
        performance = PerformanceConfig.load(load_config())
        found = latest_explanation(store, model, version, performance=performance, until=end)
    except ModeltelError as exc:
        return None, str(exc)
    return found, ""
