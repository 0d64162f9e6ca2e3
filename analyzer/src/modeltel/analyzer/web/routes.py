"""HTTP routes of the web page and its JSON: ``GET /``, ``GET /models/{model}``,
``GET /models/{model}/report``, ``GET /static/…``, ``GET /api/models`` and ``POST /api/sql``.

The store is ``request.app.state.store``. Handlers are plain functions (FastAPI runs them in
its thread pool), because every store call blocks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from modeltel.analyzer.base.errors import (
    ConfigError,
    InputError,
    NotFoundError,
    QueryError,
    StoreError,
    StoreUnavailableError,
)
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.sql import console as sql
from modeltel.analyzer.web import data, page
from modeltel.analyzer.web.segments import check_segment

API_MAX_ROWS = 100_000
API_MAX_TIMEOUT_S = 300.0
_ASSETS = {"modeltel.css": "text/css", "modeltel.js": "text/javascript"}


class SqlRequest(BaseModel):
    """Body of ``POST /api/sql``."""

    query: str = Field(description="one read-only statement (ClickHouse SQL)")
    max_rows: int = Field(sql.DEFAULT_MAX_ROWS, ge=1, le=API_MAX_ROWS)
    timeout_s: float = Field(sql.DEFAULT_TIMEOUT_S, gt=0, le=API_MAX_TIMEOUT_S)


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _json(value: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(sql.jsonable(value), status_code=status_code)


def web_router(refresh_s: int = page.DEFAULT_REFRESH_S) -> APIRouter:
    """The page, its assets, ``/api/models`` and ``/api/sql``."""
    router = APIRouter()

    def every(refresh: int | None) -> int:
        """The page's refresh period: ``?refresh=N`` seconds (0 stops it), else the default."""
        if refresh is None:
            return refresh_s
        return 0 if refresh <= 0 else min(max(refresh, 2), 3600)

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request, refresh: int | None = None) -> HTMLResponse:
        try:
            models = data.list_models(_store(request))
        except StoreError as exc:
            return HTMLResponse(page.error_page(503, str(exc)), status_code=503)
        return HTMLResponse(
            page.index_page(models, refresh_s=every(refresh), store=_store(request))
        )

    @router.get("/models/{model}", response_class=HTMLResponse, include_in_schema=False)
    def model_page(
        request: Request,
        model: str,
        version: str | None = None,
        refresh: int | None = None,
        range_: str | None = Query(None, alias="range"),
        start: str | None = Query(None, alias="from"),
        end: str | None = Query(None, alias="to"),
        compare: str | None = None,
        segment: str | None = None,
    ) -> HTMLResponse:
        """One model version; ``range`` (1h, 6h, 24h, 7d, 30d: the last N of its data) or
        ``from``/``to`` (UTC) choose the period, ``compare`` (reference, previous) what its
        drift is measured against, ``segment`` (``dimension=value``) the segment whose
        records the sections show; a bad value answers 400 naming it."""
        try:
            asked = data.parse_range(range_, start, end, compare)
            chosen = check_segment(segment)
        except (data.RangeError, InputError) as exc:
            return HTMLResponse(page.error_page(400, str(exc)), status_code=400)
        try:
            view = data.range_view(_store(request), model, version, asked, chosen)
        except NotFoundError as exc:
            return HTMLResponse(page.error_page(404, str(exc)), status_code=404)
        except StoreError as exc:
            return HTMLResponse(page.error_page(503, str(exc)), status_code=503)
        return HTMLResponse(page.model_page(view, refresh_s=every(refresh)))

    @router.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        media_type = _ASSETS.get(name)
        if media_type is None:
            raise HTTPException(404, f"no static file {name!r}")
        return Response(
            page.asset(name),
            media_type=media_type,
            headers={"Cache-Control": "no-cache"},
        )

    @router.get("/api/models", tags=["models"])
    def models(request: Request) -> JSONResponse:
        """Every model version with its prediction count, last prediction time, labels,
        reference, latest health score (and ``health_window_end``, the time it describes),
        drift state, ``no_predictions_since`` (the last prediction time when the newest
        analysed window starts after it) and ``stale`` (latest staleness check warns)."""
        try:
            return _json(data.list_models(_store(request)))
        except StoreError as exc:
            return _json({"detail": str(exc)}, 503)

    @router.get("/models/{model}/report", tags=["models"], response_class=HTMLResponse)
    def report(
        request: Request,
        model: str,
        version: str | None = None,
        period: str = "week",
        end: datetime | None = None,
    ) -> Response:
        """The model health report as one self-contained HTML document (what
        ``modeltel report`` writes). ``period`` is ``week`` or ``month``; ``end`` defaults to
        the end of the latest analysed window."""
        from modeltel.analyzer.report import build_report, render_html

        try:
            built = build_report(_store(request), model, version, period=period, end=end)
        except NotFoundError as exc:
            return _json({"detail": str(exc)}, 404)
        except ConfigError as exc:
            return _json({"detail": str(exc)}, 400)
        except StoreError as exc:
            return _json({"detail": str(exc)}, 503)
        return HTMLResponse(render_html(built))

    @router.post("/api/sql", tags=["sql"])
    def run_sql(request: Request, body: SqlRequest) -> JSONResponse:
        """Run one read-only statement with time and row limits.

        400 when ClickHouse refuses it (writes, settings, syntax, unknown names, time limit),
        503 when the store is unavailable. The answer holds ``columns``, ``types``, ``rows``,
        ``row_count``, ``truncated``, ``max_rows`` and ``elapsed_s``.
        """
        try:
            result = sql.run_sql(
                _store(request), body.query, max_rows=body.max_rows, timeout_s=body.timeout_s
            )
        except (QueryError, ConfigError) as exc:
            return _json({"detail": str(exc)}, 400)
        except StoreUnavailableError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})
        except StoreError as exc:
            return _json({"detail": str(exc)}, 500)
        return _json(sql.result_payload(result))

    return router
