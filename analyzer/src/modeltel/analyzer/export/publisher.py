"""Analyzer results as OTel metrics: observable gauges over the latest results snapshot, read
by a Prometheus reader on a private registry (``GET /metrics``) and, when the ``OTEL_*``
environment asks for it, pushed over OTLP by a periodic reader.

The analysis loop's own health is published beside them:
``modeltel.analyzer.cycle.duration`` (histogram, s), ``modeltel.analyzer.cycles`` and
``modeltel.analyzer.failures`` (counters; failures by model, version and analysis),
``modeltel.analyzer.cycle.failures`` (failures in the last cycle),
``modeltel.analyzer.cycle.last_completed`` (unix s), ``modeltel.analyzer.models``,
``modeltel.analyzer.cycle.last_duration`` and ``modeltel.analyzer.cycle.interval`` (s; a cycle
longer than its interval overruns) and ``modeltel.analyzer.cycle.overruns`` (counter).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions
from opentelemetry.metrics import Observation as OtelObservation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, generate_latest

from modeltel.analyzer.base.store import Store
from modeltel.analyzer.export.catalog import MODEL, VERSION, gauges
from modeltel.analyzer.export.otlp import otlp_metric_exporter
from modeltel.analyzer.export.snapshot import Snapshot, read_snapshot
from modeltel.analyzer.orchestration.latest import DEFAULT_MAX_AGE_S
from modeltel.analyzer.orchestration.loop import Failure

logger = logging.getLogger(__name__)

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ANALYSIS = "ml.analysis"
LOOP_SERIES = (
    "modeltel_analyzer_cycle_duration_seconds_bucket",
    "modeltel_analyzer_cycles_total",
    "modeltel_analyzer_failures_total",
    "modeltel_analyzer_cycle_failures",
    "modeltel_analyzer_cycle_last_completed_seconds",
    "modeltel_analyzer_models",
    "modeltel_analyzer_cycle_last_duration_seconds",
    "modeltel_analyzer_cycle_interval_seconds",
    "modeltel_analyzer_cycle_overruns_total",
)
"""The Prometheus series of the loop's own health (for rules and dashboards)."""
_CYCLE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class MetricsPublisher:
    """Owns a MeterProvider whose gauges report the latest results of ``store`` (the gauges
    of the analyses registered when it is made).

    ``refresh()`` re-reads ``ml_results`` (the loop calls it after each cycle; ``/metrics``
    calls :meth:`refresh_if_stale` so results written by other processes show up too).
    ``exporter`` forces an OTLP exporter (None: decided by ``OTEL_*``; False: never push).
    Thread-safe. Call :meth:`shutdown` when done (it flushes a pending OTLP push).
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        refresh_s: float = 10.0,
        exporter: MetricExporter | bool | None = None,
        service_name: str = "modeltel-analyzer",
    ) -> None:
        self.store = store
        self.max_age_s = max_age_s
        self.refresh_s = refresh_s
        self.registry = CollectorRegistry(auto_describe=False)
        self._snapshot = Snapshot()
        self._refresh_lock = threading.Lock()
        self._last_cycle_end: float | None = None
        self._last_cycle_failures: dict[tuple[str, str], int] = {}
        self._models_analyzed: int | None = None
        self._last_duration: float | None = None
        self._interval: float | None = None
        readers: list = [
            PrometheusMetricReader(registry=self.registry, scope_info_enabled=False),
        ]
        push = otlp_metric_exporter() if exporter is None else exporter
        self.pushing = isinstance(push, MetricExporter)
        if isinstance(push, MetricExporter):
            readers.append(PeriodicExportingMetricReader(push))
        self.provider = MeterProvider(
            metric_readers=readers,
            resource=Resource.create({"service.name": service_name}),
            shutdown_on_exit=False,
        )
        meter = self.provider.get_meter("modeltel.analyzer")
        for gauge in gauges():
            meter.create_observable_gauge(
                gauge.name,
                callbacks=[self._observer(gauge.name)],
                unit=gauge.unit,
                description=gauge.description,
            )
        self._duration = meter.create_histogram(
            "modeltel.analyzer.cycle.duration",
            unit="s",
            description="Duration of one analysis cycle over every active model",
            explicit_bucket_boundaries_advisory=_CYCLE_BUCKETS,
        )
        self._cycles = meter.create_counter(
            "modeltel.analyzer.cycles", description="Analysis cycles completed"
        )
        self._failures = meter.create_counter(
            "modeltel.analyzer.failures",
            description="Analyses that failed, by model, version and analysis",
        )
        meter.create_observable_gauge(
            "modeltel.analyzer.cycle.failures",
            callbacks=[self._observe_cycle_failures],
            description="Analyses that failed in the last cycle, by model and version",
        )
        meter.create_observable_gauge(
            "modeltel.analyzer.cycle.last_completed",
            callbacks=[self._observe_last_cycle],
            unit="s",
            description="Unix time the last analysis cycle completed",
        )
        meter.create_observable_gauge(
            "modeltel.analyzer.models",
            callbacks=[self._observe_models],
            description="Model versions analyzed in the last cycle",
        )
        self._overruns = meter.create_counter(
            "modeltel.analyzer.cycle.overruns",
            description="Analysis cycles that took longer than their interval",
        )
        meter.create_observable_gauge(
            "modeltel.analyzer.cycle.last_duration",
            callbacks=[self._observe_value("_last_duration")],
            unit="s",
            description="Duration of the last analysis cycle",
        )
        meter.create_observable_gauge(
            "modeltel.analyzer.cycle.interval",
            callbacks=[self._observe_value("_interval")],
            unit="s",
            description="How often the analysis loop starts a cycle",
        )

    # -- snapshot ------------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def publish(self, snapshot: Snapshot) -> None:
        """Make ``snapshot`` what the gauges report from now on."""
        self._snapshot = snapshot

    def refresh(self, now: float | None = None) -> Snapshot:
        """Re-read the latest results from the store and publish them."""
        if self.store is None:
            return self._snapshot
        with self._refresh_lock:
            snapshot = read_snapshot(self.store, max_age_s=self.max_age_s, now=now)
            self._snapshot = snapshot
        return snapshot

    def refresh_if_stale(self) -> None:
        """Refresh when the snapshot is older than ``refresh_s``; errors are logged, not raised
        (a scrape then reports the previous snapshot)."""
        if self.store is None or time.time() - self._snapshot.taken_at < self.refresh_s:
            return
        try:
            self.refresh()
        except Exception:
            logger.warning("could not refresh the metrics snapshot", exc_info=True)

    # -- loop health ---------------------------------------------------------------------

    def record_cycle(
        self,
        duration_s: float,
        analyzed: Sequence[tuple[str, str]],
        failures: Iterable[Failure] = (),
        *,
        analyses: Sequence[str] = (),
        completed_at: float | None = None,
        interval_s: float | None = None,
    ) -> None:
        """Record one analysis cycle: its duration, the model versions and the failures; with
        the loop's ``interval_s``, a cycle longer than it counts as an overrun.

        Every (model, version, analysis in ``analyses``) gets a failure series, at 0 until
        something fails, so ``increase()`` over it works from the first scrape; the overrun
        counter starts at 0 the same way.
        """
        counts = {(model, version): 0 for model, version in analyzed}
        for model, version in analyzed:
            for analysis in analyses:
                self._failures.add(0, {MODEL: model, VERSION: version, ANALYSIS: analysis})
        for failure in failures:
            key = (failure.model, failure.version)
            counts[key] = counts.get(key, 0) + 1
            attrs = {MODEL: failure.model, VERSION: failure.version, ANALYSIS: failure.analysis}
            self._failures.add(1, attrs)
        self._duration.record(duration_s)
        self._cycles.add(1)
        self._last_duration = duration_s
        if interval_s is not None:
            self._interval = interval_s
            self._overruns.add(1 if duration_s > interval_s else 0)
        self._last_cycle_failures = counts
        self._models_analyzed = len(analyzed)
        self._last_cycle_end = time.time() if completed_at is None else completed_at

    def _observer(self, gauge: str):
        def observe(options: CallbackOptions) -> Iterable[OtelObservation]:
            return [
                OtelObservation(o.value, dict(o.attributes)) for o in self._snapshot.values(gauge)
            ]

        return observe

    def _observe_cycle_failures(self, options: CallbackOptions) -> Iterable[OtelObservation]:
        return [
            OtelObservation(count, {MODEL: model, VERSION: version})
            for (model, version), count in self._last_cycle_failures.items()
        ]

    def _observe_last_cycle(self, options: CallbackOptions) -> Iterable[OtelObservation]:
        if self._last_cycle_end is None:
            return []
        return [OtelObservation(self._last_cycle_end)]

    def _observe_value(self, attribute: str):
        def observe(options: CallbackOptions) -> Iterable[OtelObservation]:
            value = getattr(self, attribute)
            return [] if value is None else [OtelObservation(value)]

        return observe

    def _observe_models(self, options: CallbackOptions) -> Iterable[OtelObservation]:
        if self._models_analyzed is None:
            return []
        return [OtelObservation(self._models_analyzed)]

    # -- output --------------------------------------------------------------------------

    def prometheus_text(self) -> bytes:
        """The current metrics in the Prometheus text exposition format."""
        self.refresh_if_stale()
        return generate_latest(self.registry)

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        """Push pending OTLP metrics now (True when nothing is pushed or the push succeeded)."""
        return self.provider.force_flush(timeout_millis)

    def shutdown(self) -> None:
        """Stop the readers (flushing a last OTLP push). Safe to call twice."""
        try:
            self.provider.shutdown()
        except Exception:
            logger.debug("error shutting down the meter provider", exc_info=True)
