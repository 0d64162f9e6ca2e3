"""Drift and references over HTTP.

- ``POST /api/references`` — store a reference. The body is a CSV or Parquet file, either as a
  multipart form field ``file`` (``curl -F file=@train.csv``) or as the raw body
  (``Content-Type: text/csv`` or ``application/vnd.apache.parquet``), or JSON:
  ``{"records": [{"age": 31, "plan": "gold"}, …]}`` (or a bare list of records). ``model``,
  ``version``, ``name``, ``categorical``, ``numerical``, ``prediction_column``,
  ``score_column``, ``value_column`` and ``exclude`` come as query parameters, form fields or
  JSON keys. Answers 201 with what was stored; 400 names what is wrong with the file.
- ``GET /api/models/{model}/drift`` — the latest drift results (tidy records, as
  ``modeltel analyze --format json``). With ``window``/``start``/``end``/``last_n``/
  ``baseline_version``/``segment_by`` or ``compute=true`` they are computed now (and stored).
- ``GET /api/models/{model}/drift/histograms`` — reference-vs-current bins per feature.
- ``POST /api/analyze`` — run every analysis now (what ``modeltel analyze --server`` calls).

The store is ``request.app.state.store``; the configuration file is read per request
(``$MODELTEL_CONFIG``) so edits apply without a restart.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from modeltel.analyzer.errors import (
    InputError,
    ModeltelError,
)
from modeltel.analyzer.results import read_results, to_records
from modeltel.analyzer.server.answers import error_response, json_answer, request_analyzer
from modeltel.analyzer.server.uploads import UploadKind, upload_payload

_OPTIONS = (
    "version",
    "name",
    "categorical",
    "numerical",
    "prediction_column",
    "score_column",
    "value_column",
    "exclude",
    "format",
)
REFERENCE_UPLOAD = UploadKind(
    options=_OPTIONS,
    records_keys=("records",),
    json_hint='JSON uploads need "records": a list of objects, one per row',
    empty="the upload has no rows",
    no_model="say which model the reference is for: ?model=NAME",
)


def drift_router() -> APIRouter:
    """``POST /api/references``, ``GET /api/models/{model}/drift[/histograms]``, ``POST
    /api/analyze``."""
    router = APIRouter(tags=["drift"])

    @router.post("/api/references", status_code=201)
    async def upload(request: Request) -> JSONResponse:
        """Store a reference (CSV/Parquet file or JSON records) for a model version."""
        from modeltel.analyzer.reference import upload_reference

        try:
            model, data, options = await upload_payload(request, REFERENCE_UPLOAD)
            summary = await run_in_threadpool(
                upload_reference,
                request.app.state.store,
                str(model),
                data,
                version=options.get("version"),
                name=options.get("name") or "default",
                categorical=options.get("categorical"),
                numerical=options.get("numerical"),
                prediction_column=options.get("prediction_column"),
                score_column=options.get("score_column"),
                value_column=options.get("value_column"),
                exclude=options.get("exclude"),
                format=options.get("format"),
            )
        except ModeltelError as exc:
            return error_response(exc)
        return JSONResponse(summary.as_dict(), status_code=201)

    @router.get("/api/models/{model}/drift")
    def drift(
        request: Request,
        model: str,
        version: str | None = None,
        window: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        last_n: int | None = None,
        reference: str | None = None,
        baseline_version: str | None = None,
        segment_by: str | None = None,
        methods: str | None = None,
        compute: bool = False,
    ) -> JSONResponse:
        """Drift records of the latest window (stored), or computed now for the given window."""
        try:
            store = request.app.state.store
            wanted = any(
                v is not None
                for v in (window, start, end, last_n, baseline_version, segment_by, methods)
            )
            frame = None
            if not (compute or wanted):
                frame = read_results(
                    store, model=model, version=version, kind="drift", latest_window_only=True
                )
            if frame is None or frame.empty:
                frame = request_analyzer(request).drift(
                    model,
                    version,
                    window=window,
                    start=start,
                    end=end,
                    last_n=last_n,
                    reference=reference,
                    baseline_version=baseline_version,
                    segment_by=segment_by,
                    methods=methods.split(",") if methods else None,
                )
        except ModeltelError as exc:
            return error_response(exc)
        return json_answer(to_records(frame))

    @router.get("/api/models/{model}/drift/histograms")
    def histograms(
        request: Request,
        model: str,
        version: str,
        window: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        reference: str | None = None,
        bins: int = 20,
    ) -> JSONResponse:
        """Reference-vs-current bins per feature for one window (default: the last hour)."""
        try:
            analyzer = request_analyzer(request)
            windows = analyzer.windows(None if start else window, start=start, end=end)
            if not 2 <= bins <= 200:
                raise InputError("bins must be between 2 and 200")
            answer = analyzer.histograms(model, version, windows[0], reference=reference, bins=bins)
        except ModeltelError as exc:
            return error_response(exc)
        return json_answer(answer)

    @router.post("/api/analyze")
    def analyze(
        request: Request, model: str | None = None, window: str = "1h", end: datetime | None = None
    ) -> JSONResponse:
        """Run every analysis now for ``model`` (or all active models); the tidy records."""
        try:
            frame = request_analyzer(request).analyze(model, window=window, end=end)
        except ModeltelError as exc:
            return error_response(exc)
        return json_answer(to_records(frame))

    return router
