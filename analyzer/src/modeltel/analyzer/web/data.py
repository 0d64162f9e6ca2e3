"""What the web page and the reports show, gathered from the store as small aggregates.

:func:`list_models` answers ``GET /api/models`` and the page's model table: every model
version seen in predictions, references or results, with its prediction count, first and
last prediction time, labels received, latest health score and drift state.
:func:`model_view` gathers one model version's history from ``ml_results`` (drift, performance,
service, quality and health records over a period) plus its reference-vs-current histograms.
Nothing here reads raw prediction rows into Python: counts, extremes and result records only.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from modeltel.analyzer.analyses import ANALYSES
from modeltel.analyzer.base import listings
from modeltel.analyzer.base.analysis import MetricSpec
from modeltel.analyzer.base.errors import ModeltelError, NotFoundError
from modeltel.analyzer.base.results import Status, read_results, severity
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window, floor_time
from modeltel.analyzer.orchestration import health as health_module
from modeltel.analyzer.orchestration.explain import Explanation
from modeltel.analyzer.orchestration.explain.latest import latest_explanation
from modeltel.analyzer.web.page_analyzer import Kept, page_analyzer
from modeltel.analyzer.web.segments import Segment, segment_records, segments_of

logger = logging.getLogger(__name__)


def _none(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _utc(value: Any) -> datetime | None:
    value = _none(value)
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def _details(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a results frame as dicts: missing values None, window bounds aware UTC
    datetimes (converted column by column: a page reads thousands of records)."""
    if frame.empty:
        return []
    frame = frame.copy()
    for key in ("window_start", "window_end"):
        if key in frame:
            stamps = pd.to_datetime(frame[key], utc=True)
            frame[key] = pd.Series(stamps.dt.to_pydatetime(), index=frame.index, dtype=object)
    return list(frame.astype(object).where(frame.notna(), None).to_dict("records"))


# -- the model list --------------------------------------------------------------------------


def list_models(store: Store) -> list[dict[str, Any]]:
    """One entry per (model, version): counts, times, labels, health and latest drift state."""
    labels = listings.label_counts(store)
    latest = _records(read_results(store, latest_window_only=True))
    entries: dict[tuple[str, str], dict[str, Any]] = {}

    def entry(model: str, version: str) -> dict[str, Any]:
        key = (model, version)
        if key not in entries:
            entries[key] = {
                "model": model,
                "version": version,
                "task": None,
                "predictions": 0,
                "errors": 0,
                "first_seen": None,
                "last_seen": None,
                "labels": int(labels.get(model, 0)),
                "references": [],
                "reference_features": 0,
                "health_score": None,
                "health_status": "no_data",
                "health_reasons": [],
                "retrain_recommended": None,
                "drifted_features": 0,
                "features_checked": 0,
                "last_analyzed": None,
                "health_window_end": None,
                "no_predictions_since": None,
                "stale": False,
            }
        return entries[key]

    for seen in listings.activity(store):
        entry(seen.model, seen.version).update(
            predictions=seen.predictions,
            errors=seen.errors,
            first_seen=_utc(seen.first_seen),
            last_seen=_utc(seen.last_seen),
            task=seen.task,
        )
    for (model, version), summary in listings.reference_summaries(store).items():
        entry(model, version).update(summary)
    by_version: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in latest:
        by_version.setdefault((record["model"], record["version"]), []).append(record)
    for key, records in by_version.items():
        entry(*key).update(_latest_summary(records))
    for key, (newest_start, staleness) in _freshness(store).items():
        found = entries.get(key)
        if found is None:
            continue
        seen = found["last_seen"]
        if seen is not None and newest_start is not None and newest_start > seen:
            found["no_predictions_since"] = seen
        found["stale"] = staleness in (Status.ALERT, Status.WARNING)
    return sorted(entries.values(), key=lambda e: (e["model"], e["version"]))


