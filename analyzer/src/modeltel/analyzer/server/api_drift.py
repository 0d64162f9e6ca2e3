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

import json
import os
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from modeltel.analyzer import settings
from modeltel.analyzer.errors import (
    ConfigError,
    InputError,
    ModeltelError,
    NotFoundError,
    PayloadTooLargeError,
    StoreError,
    StoreUnavailableError,
)
from modeltel.analyzer.results import read_results, to_records

DEFAULT_MAX_UPLOAD_BYTES = 512 * 1024 * 1024
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
_PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet", "application/parquet")


def max_upload_bytes() -> int:
    """``$MODELTEL_MAX_UPLOAD_BYTES``, else 512 MiB."""
    raw = os.environ.get(settings.MODELTEL_MAX_UPLOAD_BYTES)
    if not raw:
        return DEFAULT_MAX_UPLOAD_BYTES
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(
            f"{settings.MODELTEL_MAX_UPLOAD_BYTES}={raw!r} is not a whole number of bytes"
        ) from exc


def error_response(exc: Exception) -> JSONResponse:
    """The HTTP answer for a modeltel error (message in ``detail``)."""
    if isinstance(exc, PayloadTooLargeError):
        return JSONResponse({"detail": str(exc)}, status_code=413)
    if isinstance(exc, (InputError, ConfigError)):
        return JSONResponse({"detail": str(exc)}, status_code=400)
    if isinstance(exc, NotFoundError):
        return JSONResponse({"detail": str(exc)}, status_code=404)
    if isinstance(exc, StoreUnavailableError):
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})
    if isinstance(exc, StoreError):
        return JSONResponse({"detail": str(exc)}, status_code=500)
    return JSONResponse({"detail": str(exc)}, status_code=400)


def _analyzer(request: Request) -> Any:
    from modeltel.analyzer.analyzer import Analyzer
    from modeltel.analyzer.config import load_config

    return Analyzer(request.app.state.store, load_config())


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"upload of {declared} bytes exceeds the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"upload exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _upload_payload(request: Request) -> tuple[Any, dict[str, Any]]:
    """(data, options) of an upload request: bytes or a DataFrame, plus the named options."""
    import pandas as pd

    options: dict[str, Any] = {k: v for k, v in request.query_params.items() if k in _OPTIONS}
    options["model"] = request.query_params.get("model")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    limit = max_upload_bytes()
    if content_type == "multipart/form-data":
        form = await request.form(max_part_size=limit)
        try:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise InputError("the form has no file field named 'file'")
            data = await upload.read()
            for key in ("model", *_OPTIONS):
                value = form.get(key)
                if isinstance(value, str) and value:
                    options[key] = value
            filename = (upload.filename or "").lower()
        finally:
            await form.close()
        if "format" not in options and filename.endswith((".parquet", ".pq")):
            options["format"] = "parquet"
        return data, options
    raw = await _body(request, limit)
    if content_type == "application/json":
        try:
            payload = json.loads(raw or b"null")
        except ValueError as exc:
            raise InputError(f"the body is not valid JSON: {exc}") from exc
        if isinstance(payload, dict):
            records = payload.get("records")
            for key in ("model", *_OPTIONS):
                if payload.get(key) is not None:
                    options[key] = payload[key]
        else:
            records = payload
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise InputError('JSON uploads need "records": a list of objects, one per row')
        if not records:
            raise InputError("the upload has no rows")
        return pd.DataFrame.from_records(records), options
    if content_type in _PARQUET_TYPES:
        options.setdefault("format", "parquet")
    elif content_type in ("text/csv", "application/csv"):
        options.setdefault("format", "csv")
    return raw, options


def drift_router() -> APIRouter:
    """``POST /api/references``, ``GET /api/models/{model}/drift[/histograms]``, ``POST
    /api/analyze``."""
    router = APIRouter(tags=["drift"])

    @router.post("/api/references", status_code=201)
    async def upload(request: Request) -> JSONResponse:
        """Store a reference (CSV/Parquet file or JSON records) for a model version."""
        from modeltel.analyzer.reference import upload_reference

        try:
            data, options = await _upload_payload(request)
            model = options.pop("model", None)
            if not model:
                raise InputError("say which model the reference is for: ?model=NAME")
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
                frame = _analyzer(request).drift(
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
        return JSONResponse(_jsonable(to_records(frame)))

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
            analyzer = _analyzer(request)
            windows = analyzer.windows(None if start else window, start=start, end=end)
            if not 2 <= bins <= 200:
                raise InputError("bins must be between 2 and 200")
            answer = analyzer.histograms(model, version, windows[0], reference=reference, bins=bins)
        except ModeltelError as exc:
            return error_response(exc)
        return JSONResponse(_jsonable(answer))

    @router.post("/api/analyze")
    def analyze(
        request: Request, model: str | None = None, window: str = "1h", end: datetime | None = None
    ) -> JSONResponse:
        """Run every analysis now for ``model`` (or all active models); the tidy records."""
        try:
            frame = _analyzer(request).analyze(model, window=window, end=end)
        except ModeltelError as exc:
            return error_response(exc)
        return JSONResponse(_jsonable(to_records(frame)))

    return router


def _jsonable(value: Any) -> Any:
    from modeltel.analyzer.sql import jsonable

    return jsonable(value)
