"""The analysis loop: every ``every`` seconds, run every analysis for every active model
version, then the health score and the retrain policy, and publish the results as metrics.

One cycle covers the trailing window ``[end − window, end)`` where ``end`` is now floored to
the cycle period, so every number in ``ml_results`` says which window it describes. A model
version is *active* when it made a prediction within ``active_within``. Windows follow the
data (:mod:`modeltel.analyzer.orchestration.coverage`):

- a version whose latest prediction is older than the trailing window (traffic paused, or a
  model scored in a daily batch) is analysed on the window of the same length that ends just
  after that prediction, so its burst is analysed whole, not an empty hour;
- a version with nothing new since its latest analysis (no later prediction, no label
  received since) is not analysed again: only its ``service`` analysis runs over the trailing
  window, so staleness and volume keep moving (and alerting), while its drift, performance,
  health score and retrain verdict stay those of its latest analysed data.

Each analysis runs once per window for all the versions analysed over it, in one pass
(:meth:`~modeltel.analyzer.orchestration.analyzer.Analyzer.results_for`), each version getting
the records it gets alone; the cycle stores the analyses' records in one insert, then the
health scores and retrain verdicts (from one query of the latest results per window) in
another. An analysis that raises for a version is logged and counted
(``modeltel.analyzer.failures``) and the other versions and analyses go on; one with nothing
to compute yet (:class:`NotFoundError`, e.g. no reference uploaded) is skipped without
counting as a failure. The cycle's duration and failures are published with the results (see
:mod:`modeltel.analyzer.export.publisher`).

Configuration (``loop:`` section; all optional)::

    loop:
      window: 1h            # trailing window of each cycle ($MODELTEL_ANALYZE_WINDOW)
      active_within: 7d     # models with predictions this recent are analyzed
      metrics_max_age: 1d   # result series older than this leave /metrics
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from modeltel.analyzer.analyses import ANALYSES
from modeltel.analyzer.base import listings, settings
from modeltel.analyzer.base.analysis import Target
from modeltel.analyzer.base.config import section
from modeltel.analyzer.base.durations import parse_duration
from modeltel.analyzer.base.errors import ConfigError, NotFoundError
from modeltel.analyzer.base.results import Result, make_results, write_results
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window, floor_time
from modeltel.analyzer.orchestration.analyzer import Analyzer
from modeltel.analyzer.orchestration.coverage import coverage
from modeltel.analyzer.orchestration.health import KIND as HEALTH
from modeltel.analyzer.orchestration.health import health_records
from modeltel.analyzer.orchestration.latest import latest_records
from modeltel.analyzer.orchestration.retrain import Evidence, RetrainPolicy, RetrainTrigger

logger = logging.getLogger(__name__)

Runner = Callable[[str, str, Window], Any]
"""Runs one analysis of one model version over a window and stores its results."""

STALENESS_RUNNER = "service"
"""The analysis that still runs for a version with nothing new: staleness and volume."""


@dataclass(frozen=True)
class Failure:
    """One analysis that raised during a cycle."""

    model: str
    version: str
    analysis: str
    error: str


class Publisher(Protocol):
    """What the loop tells after each cycle (:class:`modeltel.analyzer.export.MetricsPublisher`
    is one): re-read the results, and the cycle's duration and failures."""

    max_age_s: float

    def refresh(self, now: float | None = None) -> Any: ...

    def record_cycle(
        self,
        duration_s: float,
        analyzed: Sequence[tuple[str, str]],
        failures: Iterable[Failure] = (),
        *,
        analyses: Sequence[str] = (),
        interval_s: float | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class LoopSettings:
    """The ``loop`` section, validated."""

    window_s: float = 3600.0
    active_within_s: float = 7 * 86400.0
    metrics_max_age_s: float = 86400.0

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> LoopSettings:
        env = os.environ if environ is None else environ
        cfg = section(dict(config), "loop")
        unknown = sorted(set(cfg) - {"window", "active_within", "metrics_max_age"})
        if unknown:
            raise ConfigError(
                f"config key loop.{unknown[0]} is not known; "
                "expected window, active_within or metrics_max_age"
            )

        def seconds(key: str, default: str) -> float:
            value = parse_duration(str(cfg.get(key, default)), name=f"config key loop.{key}")
            if value <= 0:
                raise ConfigError(f"config key loop.{key} must be positive")
            return value

        window_default = env.get(settings.MODELTEL_ANALYZE_WINDOW) or "1h"
        return cls(
            window_s=seconds("window", window_default),
            active_within_s=seconds("active_within", "7d"),
            metrics_max_age_s=seconds("metrics_max_age", "1d"),
        )


@dataclass
class CycleReport:
    """What one cycle did."""

    window: Window
    analyzed: list[tuple[str, str]] = field(default_factory=list)
    waiting: list[tuple[str, str]] = field(default_factory=list)
    """Active versions with nothing new since their latest analysis (staleness moved on)."""
    shifted: dict[tuple[str, str], Window] = field(default_factory=dict)
    """Versions analysed on their latest traffic instead of :attr:`window` (traffic paused)."""
    failures: list[Failure] = field(default_factory=list)
    duration_s: float = 0.0
    run_id: str = ""
    finished_monotonic: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def overran(self, interval_s: float) -> bool:
        """Whether the cycle took longer than the loop's interval."""
        return self.duration_s > interval_s


class AnalysisLoop:
    """Runs cycles on demand (:meth:`run_once`) or every ``every`` seconds in a thread.

    ``runners`` maps an analysis name to a :data:`Runner`; by default every registered
    analysis (:func:`default_runners`). ``publisher`` (optional) is refreshed after each
    cycle and told its duration and failures.
    """

    def __init__(
        self,
        store: Store,
        config: Mapping[str, Any] | None = None,
        *,
        every: float = 60.0,
        window_s: float | None = None,
        publisher: Publisher | None = None,
        runners: Mapping[str, Runner] | None = None,
        retrain_sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        config = dict(config or {})
        self.store = store
        self.every = every
        self.settings = LoopSettings.from_config(config)
        if window_s is not None:
            self.settings = LoopSettings(
                window_s, self.settings.active_within_s, self.settings.metrics_max_age_s
            )
        self.publisher = publisher
        if publisher is not None:
            publisher.max_age_s = self.settings.metrics_max_age_s
        self.runners = dict(runners) if runners is not None else default_runners(store, config)
        self.retrain = RetrainTrigger(store, RetrainPolicy.from_config(config), sleep=retrain_sleep)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_report: CycleReport | None = None

    # -- one cycle -----------------------------------------------------------------------

    def window_for(self, now: float) -> Window:
        """The trailing window a cycle at ``now`` (unix seconds) analyses."""
        moment = datetime.fromtimestamp(now, UTC)
        end = floor_time(moment, self.every) if self.every >= 1 else moment
        return Window(end - timedelta(seconds=self.settings.window_s), end)

    def run_once(self, now: float | None = None) -> CycleReport:
        """Analyse every active model version once; never raises for an analysis failure."""
        started = time.monotonic()
        now = time.time() if now is None else now
        window = self.window_for(now)
        report = CycleReport(window=window, run_id=uuid.uuid4().hex[:16])
        try:
            since = window.end - timedelta(seconds=self.settings.active_within_s)
            report.analyzed = listings.model_versions(self.store, since)
            covered = coverage(self.store, report.analyzed, since)
        except Exception as exc:
            logger.error("analysis cycle could not list the active models: %s", exc)
            report.failures.append(Failure("", "", "cycle", str(exc)))
            report.analyzed = []
            covered = {}
        full: dict[Window, list[Target]] = {}
        for model, version in report.analyzed:
            seen = covered[(model, version)]
            if seen.needs_analysis(window):
                traffic = seen.traffic_window(window, self.every)
                if traffic != window:
                    report.shifted[(model, version)] = traffic
                full.setdefault(traffic, []).append((model, version))
            else:
                report.waiting.append((model, version))
        if self._run_analyses(full, report):
            self._score(full, report)
        report.duration_s = time.monotonic() - started
        report.finished_monotonic = time.monotonic()
        if self.publisher is not None:
            try:
                self.publisher.refresh(now=now)
            except Exception as exc:
                logger.error("could not refresh the published metrics: %s", exc)
                report.failures.append(Failure("", "", "publish", str(exc)))
            self.publisher.record_cycle(
                report.duration_s,
                report.analyzed,
                report.failures,
                analyses=[*self.runners, "health", "retrain"],
                interval_s=self.every,
            )
        if report.overran(self.every):
            logger.warning(
                "analysis cycle took %.1fs, longer than its %gs interval: the next one starts "
                "at once, on the window of its own time (cycles never queue up)",
                report.duration_s,
                self.every,
            )
        self.last_report = report
        logger.info(
            "analysis cycle: %d model versions (%d on their latest traffic, %d with nothing "
            "new), %d failures, %.2fs",
            len(report.analyzed),
            len(report.shifted),
            len(report.waiting),
            len(report.failures),
            report.duration_s,
        )
        return report

    def _run_analyses(self, full: Mapping[Window, list[Target]], report: CycleReport) -> bool:
        """Every runner over the versions of ``full`` (by window), and the staleness runner
        over the waiting ones too; their records stored in one insert. False when stopped."""
        results: list[Result] = []
        stopped = False
        for name, runner in self.runners.items():
            groups = {span: list(targets) for span, targets in full.items()}
            if name == STALENESS_RUNNER and report.waiting:
                groups.setdefault(report.window, []).extend(report.waiting)
            for span, targets in groups.items():
                if self._stop.is_set():  # a stop waits for one analysis at most, not the cycle
                    stopped = True
                    break
                results += self._run_one(name, runner, targets, span, report)
            if stopped:
                break
        for result in results:
            result.run_id = report.run_id
        self._store(results, report)
        return not stopped

    def _run_one(
        self, name: str, runner: Runner, targets: list[Target], span: Window, report: CycleReport
    ) -> list[Result]:
        """The runner ``name`` for ``targets`` over ``span``: the records left to store (an
        :class:`AnalysisRunner` computes them all in one pass; another runner stores its
        own, one version at a time). Errors are logged, and counted unless NotFoundError."""
        results: list[Result] = []
        errors: dict[Target, Exception] = {}
        if isinstance(runner, AnalysisRunner):
            results, errors = runner.results(targets, span)
        else:
            for target in targets:
                if self._stop.is_set():
                    break
                try:
                    runner(*target, span)
                except Exception as exc:
                    errors[target] = exc
        for (model, version), exc in errors.items():
            if isinstance(exc, NotFoundError):  # e.g. no reference yet: nothing to compute
                logger.info("%s analysis of %s/%s skipped: %s", name, model, version, exc)
                continue
            logger.warning("%s analysis of %s/%s failed: %s", name, model, version, exc)
            logger.debug("traceback", exc_info=exc)
            report.failures.append(Failure(model, version, name, str(exc)))
        return results

    def _score(self, full: Mapping[Window, list[Target]], report: CycleReport) -> None:
        """The health score and retrain verdict of every version of ``full``, from the latest
        results and the retrain policy's evidence (a few queries per window), stored in one
        insert."""
        records: list[Result] = []
        for span, targets in full.items():
            by_version: dict[Target, list[dict[str, Any]]] = {}
            error = None
            try:
                latest = latest_records(
                    self.store,
                    max_age_s=self.settings.metrics_max_age_s,
                    now=span.end.timestamp(),
                    versions=targets,
                )
                for record in latest:
                    if record.get("kind") != HEALTH:
                        key = (str(record["model"]), str(record["version"]))
                        by_version.setdefault(key, []).append(record)
            except Exception as exc:
                error = exc
            try:
                evidence = self.retrain.evidence(targets, span.end)
            except Exception as exc:  # each version then reads its own
                logger.warning("retrain policy could not read the fleet's results: %s", exc)
                evidence = {}
            for model, version in targets:
                records += self._verdicts(
                    model, version, span, by_version, error, evidence.get((model, version)), report
                )
        self._store(records, report)

    def _verdicts(
        self,
        model: str,
        version: str,
        window: Window,
        latest: Mapping[Target, list[dict[str, Any]]],
        error: Exception | None,
        evidence: Evidence | None,
        report: CycleReport,
    ) -> list[Result]:
        """The health score and retrain records of one version (``error``: the latest
        results could not be read; ``evidence``: what the retrain policy reads, when read
        for the fleet)."""
        records: list[Result] = []
        health_score = None
        try:
            if error is not None:
                raise error
            health, scored = health_records(
                model,
                version,
                latest.get((model, version), []),
                window_start=window.start,
                window_end=window.end,
                run_id=report.run_id,
            )
            health_score = health.score
            records += scored
        except Exception as exc:
            logger.warning("health score of %s/%s failed: %s", model, version, exc)
            report.failures.append(Failure(model, version, "health", str(exc)))
        try:
            records.append(
                self.retrain.record(
                    model,
                    version,
                    window_start=window.start,
                    window_end=window.end,
                    health_score=health_score,
                    run_id=report.run_id,
                    evidence=evidence,
                )
            )
        except Exception as exc:
            logger.warning("retrain policy of %s/%s failed: %s", model, version, exc)
            report.failures.append(Failure(model, version, "retrain", str(exc)))
        return records

    def _store(self, records: list[Result], report: CycleReport) -> None:
        """Write ``records`` to ``ml_results`` in one insert; a refusal is a cycle failure."""
        if not records:
            return
        try:
            write_results(self.store, make_results(records))
        except Exception as exc:
            logger.error("analysis cycle could not store %d results: %s", len(records), exc)
            report.failures.append(Failure("", "", "cycle", str(exc)))

    # -- background thread ---------------------------------------------------------------

    def start(self) -> None:
        """Run a cycle now and then every ``every`` seconds in a daemon thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="modeltel-analysis-loop", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.run_once()
            except Exception:  # the loop must survive anything a cycle throws
                logger.exception("analysis cycle failed")
            self._stop.wait(max(0.0, self.every - (time.monotonic() - started)))

    def request_stop(self) -> None:
        """Ask the loop to stop after the analysis it is running; do not wait."""
        self._stop.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to stop after the analysis it is running and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


@dataclass
class AnalysisRunner:
    """A registered analysis run by the loop: called as a :data:`Runner` it analyses and
    stores one version (:meth:`Analyzer.run`); :meth:`results` computes many versions over
    one window in one pass and leaves the storing to the loop."""

    analyzer: Analyzer
    kind: str

    def __call__(self, model: str, version: str, window: Window) -> None:
        self.analyzer.run(self.kind, model, version, window=window)

    def results(
        self, targets: Sequence[Target], window: Window
    ) -> tuple[list[Result], dict[Target, Exception]]:
        """The records of ``targets`` over ``window`` and each failing target's error
        (:meth:`Analyzer.results_for`)."""
        return self.analyzer.results_for(self.kind, targets, window)


def default_runners(store: Store, config: Mapping[str, Any]) -> dict[str, Runner]:
    """One :class:`AnalysisRunner` per registered analysis
    (:data:`modeltel.analyzer.analyses.ANALYSES`); they share one Analyzer (and its caches)."""
    analyzer = Analyzer(store, dict(config))
    return {kind: AnalysisRunner(analyzer, kind) for kind in ANALYSES}