def _freshness(store: Store) -> dict[tuple[str, str], tuple[datetime | None, str | None]]:
    """Per (model, version): the start of its newest analysed window and the status of its
    latest ``service`` ``staleness`` record (None without one), from ``ml_results_latest``
    (each series' newest record: the newest window is among them)."""
    rows = store.query_rows(
        "SELECT model, version, max(window_start), "
        "argMaxIf(status, window_end, kind = 'service' AND metric = 'staleness'), "
        "countIf(kind = 'service' AND metric = 'staleness') "
        "FROM ml_results_latest FINAL GROUP BY model, version"
    )
    return {
        (str(model), str(version)): (_utc(start), str(status) if counted else None)
        for model, version, start, status, counted in rows
    }


def _latest_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Health, retrain flag and drift counts from one version's latest records."""
    summary: dict[str, Any] = {}
    health = [r for r in records if r["kind"] == health_module.KIND]
    stored = [r for r in health if r["metric"] == "health_score"]
    retrain = [r for r in health if r["metric"] == "retrain_recommended"]
    if stored and stored[0]["value"] is not None:
        summary["health_score"] = float(stored[0]["value"])
        summary["health_status"] = stored[0]["status"]
        summary["health_reasons"] = list(_details(stored[0]["details"]).get("reasons", []))
        summary["health_window_end"] = stored[0]["window_end"]
    else:
        computed = health_module.health_score(
            [r for r in records if r["kind"] != health_module.KIND]
        )
        summary["health_score"] = computed.score
        summary["health_status"] = computed.status
        summary["health_reasons"] = list(computed.reasons)
    if retrain:
        summary["retrain_recommended"] = bool(retrain[0]["value"])
    drift = [  # the version's own drift: a segment's is not the version's
        r
        for r in records
        if r["kind"] == "drift"
        and r["feature"]
        and not r.get("segment")
        and not str(r["feature"]).startswith("prediction.")
    ]
    features = {r["feature"] for r in drift}
    drifted = {r["feature"] for r in drift if r["status"] == "drift"}
    summary["drifted_features"] = len(drifted)
    summary["features_checked"] = len(features)
    ends = [r["window_end"] for r in records if r["window_end"] is not None]
    now = datetime.now(UTC)  # a window still open (late labels re-scored) ends in the future
    summary["last_analyzed"] = min(max(ends), now) if ends else None
    summary.setdefault("health_window_end", summary["last_analyzed"])
    return summary


def resolve_version(store: Store, model: str, version: str | None = None) -> str:
    """``version``, or the model's version with the latest prediction (else latest result)."""
    versions = listings.known_versions(store, model)
    if not versions:
        raise NotFoundError(f"no model named {model!r} has predictions, references or results")
    if version is None:
        return str(versions[0])
    if version not in versions:
        raise NotFoundError(
            f"model {model!r} has no version {version!r} (versions: {', '.join(versions)})"
        )
    return version


# -- the page's time range --------------------------------------------------------------------

RANGES: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
"""The ``range`` values of the model page: the last N of the version's data."""
RANGE_TEXT = {"1h": "1 h", "6h": "6 h", "24h": "24 h", "7d": "7 d", "30d": "30 d"}
COMPARES = ("reference", "previous")
"""``compare``: the uploaded reference, or the production data of the period just before."""


class RangeError(ValueError):
    """A range parameter of the model page is not valid; the message names it and the
    accepted values."""


@dataclass(frozen=True)
class RangeRequest:
    """The range asked in the URL, checked but not yet placed in time: ``name`` is a
    :data:`RANGES` key or ``custom`` (then ``start``/``end`` are set)."""

    name: str
    compare: str = "reference"
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class TimeRange:
    """The page's period ``[since, until)`` (UTC) and what its drift compares with."""

    name: str
    since: datetime
    until: datetime
    compare: str = "reference"

    @property
    def span(self) -> timedelta:
        return self.until - self.since

    @property
    def previous(self) -> tuple[datetime, datetime]:
        """The equal-length period just before: ``[since − span, since)``."""
        return self.since - self.span, self.since

    def describe(self) -> str:
        """One line saying what the page shows, e.g. ``last 24 h of data, up to … UTC``."""

        def at(moment: datetime) -> str:
            return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")

        if self.name in RANGE_TEXT:
            return f"last {RANGE_TEXT[self.name]} of data, up to {at(self.until)}"
        return f"from {at(self.since)} to {at(self.until)}"

    def query(self) -> dict[str, str]:
        """The URL parameters that ask for this range again."""
        params = (
            {"range": self.name}
            if self.name in RANGES
            else {
                "from": self.since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"),
                "to": self.until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"),
            }
        )
        if self.compare != "reference":
            params["compare"] = self.compare
        return params


