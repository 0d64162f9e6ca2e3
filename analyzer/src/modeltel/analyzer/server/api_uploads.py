"""Uploads over HTTP: references and labels.

- ``POST /api/references`` — store a reference. The body is a CSV or Parquet file, either as a
  multipart form field ``file`` (``curl -F file=@train.csv``) or as the raw body
  (``Content-Type: text/csv`` or ``application/vnd.apache.parquet``), or JSON:
  ``{"records": [{"age": 31, "plan": "gold"}, …]}`` (or a bare list of records). ``model``,
  ``version``, ``name``, ``categorical``, ``numerical``, ``prediction_column``,
  ``score_column``, ``value_column``, ``exclude`` and the capture settings ``features_include``,
  ``features_exclude`` and ``treatments`` (``postcode:hash,name:drop``; else the server's
  ``MODELTEL_*`` variables, the hash salt always ``MODELTEL_HASH_SALT``) come as query
  parameters, form fields or JSON keys. Answers 201 with what was stored; 400 names what is
  wrong with the file or the settings.
- ``POST /api/labels`` — store ground truth for a model: a CSV or Parquet file as above, or
  JSON ``{"model": "churn", "labels": [{"prediction_id": "a1", "label": "1"}, …]}``.
  ``model``, ``id_column``, ``label_column``, ``value_column``, ``timestamp_column`` and
  ``format`` come as query parameters, form fields or JSON keys. Answers 201 with the counts
  stored, repeated and unknown; 400 names the problem with the file.

The store is ``request.app.state.store``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from modeltel.analyzer.base.errors import ModeltelError
from modeltel.analyzer.server.answers import error_response, json_answer
from modeltel.analyzer.server.uploads import UploadKind, upload_payload

REFERENCE_UPLOAD = UploadKind(
    options=(
        "version",
        "name",
        "categorical",
        "numerical",
        "prediction_column",
        "score_column",
        "value_column",
        "exclude",
        "format",
        "features_include",
        "features_exclude",
        "treatments",
    ),
    records_keys=("records",),
    json_hint='JSON uploads need "records": a list of objects, one per row',
    empty="the upload has no rows",
    no_model="say which model the reference is for: ?model=NAME",
    defaults={"name": "default"},
)
LABELS_UPLOAD = UploadKind(
    options=("id_column", "label_column", "value_column", "timestamp_column", "format"),
    records_keys=("labels", "records"),
    json_hint=(
        'JSON label uploads need "labels": a list of objects such as '
        '{"prediction_id": "a1", "label": "1"}'
    ),
    empty="the upload has no labels",
    no_model="say which model the labels are for: ?model=NAME",
    defaults={"id_column": "prediction_id", "label_column": "label"},
)


def uploads_router() -> APIRouter:
    """``POST /api/references`` and ``POST /api/labels``."""
    from modeltel.analyzer.inputs.labels import upload_labels
    from modeltel.analyzer.inputs.reference import upload_reference

    router = APIRouter(tags=["uploads"])
    router.add_api_route(
        "/api/references",
        _upload_route(REFERENCE_UPLOAD, upload_reference),
        methods=["POST"],
        status_code=201,
        summary="Store a reference (CSV/Parquet file or JSON records) for a model version",
    )
    router.add_api_route(
        "/api/labels",
        _upload_route(LABELS_UPLOAD, upload_labels),
        methods=["POST"],
        status_code=201,
        summary="Store labels (CSV/Parquet file or JSON records) for a model",
    )
    return router


def _upload_route(
    kind: UploadKind, store_upload: Callable[..., Any]
) -> Callable[[Request], Awaitable[JSONResponse]]:
    """The endpoint that reads an upload of ``kind`` and stores it with ``store_upload(store,
    model, data, **options)``: 201 with its summary, or the error's answer."""

    async def route(request: Request) -> JSONResponse:
        try:
            model, data, options = await upload_payload(request, kind)
            summary = await run_in_threadpool(
                store_upload, request.app.state.store, model, data, **kind.arguments(options)
            )
        except ModeltelError as exc:
            return error_response(exc)
        return json_answer(summary.as_dict(), status_code=201)

    return route
