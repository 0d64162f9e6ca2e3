"""Labels, performance, service health and data quality over HTTP.

- ``POST /api/labels`` — store ground truth for a model. The body is a CSV or Parquet file
  (multipart field ``file``, or the raw body with ``Content-Type: text/csv`` /
  ``application/vnd.apache.parquet``), or JSON ``{"model": "churn", "labels":
  [{"prediction_id": "a1", "label": "1"}, …]}``. ``model``, ``id_column``, ``label_column``,
  ``value_column``, ``timestamp_column`` and ``format`` come as query parameters, form fields
  or JSON keys. Answers 201 with the counts stored, repeated and unknown; 400 names the
  problem with the file.
- ``GET /api/models/{model}/performance|service|quality`` — the latest stored results of that
  kind (tidy records, as ``modeltel analyze --format json``). With ``window``/``start``/
  ``end`` (``last_n`` and ``sliding_size``/``sliding_step`` for performance) or
  ``compute=true`` they are computed now; computed time-window results are stored.
- ``GET /api/models/{model}/outliers`` — the predictions with the highest outlier score in a
  window (default the last hour), worst first; ``method=range`` (features outside the
  reference's central range, the default) or ``method=multivariate`` (PCA reconstruction error).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from modeltel.analyzer.errors import InputError, ModeltelError
from modeltel.analyzer.results import read_results, to_records
from modeltel.analyzer.server.api_drift import error_response, max_upload_bytes

_OPTIONS = ("id_column", "label_column", "value_column", "timestamp_column", "format")
_PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet", "application/parquet")
MAX_OUTLIERS = 10_000


def _analyzer(request: Request) -> Any:
    from modeltel.analyzer.analyzer import Analyzer
    from modeltel.analyzer.config import load_config

    return Analyzer(request.app.state.store, load_config())


def _jsonable(value: Any) -> Any:
    from modeltel.analyzer.sql import jsonable

    return jsonable(value)


async def _read_body(request: Request, limit: int) -> bytes:
    from modeltel.analyzer.errors import PayloadTooLargeError

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


async def _labels_payload(request: Request) -> tuple[Any, dict[str, Any]]:
    """(data, options): file bytes or a DataFrame of JSON records, and the named options."""
    import pandas as pd

    options: dict[str, Any] = {k: v for k, v in request.query_params.items() if k in _OPTIONS}
    options["model"] = request.query_params.get("model")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    limit = max_upload_bytes()
    if content_type == "multipart/form-data":
        form = await request.form(max_part_size=limit)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InputError("the form has no file field named 'file'")
        data = await upload.read()
        for key in ("model", *_OPTIONS):
            value = form.get(key)
            if isinstance(value, str) and value:
                options[key] = value
        if "format" not in options and (upload.filename or "").lower().endswith(
            (".parquet", ".pq")
        ):
            options["format"] = "parquet"
        return data, options
    raw = await _read_body(request, limit)
    if content_type == "application/json":
        try:
            payload = json.loads(raw or b"null")
        except ValueError as exc:
            raise InputError(f"the body is not valid JSON: {exc}") from exc
        if isinstance(payload, dict):
            records = payload.get("labels", payload.get("records"))
            for key in ("model", *_OPTIONS):
                if payload.get(key) is not None:
                    options[key] = payload[key]
        else:
            records = payload
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise InputError(
                'JSON label uploads need "labels": a list of objects such as '
                '{"prediction_id": "a1", "label": "1"}'
            )
        if not records:
            raise InputError("the upload has no labels")
        return pd.DataFrame.from_records(records), options
    if content_type in _PARQUET_TYPES:
        options.setdefault("format", "parquet")
    elif content_type in ("text/csv", "application/csv", "text/plain"):
        options.setdefault("format", "csv")
    return raw, options


def _stored_or_computed(
    request: Request, kind: str, model: str, version: str | None, compute: bool, **kwargs: Any
) -> JSONResponse:
    try:
        frame = None
        if not compute and all(v is None for v in kwargs.values()):
            frame = read_results(
                request.app.state.store,
                model=model,
                version=version,
                kind=kind,
                latest_window_only=True,
            )
            if not frame.empty:
                frame = frame[frame["segment"].fillna("") == ""]
        if frame is None or frame.empty:
            analyzer = _analyzer(request)
            method = getattr(analyzer, kind)
            sliding = kwargs.pop("sliding", None)
            if sliding is not None:
                frame = method(model, version, sliding=sliding, write=False, **kwargs)
            else:
                frame = method(model, version, **kwargs)
    except ModeltelError as exc:
        return error_response(exc)
    return JSONResponse(_jsonable(to_records(frame)))


def performance_router() -> APIRouter:
    """``POST /api/labels`` and ``GET /api/models/{model}/performance|service|quality|outliers``."""
    router = APIRouter(tags=["performance"])

    @router.post("/api/labels", status_code=201)
    async def labels(request: Request) -> JSONResponse:
        """Store labels (CSV/Parquet file or JSON records) for a model; report what happened."""
        from modeltel.analyzer.labels import upload_labels

        try:
            data, options = await _labels_payload(request)
            model = options.pop("model", None)
            if not model:
                raise InputError("say which model the labels are for: ?model=NAME")
            summary = await run_in_threadpool(
                upload_labels,
                request.app.state.store,
                str(model),
                data,
                id_column=options.get("id_column") or "prediction_id",
                label_column=options.get("label_column") or "label",
                value_column=options.get("value_column"),
                timestamp_column=options.get("timestamp_column"),
                format=options.get("format"),
            )
        except ModeltelError as exc:
            return error_response(exc)
        return JSONResponse(_jsonable(summary.as_dict()), status_code=201)

    @router.get("/api/models/{model}/performance")
    def performance(
        request: Request,
        model: str,
        version: str | None = None,
        window: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        last_n: int | None = None,
        sliding_size: int | None = None,
        sliding_step: int | None = None,
        compute: bool = False,
    ) -> JSONResponse:
        """Realized and estimated performance, label coverage and delay."""
        sliding = None
        if sliding_size is not None:
            if sliding_size <= 0 or (sliding_step is not None and sliding_step <= 0):
                return error_response(InputError("sliding_size and sliding_step must be positive"))
            sliding = (sliding_size, sliding_step or sliding_size)
        elif sliding_step is not None:
            return error_response(InputError("sliding_step needs sliding_size"))
        return _stored_or_computed(
            request,
            "performance",
            model,
            version,
            compute,
            window=window,
            start=start,
            end=end,
            last_n=last_n,
            sliding=sliding,
        )

    @router.get("/api/models/{model}/service")
    def service(
        request: Request,
        model: str,
        version: str | None = None,
        window: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        compute: bool = False,
    ) -> JSONResponse:
        """Latency percentiles, throughput, errors, volume, staleness, class shares."""
        return _stored_or_computed(
            request, "service", model, version, compute, window=window, start=start, end=end
        )

    @router.get("/api/models/{model}/quality")
    def quality(
        request: Request,
        model: str,
        version: str | None = None,
        window: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        compute: bool = False,
    ) -> JSONResponse:
        """Missing, wrong-type, out-of-range, new-category ratios; features new/vanished."""
        return _stored_or_computed(
            request, "quality", model, version, compute, window=window, start=start, end=end
        )

    @router.get("/api/models/{model}/outliers")
    def outliers(
        request: Request,
        model: str,
        version: str | None = None,
        window: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 20,
        method: str = "range",
    ) -> JSONResponse:
        """The worst predictions of the window by outlier score (``method``: range or
        multivariate)."""
        try:
            if not 1 <= limit <= MAX_OUTLIERS:
                raise InputError(f"limit must be between 1 and {MAX_OUTLIERS}")
            if method not in ("range", "multivariate"):
                raise InputError(f"method must be range or multivariate, not {method!r}")
            frame = _analyzer(request).outliers(
                model, version, window=window, start=start, end=end, limit=limit, method=method
            )
        except ModeltelError as exc:
            return error_response(exc)
        return JSONResponse(_jsonable(frame.to_dict("records")))

    return router