def _moment(name: str, text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise RangeError(
            f"{name}={text!r} is not a date: give a UTC time like 2026-12-01T00:00"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_range(
    range_: str | None = None,
    start: str | None = None,
    end: str | None = None,
    compare: str | None = None,
) -> RangeRequest | None:
    """The range the URL asks for (empty values count as absent), None for the default page.

    ``range`` is one of :data:`RANGES` (``from``/``to`` are then ignored) or ``custom``;
    ``from`` and ``to`` (UTC, ISO) give a custom range; ``compare`` is one of
    :data:`COMPARES` (alone it applies to the last 7 days). Raises :class:`RangeError`.
    """
    range_, start, end, compare = (
        v.strip() if v and v.strip() else None for v in (range_, start, end, compare)
    )
    if compare is not None and compare not in COMPARES:
        raise RangeError(f"compare={compare!r} is not known: use one of {', '.join(COMPARES)}")
    chosen = compare or "reference"
    if range_ is not None and range_ != "custom":
        if range_ not in RANGES:
            raise RangeError(
                f"range={range_!r} is not known: use one of {', '.join(RANGES)} "
                "or from=…&to=… (UTC, e.g. 2026-12-01T00:00)"
            )
        return RangeRequest(range_, chosen)
    if start is None and end is None:
        if range_ == "custom":
            raise RangeError("range=custom needs from and to (UTC, e.g. 2026-12-01T00:00)")
        return RangeRequest("7d", chosen) if compare is not None else None
    if start is None or end is None:
        missing = "from" if start is None else "to"
        raise RangeError(f"{missing} is missing: a custom range needs both from and to (UTC)")
    since, until = _moment("from", start), _moment("to", end)
    if since >= until:
        raise RangeError(f"from ({start}) must be before to ({end})")
    return RangeRequest("custom", chosen, since, until)


def data_end(store: Store, model: str, version: str) -> datetime | None:
    """Where "last N" ranges end: just after the version's last prediction (the next whole
    minute), else the end of its latest result; None when it has neither."""
    rows = store.query_rows(
        "SELECT (SELECT max(timestamp) FROM ml_predictions WHERE model = {m:String} "
        "AND version = {v:String}), (SELECT max(window_end) FROM ml_results "
        "WHERE model = {m:String} AND version = {v:String})",
        parameters={"m": model, "v": version},
    )
    last, result_end = (_utc(v) for v in rows[0]) if rows else (None, None)
    if last is not None and last.year > 1970:
        return floor_time(last, 60) + timedelta(minutes=1)
    if result_end is not None and result_end.year > 1970:
        return result_end
    return None


def place_range(store: Store, model: str, version: str, asked: RangeRequest) -> TimeRange:
    """``asked`` placed in time: a custom range as given, "last N" ending at
    :func:`data_end` (now when the version has no data)."""
    if asked.start is not None and asked.end is not None:
        return TimeRange(asked.name, asked.start, asked.end, asked.compare)
    end = data_end(store, model, version) or floor_time(datetime.now(UTC), 60)
    return TimeRange(asked.name, end - RANGES[asked.name], end, asked.compare)


HISTOGRAM_TTL_S = 60.0
"""A self-refreshing page asks again every 30 s: a window's bins and a range's drift are kept
this long."""
_HISTOGRAMS = Kept(HISTOGRAM_TTL_S)
_RANGE_DRIFT = Kept(HISTOGRAM_TTL_S)


def range_drift(
    store: Store, model: str, version: str, chosen: TimeRange
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Drift records and histograms computed for ``chosen`` itself by
    :meth:`Analyzer.drift` / :meth:`Analyzer.histograms` (not written), against the reference
    or, with ``compare=previous``, the version's production data of :attr:`TimeRange.previous`.
    Kept :data:`HISTOGRAM_TTL_S` per store, version and range; raises :class:`ModeltelError`.
    """
    key = (store.url, store.database, model, version, chosen.since, chosen.until, chosen.compare)
    cached: tuple[list[dict[str, Any]], dict[str, dict[str, Any]]] | None = _RANGE_DRIFT.get(key)
    if cached is not None:
        return cached
    window = Window(chosen.since, chosen.until)
    reference_window = Window(*chosen.previous) if chosen.compare == "previous" else None
    analyzer, lock = page_analyzer(store)
    with lock:
        frame = analyzer.drift(
            model, version, window=window, reference_window=reference_window, write=False
        )
        records = _records(frame)
        try:
            bins = analyzer.histograms(model, version, window, reference_window=reference_window)
        except ModeltelError as exc:
            logger.warning("range histograms of %s/%s: %s", model, version, exc)
            bins = {}
    answer = (records, bins)
    _RANGE_DRIFT.put(key, answer)
    return answer


def range_view(
    store: Store,
    model: str,
    version: str | None,
    asked: RangeRequest | None,
    segment: str = "",
) -> ModelView:
    """:func:`model_view` of the range ``asked`` (the default page when None) and of
    ``segment``: the records of the range, and its drift table and histograms computed for
    the range itself over all traffic (:func:`range_drift`; a failure is said in
    ``range_note``, the rest is shown), and its explanation (:func:`explain_view`)."""
    if asked is None:
        view = model_view(store, model, version, segment=segment)
        explain_view(store, view)
        return view
    version = resolve_version(store, model, version)
    chosen = place_range(store, model, version, asked)
    view = model_view(
        store,
        model,
        version,
        since=chosen.since,
        until=chosen.until,
        with_histograms=False,
        segment=segment,
    )
    view.time_range = chosen
    explain_view(store, view)
    if view.segment:
        view.unsplit.add("drift")
    try:
        drift, view.histograms = range_drift(store, model, version, chosen)
    except ModeltelError as exc:
        view.latest.pop("drift", None)
        view.range_note = f"drift not computed for this range: {exc}"
        return view
    if drift:
        view.latest["drift"] = drift
    else:
        view.latest.pop("drift", None)
    return view


_EXPLANATIONS = Kept(HISTOGRAM_TTL_S)


def explain_view(store: Store, view: ModelView) -> None:
    """Set ``view.explanation`` to :func:`latest_explanation` of its version (the latest
    window of data up to the end of its range), or ``view.explanation_note`` to the reason it
    cannot be computed (no predictions, no labels …). Kept :data:`HISTOGRAM_TTL_S`."""
    until = view.time_range.until if view.time_range is not None else None
    key = (store.url, store.database, view.model, view.version, until)
    kept: tuple[Explanation | None, str] | None = _EXPLANATIONS.get(key)
    if kept is None:
        try:
            analyzer, _ = page_analyzer(store)
            performance = analyzer.settings["performance"]
            found = latest_explanation(
                store, view.model, view.version, performance=performance, until=until
            )
            kept = (found, "")
        except ModeltelError as exc:
            kept = (None, str(exc))
        _EXPLANATIONS.put(key, kept)
    view.explanation, view.explanation_note = kept


# -- one model ---------------------------------------------------------------------------------


@dataclass
class ModelView:
    """One model version over a period: every result record plus the derived tables.

    ``records`` are all result records in ``[since, until)``, oldest window first;
    ``latest`` maps each kind to the records of its most recent window.
    """

    model: str
    version: str
    versions: list[str]
    since: datetime | None
    until: datetime | None
    records: list[dict[str, Any]]
    latest: dict[str, list[dict[str, Any]]]
    summary: dict[str, Any]
    histograms: dict[str, dict[str, Any]] = field(default_factory=dict)
    time_range: TimeRange | None = None
    range_note: str = ""
    explanation: Explanation | None = None
    """What changed in the latest window (:func:`explain_view`)."""
    explanation_note: str = ""
    """Why there is no explanation, when it could not be computed."""
    segment: str = ""
    """The segment shown (``dimension=value``), ``""`` for all traffic: ``records`` are then
    its records (see :func:`~modeltel.analyzer.web.segments.segment_records`)."""
    segments: list[Segment] = field(default_factory=list)
    """The segments of the latest windows (:func:`~modeltel.analyzer.web.segments.segments_of`)."""
    unsplit: set[str] = field(default_factory=set)
    """The kinds not split by ``segment``, shown over all traffic."""
    segment_note: str = ""
    """Why the segment asked for is not shown."""
    latest_segmented: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Per kind, the records of its latest window, of every segment."""

    def of(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        """Records of ``kind`` whose fields equal ``match``."""
        return [
            r
            for r in self.records
            if r["kind"] == kind and all(r.get(k) == v for k, v in match.items())
        ]

    @property
    def task(self) -> str | None:
        return self.summary.get("task")

    def drift_table(self) -> list[dict[str, Any]]:
        """Latest drift records of features and predictions, worst first."""
        rows = [r for r in self.latest.get("drift", []) if r["feature"]]
        undecided = {Status.INFO: 1, Status.NO_DATA: 2}  # after the decided ones
        return sorted(
            rows,
            key=lambda r: (
                -severity(r["status"]),
                undecided.get(r["status"], 0),
                str(r["feature"]),
            ),
        )

    def drift_share(self) -> dict[str, Any] | None:
        shares = [r for r in self.latest.get("drift", []) if r["method"] == "share"]
        return shares[0] if shares else None

    def quality_table(self) -> list[dict[str, Any]]:
        """Per feature: its latest quality metrics and worst status."""
        table: dict[str, dict[str, Any]] = {}
        for r in self.latest.get("quality", []):
            name = r["feature"] or "(all features)"
            row = table.setdefault(name, {"feature": name, "status": "ok"})
            row[r["metric"]] = r["value"]
            if severity(r["status"]) > severity(row["status"]):
                row["status"] = r["status"]
        return sorted(table.values(), key=lambda row: (-severity(row["status"]), row["feature"]))

    def metrics(self, kind: str, component: str | None = None) -> list[MetricSpec]:
        """The catalogue entries of ``kind`` present in the records, in catalogue order
        (only those counting toward the health ``component`` when given)."""
        present = {r["metric"] or r["method"] for r in self.records if r["kind"] == kind}
        return [
            spec
            for spec in catalogue(kind)
            if spec.name in present and (component is None or spec.component == component)
        ]

    def performance_metrics(self) -> list[str]:
        """The model's performance metrics present (not the label ones), in catalogue order."""
        return [spec.name for spec in self.metrics("performance", component="performance")]

    def latest_value(self, kind: str, metric: str, source: str | None = None) -> Any:
        """The value of ``metric`` in its most recent window (None when absent)."""
        candidates = [
            r
            for r in self.records
            if r["kind"] == kind
            and r["metric"] == metric
            and (source is None or r["source"] == source)
            and r["value"] is not None
        ]
        return candidates[-1]["value"] if candidates else None


def catalogue(kind: str) -> tuple[MetricSpec, ...]:
    """The metrics the analysis ``kind`` declares (none for a kind no analysis has)."""
    analysis = ANALYSES.get(kind)
    return analysis.metrics if analysis is not None else ()


def metric_spec(kind: str, metric: str) -> MetricSpec:
    """The catalogue entry of ``metric`` (an undirected, unbounded one when undeclared)."""
    analysis = ANALYSES.get(kind)
    found = analysis.metric(metric) if analysis is not None else None
    return found if found is not None else MetricSpec(metric)


def model_view(
    store: Store,
    model: str,
    version: str | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    default_days: float = 7.0,
    with_histograms: bool = True,
    segment: str = "",
) -> ModelView:
    """Gather one model version's results over ``[since, until)``, drawn over all traffic or
    over ``segment`` (a segment absent from the latest windows: all traffic, said in
    ``segment_note``).

    Without ``since`` the period is the ``default_days`` before its latest result.
    Raises :class:`NotFoundError` for an unknown model or version.
    """
    version = resolve_version(store, model, version)
    versions = sorted(listings.known_versions(store, model))
    if since is None:
        rows = store.query_rows(
            "SELECT max(window_end) FROM ml_results WHERE model = {m:String} "
            "AND version = {v:String}",
            parameters={"m": model, "v": version},
        )
        last = _utc(rows[0][0]) if rows else None
        if last is not None and last.year > 1970:
            since = (until or last) - timedelta(days=default_days)
    every = _records(read_results(store, model=model, version=version, since=since, until=until))
    latest_segmented = latest_windows(every)
    segments = segments_of(r for rs in latest_segmented.values() for r in rs)
    note = ""
    if segment and segment not in {s.name for s in segments}:
        note = f"no results of segment {segment} in the latest windows: all traffic shown"
        segment = ""
    records, unsplit = segment_records(every, segment)
    latest = latest_windows(records)
    summary = next(
        (m for m in list_models_for(store, model) if m["version"] == version),
        {"model": model, "version": version},
    )
    view = ModelView(
        model=model,
        version=version,
        versions=versions,
        since=since,
        until=until,
        records=records,
        latest=latest,
        summary=summary,
        segment=segment,
        segments=segments,
        unsplit=unsplit,
        segment_note=note,
        latest_segmented=latest_segmented,
    )
    if with_histograms and (not segment or "drift" in unsplit):
        view.histograms = feature_histograms(store, view)
    return view


def latest_windows(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per kind, the records of its latest window with data (some record not ``no_data``),
    else of its latest window — as ``read_results(latest_window_only=True)`` chooses."""
    newest: dict[str, datetime] = {}
    with_data: dict[str, datetime] = {}
    for r in records:
        end, kind = r["window_end"], r["kind"]
        if end is None:
            continue
        if kind not in newest or end > newest[kind]:
            newest[kind] = end
        if r["status"] != Status.NO_DATA and (kind not in with_data or end > with_data[kind]):
            with_data[kind] = end
    latest: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r["window_end"] is not None and r["window_end"] == with_data.get(
            r["kind"], newest.get(r["kind"])
        ):
            latest.setdefault(r["kind"], []).append(r)
    return latest


def list_models_for(store: Store, model: str) -> list[dict[str, Any]]:
    """:func:`list_models` entries of one model."""
    return [m for m in list_models(store) if m["model"] == model]


def feature_histograms(store: Store, view: ModelView) -> dict[str, dict[str, Any]]:
    """Reference-vs-current bins per drift-checked feature, for the latest drift window.

    Each value is ``{"labels": [...], "reference": [...], "current": [...], …}`` as
    :meth:`Analyzer.histograms` returns it. Empty when the model has no reference or no drift
    window yet; a failure is logged, never raised (the page shows the rest). Answers are
    kept for :data:`HISTOGRAM_TTL_S` per store, model version and window.
    """
    drift = view.latest.get("drift", [])
    if not drift or drift[0]["window_start"] is None or drift[0]["window_end"] is None:
        return {}
    window = Window(drift[0]["window_start"], drift[0]["window_end"])
    key = (store.url, store.database, view.model, view.version, window.start, window.end)
    cached: dict[str, dict[str, Any]] | None = _HISTOGRAMS.get(key)
    if cached is not None:
        return cached
    try:
        analyzer, lock = page_analyzer(store)
        with lock:
            bins = analyzer.histograms(view.model, view.version, window)
    except NotFoundError:
        bins = {}
    except ModeltelError as exc:
        logger.warning("histograms of %s/%s: %s", view.model, view.version, exc)
        return {}
    _HISTOGRAMS.put(key, bins)
    return bins
