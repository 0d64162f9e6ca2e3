"""``GET /metrics``: the analyzer's results and loop health in the Prometheus text format.

``metrics_router(app)`` creates the app's :class:`MetricsPublisher` over ``app.state.store``
(kept as ``app.state.metrics``, where the analysis loop finds it) and shuts it down with the
app. Without a loop in the process, each scrape re-reads ``ml_results`` when the snapshot is
older than ten seconds, so results written by ``modeltel analyze`` show up as well.

Ingest counters follow the analyzer's metrics (:class:`IngestMetrics`):

- ``modeltel_ingest_rejected_total{path, signal, reason}``: records rejected because of their
  size (``docs/limits.md``) or form. ``path="receiver"``: refused or stored-but-not-projected
  by this process's OTLP receiver since it started (the counts of the OTLP partial success);
  ``path="otel_traces"``: prediction spans other writers (a Collector) stored that the views
  did not project, counted from ``ml_ingest_issues``;
- ``modeltel_ingest_batch_size_mismatch_total{path}``: prediction spans whose ``ml.batch.size``
  differs from the rows they carry (projected from what they carry).

The ``otel_traces`` counts are re-read from the store at most every ten seconds; while the
store does not answer they are left out.

What the store costs (:class:`StoreMetrics`, ``docs/retention.md``), one series per table of
the database, re-read at most every ten seconds:

- ``modeltel_store_bytes{table}``: compressed bytes of the table's active parts;
- ``modeltel_store_rows{table}``: rows of those parts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from modeltel.analyzer.base.errors import StoreError
from modeltel.analyzer.base.limits import BATCH_SIZE_MISMATCH
from modeltel.analyzer.base.retention import TableSize, table_sizes
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.export.publisher import PROMETHEUS_CONTENT_TYPE, MetricsPublisher
from modeltel.analyzer.server.auth import AccessPolicy, TokenMiddleware

if TYPE_CHECKING:
    from modeltel.analyzer.ingest.pipeline import IngestPipeline
    from modeltel.analyzer.orchestration.loop import AnalysisLoop

logger = logging.getLogger(__name__)


class IngestMetrics:
    """The ingest counters of ``/metrics``: the receiver's (from ``pipeline``, when this
    process receives OTLP) and those of rows other writers put in ``otel_traces`` (from
    ``store``'s ``ml_ingest_issues``, cached ``refresh_s`` seconds). Thread-safe."""

    def __init__(
        self, store: Store | None, pipeline: IngestPipeline | None, refresh_s: float = 10.0
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._stored: list[tuple[str, int, int]] = []  # (reason, skipped, count)
        self._read_at = float("-inf")
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def _stored_counts(self) -> list[tuple[str, int, int]]:
        with self._lock:
            if self.store is None or time.monotonic() - self._read_at < self.refresh_s:
                return self._stored
            try:
                rows = self.store.query_rows(
                    "SELECT reason, skipped, count() FROM ml_ingest_issues "
                    "WHERE source = 'otel_traces' GROUP BY reason, skipped ORDER BY reason"
                )
            except StoreError as exc:
                logger.debug("ingest issues not read: %s", exc)
                return []
            self._stored = [(str(r), int(s), int(c)) for r, s, c in rows]
            self._read_at = time.monotonic()
            return self._stored

    def collect(self) -> Iterator[Metric]:
        rejected = CounterMetricFamily(
            "modeltel_ingest_rejected",
            "Records rejected because of their size or form: refused, or stored but not "
            "projected (path: receiver = this OTLP receiver, otel_traces = other writers)",
            labels=["path", "signal", "reason"],
        )
        mismatched = CounterMetricFamily(
            "modeltel_ingest_batch_size_mismatch",
            "Prediction spans whose ml.batch.size differs from the rows they carry",
            labels=["path"],
        )
        if self.pipeline is not None:
            for (signal, reason), count in sorted(self.pipeline.rejected_counts().items()):
                rejected.add_metric(["receiver", signal, reason], count)
            mismatched.add_metric(["receiver"], self.pipeline.stats.batch_size_mismatches)
        stored_mismatches = 0
        for reason, skipped, count in self._stored_counts():
            if reason == BATCH_SIZE_MISMATCH and not skipped:
                stored_mismatches += count
            elif skipped:
                rejected.add_metric(["otel_traces", "traces", reason], count)
        if self.store is not None:
            mismatched.add_metric(["otel_traces"], stored_mismatches)
        yield rejected
        yield mismatched

    def prometheus_text(self) -> bytes:
        return generate_latest(self.registry)


class StoreMetrics:
    """The store's size gauges of ``/metrics``, per table, from ``system.parts`` (cached
    ``refresh_s`` seconds; left out while the store does not answer). Thread-safe."""

    def __init__(self, store: Store | None, refresh_s: float = 10.0) -> None:
        self.store = store
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._sizes: list[TableSize] = []
        self._read_at = float("-inf")
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def _current(self) -> list[TableSize]:
        with self._lock:
            if self.store is None or time.monotonic() - self._read_at < self.refresh_s:
                return self._sizes
            try:
                self._sizes = table_sizes(self.store)
            except StoreError as exc:
                logger.debug("table sizes not read: %s", exc)
                return []
            self._read_at = time.monotonic()
            return self._sizes

    def collect(self) -> Iterator[Metric]:
        sizes = self._current()
        if not sizes:
            return
        stored = GaugeMetricFamily(
            "modeltel_store_bytes",
            "Compressed bytes of the table's active parts in the store",
            labels=["table"],
        )
        rows = GaugeMetricFamily(
            "modeltel_store_rows", "Rows of the table's active parts in the store", labels=["table"]
        )
        for size in sizes:
            stored.add_metric([size.table], size.compressed)
            rows.add_metric([size.table], size.rows)
        yield stored
        yield rows

    def prometheus_text(self) -> bytes:
        return generate_latest(self.registry)


def metrics_router(app: FastAPI, publisher: MetricsPublisher | None = None) -> APIRouter:
    """The ``/metrics`` router of ``app``; ``publisher`` defaults to one over its store."""
    if publisher is None:
        publisher = MetricsPublisher(getattr(app.state, "store", None))
    app.state.metrics = publisher
    ingest = IngestMetrics(getattr(app.state, "store", None), getattr(app.state, "pipeline", None))
    app.state.ingest_metrics = ingest
    storage = StoreMetrics(getattr(app.state, "store", None))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        publisher.shutdown()

    router = APIRouter(lifespan=lifespan)

    @router.get("/metrics", tags=["metrics"], response_class=Response)
    async def metrics() -> Response:
        """Analyzer gauges (``ml_*``), loop metrics (``modeltel_analyzer_*``), ingest
        counters (``modeltel_ingest_*``) and store sizes (``modeltel_store_*``)."""
        body = await run_in_threadpool(
            lambda: (
                publisher.prometheus_text() + ingest.prometheus_text() + storage.prometheus_text()
            )
        )
        return Response(content=body, media_type=PROMETHEUS_CONTENT_TYPE)

    return router


def metrics_app(
    store: Store, publisher: MetricsPublisher, loop: AnalysisLoop | None = None
) -> FastAPI:
    """The small app of ``modeltel analyzer``: ``GET /metrics`` and ``GET /healthz``.

    The app starts ``loop`` when it starts and stops it (after the analysis under way) when
    it shuts down. ``/healthz`` answers 503 when the store does not answer or, with a loop,
    when no cycle completed within three periods.
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if loop is not None:
            loop.start()
        try:
            yield
        finally:
            if loop is not None:
                await run_in_threadpool(loop.stop)

    app = FastAPI(
        title="modeltel analyzer", summary="analysis loop and /metrics", lifespan=lifespan
    )
    app.state.store = store
    access = AccessPolicy.from_settings()  # $MODELTEL_PROTECT_METRICS guards /metrics here too
    if access.enabled:
        app.add_middleware(TokenMiddleware, policy=access)
    app.include_router(metrics_router(app, publisher))

    @app.get("/healthz", tags=["health"])
    def healthz() -> Any:
        body: dict[str, Any] = {"status": "ok", "database": store.database}
        try:
            store.query_rows("SELECT 1")
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "error": str(exc)}, status_code=503)
        if loop is not None:
            report = loop.last_report
            body["every_s"] = loop.every
            if report is not None:
                body["last_cycle"] = {
                    "window_end": report.window.end.isoformat(),
                    "models": len(report.analyzed),
                    "failures": len(report.failures),
                    "duration_s": round(report.duration_s, 3),
                    "age_s": round(time.monotonic() - report.finished_monotonic, 1),
                }
                if time.monotonic() - report.finished_monotonic > 3 * max(loop.every, 1.0):
                    body["status"] = "stalled"
                    return JSONResponse(body, status_code=503)
        return body

    return app
