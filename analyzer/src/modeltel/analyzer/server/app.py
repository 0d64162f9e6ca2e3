"""The HTTP application of ``modeltel serve``: OTLP/HTTP, health, and the routers of the API,
``/metrics`` and the web page, all on one port.

``create_app`` takes an open :class:`Store`; it owns an :class:`IngestPipeline` whose queued
rows are written before the app finishes shutting down. ``ServerConfig.limits`` bound what one
OTLP payload may declare or imply (``docs/limits.md``); when the app starts it records the
limits the views share in the store's ``modeltel_limits`` (retried while the store is down).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from modeltel.analyzer.base import settings
from modeltel.analyzer.base.errors import StoreError
from modeltel.analyzer.base.limits import Limits
from modeltel.analyzer.base.schema.ingest_limits import record_limits
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.ingest.pipeline import IngestPipeline
from modeltel.analyzer.server.api_analyses import analyses_router
from modeltel.analyzer.server.api_uploads import uploads_router
from modeltel.analyzer.server.auth import AccessPolicy, TokenMiddleware
from modeltel.analyzer.server.metrics_endpoint import metrics_router
from modeltel.analyzer.server.otlp_http import otlp_router
from modeltel.analyzer.web import web_router

logger = logging.getLogger(__name__)


@dataclass
class ServerConfig:
    """Settings of the HTTP app (arguments override ``MODELTEL_*`` variables)."""

    max_body_bytes: int = field(default_factory=settings.max_body_bytes)
    writers: int = 2
    max_pending_rows: int = 4_000_000
    """Rows waiting to be written before OTLP requests get 429, weighed as in
    :mod:`modeltel.analyzer.ingest.pipeline` (records + projected ml rows + bytes / 64): about two
    requests at ``limits.max_projected_rows``."""
    access: AccessPolicy = field(default_factory=AccessPolicy.from_settings)
    """Token check of OTLP, API, page and /metrics (see :mod:`.auth`)."""
    store_retry_after: float = 5.0
    """Seconds clients are told to wait (``Retry-After``) when the store is unavailable."""
    limits: Limits = field(default_factory=Limits.from_settings)
    """Sizes one OTLP payload may declare or imply (``MODELTEL_MAX_*``; ``docs/limits.md``)."""
    decode_slots: int = 2
    """OTLP/HTTP requests decoded and converted at once (bounds the memory decoding takes)."""


def _record_limits(store: Store, limits: Limits) -> bool:
    """Write the limits the views apply into the store; False while it is unavailable."""
    try:
        changed = record_limits(store, limits)
    except StoreError as exc:
        logger.debug("limits not recorded yet: %s", exc)
        return False
    if changed:
        logger.info("limits recorded for the views: %s", changed)
    return True


def _retry_record_limits(store: Store, limits: Limits, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        if _record_limits(store, limits):
            return


def create_app(
    store: Store,
    config: ServerConfig | None = None,
    pipeline: IngestPipeline | None = None,
) -> FastAPI:
    """Build the app. ``app.state`` holds ``store``, ``pipeline`` and ``config``; the
    pipeline applies ``config.limits``."""
    config = config or ServerConfig()
    pipeline = pipeline or IngestPipeline(
        store,
        writers=config.writers,
        max_pending_rows=config.max_pending_rows,
        limits=config.limits,
    )
    pipeline.limits = config.limits  # a pipeline given by the caller receives them too

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        if not await run_in_threadpool(_record_limits, store, pipeline.limits):
            retry = max(config.store_retry_after, 0.5)
            threading.Thread(
                target=_retry_record_limits,
                args=(store, pipeline.limits, stop, retry),
                name="modeltel-limits",
                daemon=True,
            ).start()
        yield
        stop.set()
        pipeline.close()

    app = FastAPI(
        title="modeltel",
        summary="ML monitoring on OpenTelemetry and ClickHouse",
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.pipeline = pipeline
    app.state.config = config
    if config.access.enabled:
        app.add_middleware(TokenMiddleware, policy=config.access)
    app.include_router(
        otlp_router(
            pipeline,
            config.max_body_bytes,
            store_retry_after=config.store_retry_after,
            decode_slots=config.decode_slots,
        )
    )
    app.include_router(web_router())
    app.include_router(uploads_router())
    app.include_router(analyses_router())
    app.include_router(metrics_router(app))

    @app.get("/healthz", tags=["health"])
    def healthz() -> Any:
        """200 when the store answers; 503 otherwise."""
        try:
            store.query_rows("SELECT 1")
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "error": str(exc)}, status_code=503)
        return {
            "status": "ok",
            "store": "embedded" if store.embedded else "server",
            "database": store.database,
            "pending_rows": pipeline.pending_rows,
        }

    return app
