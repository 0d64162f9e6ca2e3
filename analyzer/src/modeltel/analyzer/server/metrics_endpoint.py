"""``GET /metrics``: the analyzer's results and loop health in the Prometheus text format.

``metrics_router(app)`` creates the app's :class:`MetricsPublisher` over ``app.state.store``
(kept as ``app.state.metrics``, where the analysis loop finds it) and shuts it down with the
app. Without a loop in the process, each scrape re-reads ``ml_results`` when the snapshot is
older than ten seconds, so results written by ``modeltel analyze`` show up as well.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from modeltel.analyzer.export.publisher import PROMETHEUS_CONTENT_TYPE, MetricsPublisher
from modeltel.analyzer.server.auth import AccessPolicy, TokenMiddleware
from modeltel.analyzer.store import Store

if TYPE_CHECKING:
    from modeltel.analyzer.loop import AnalysisLoop


def metrics_router(app: FastAPI, publisher: MetricsPublisher | None = None) -> APIRouter:
    """The ``/metrics`` router of ``app``; ``publisher`` defaults to one over its store."""
    if publisher is None:
        publisher = MetricsPublisher(getattr(app.state, "store", None))
    app.state.metrics = publisher

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        publisher.shutdown()

    router = APIRouter(lifespan=lifespan)

    @router.get("/metrics", tags=["metrics"], response_class=Response)
    async def metrics() -> Response:
        """Analyzer gauges (``ml_*``) and loop metrics (``modeltel_analyzer_*``)."""
        body = await run_in_threadpool(publisher.prometheus_text)
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
