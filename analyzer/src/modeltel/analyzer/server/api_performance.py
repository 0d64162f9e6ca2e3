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

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from modeltel.analyzer.errors import InputError, ModeltelError
from modeltel.analyzer.results import read_results, to_records
from modeltel.analyzer.server.answers import error_response, json_answer, request_analyzer
from modeltel.analyzer.server.uploads import UploadKind, upload_payload

_OPTIONS = ("id_column", "label_column", "value_column", "timestamp_column", "format")
LABELS_UPLOAD = UploadKind(
    options=_OPTIONS,
    records_keys=("labels", "records"),
    json_hint=(
        'JSON label uploads need "labels": a list of objects such as '
        '{"prediction_id": "a1", "label": "1"}'
    ),
    empty="the upload has no labels",
    no_model="say which model the labels are for: ?model=NAME",
)
MAX_OUTLIERS = 10_000


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
            analyzer = request_analyzer(request)
            method = getattr(analyzer, kind)
            sliding = kwargs.pop("sliding", None)
            if sliding is not None:
                frame = method(model, version, sliding=sliding, write=False, **kwargs)
            else:
                frame = method(model, version, **kwargs)
    except ModeltelError as exc:
        return error_response(exc)
    return json_answer(to_records(frame))


def add_results_route(router: APIRouter, kind: str, summary: str) -> None:
    """``GET /api/models/{model}/<kind>``: the latest stored results of ``kind``, or computed
    now over ``window``/``start``/``end`` (or when ``compute=true``)."""

    def endpoint(
        request: Request,
        model: str,
        version: str | None = None,
        window: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        compute: bool = False,
    ) -> JSONResponse:
        return _stored_or_computed(
            request, kind, model, version, compute, window=window, start=start, end=end
        )

    router.add_api_route(
        f"/api/models/{{model}}/{kind}", endpoint, methods=["GET"], name=kind, description=summary
    )


def performance_router() -> APIRouter:
    """``POST /api/labels`` and ``GET /api/models/{model}/performance|service|quality|outliers``."""
    router = APIRouter(tags=["performance"])

    @router.post("/api/labels", status_code=201)
    async def labels(request: Request) -> JSONResponse:
        """Store labels (CSV/Parquet file or JSON records) for a model; report what happened."""
        from modeltel.analyzer.labels import upload_labels

        try:
            model, data, options = await upload_payload(request, LABELS_UPLOAD)
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
        return json_answer(summary.as_dict(), status_code=201)

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

    add_results_route(
        router,
        "service",
        "Latency percentiles, throughput, errors, volume, staleness, class shares.",
    )
    add_results_route(
        router,
        "quality",
        "Missing, wrong-type, out-of-range, new-category ratios; features new/vanished.",
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
            frame = request_analyzer(request).outliers(
                model, version, window=window, start=start, end=end, limit=limit, method=method
            )
        except ModeltelError as exc:
            return error_response(exc)
        return json_answer(frame.to_dict("records"))

    return router
