"""File and JSON uploads over HTTP (references and labels), read within a size limit.

An upload is a CSV or Parquet file, sent as the multipart form field ``file`` or as the raw
body (``Content-Type: text/csv`` or ``application/vnd.apache.parquet``), or JSON records.
Named options come as query parameters, form fields or JSON keys.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from modeltel.analyzer.base import settings
from modeltel.analyzer.base.errors import ConfigError, InputError, PayloadTooLargeError

DEFAULT_MAX_UPLOAD_BYTES = 512 * 1024 * 1024
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet", "application/parquet")
CSV_TYPES = ("text/csv", "application/csv", "text/plain")


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


async def read_body(request: Request, limit: int, what: str = "upload") -> bytes:
    """The request body; :class:`PayloadTooLargeError` (naming ``what``) as soon as it
    exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"{what} of {declared} bytes exceeds the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"{what} exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class UploadKind:
    """What one upload endpoint accepts: its option names and its JSON shape."""

    options: tuple[str, ...]
    records_keys: tuple[str, ...]
    """JSON keys holding the records, tried in order (a bare JSON list is also accepted)."""
    json_hint: str
    """Said when the JSON records are missing or malformed."""
    empty: str
    """Said when there are no records."""
    no_model: str
    """Said when the upload does not name its model."""
    defaults: Mapping[str, str] = field(default_factory=dict)
    """Values of options the upload leaves out or empty."""

    def arguments(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Every option as a keyword argument of the store function: given, else default."""
        return {
            name: options.get(name) or self.defaults.get(name, options.get(name))
            for name in self.options
        }


async def upload_payload(request: Request, kind: UploadKind) -> tuple[str, Any, dict[str, Any]]:
    """``(model, data, options)``: the model the upload is for, the file's bytes or a DataFrame
    of the JSON records, and the named options (``format`` set when the upload says)."""
    data, options = await _read_upload(request, kind)
    model = options.pop("model", None)
    if not model:
        raise InputError(kind.no_model)
    return str(model), data, options


async def _read_upload(request: Request, kind: UploadKind) -> tuple[Any, dict[str, Any]]:
    import pandas as pd

    options: dict[str, Any] = {k: v for k, v in request.query_params.items() if k in kind.options}
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
            for key in ("model", *kind.options):
                value = form.get(key)
                if isinstance(value, str) and value:
                    options[key] = value
            filename = (upload.filename or "").lower()
        finally:
            await form.close()
        if "format" not in options and filename.endswith((".parquet", ".pq")):
            options["format"] = "parquet"
        return data, options
    raw = await read_body(request, limit)
    if content_type == "application/json":
        try:
            payload = json.loads(raw or b"null")
        except ValueError as exc:
            raise InputError(f"the body is not valid JSON: {exc}") from exc
        if isinstance(payload, dict):
            records = next((payload[k] for k in kind.records_keys if k in payload), None)
            for key in ("model", *kind.options):
                if payload.get(key) is not None:
                    options[key] = payload[key]
        else:
            records = payload
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise InputError(kind.json_hint)
        if not records:
            raise InputError(kind.empty)
        return pd.DataFrame.from_records(records), options
    if content_type in PARQUET_TYPES:
        options.setdefault("format", "parquet")
    elif content_type in CSV_TYPES:
        options.setdefault("format", "csv")
    return raw, options
