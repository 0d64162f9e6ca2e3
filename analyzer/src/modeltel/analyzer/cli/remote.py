"""The commands' operations through a running ``modeltel serve`` (``--server URL``).

Every operation is one request to the server's HTTP API, with ``Authorization: Bearer`` when
a token is set (``$MODELTEL_API_TOKEN``). HTTP errors become the modeltel error of the same
meaning, carrying the server's message; an unreachable server is
:class:`StoreUnavailableError`. So a command behaves the same whether it opened the store or
asked the server.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from modeltel.analyzer.base import settings
from modeltel.analyzer.base.errors import (
    ConfigError,
    InputError,
    ModeltelError,
    NotFoundError,
    QueryError,
    StoreUnavailableError,
)
from modeltel.analyzer.cli.backend import (
    AnalysisQuery,
    Backend,
    DriftQuery,
    ExplainQuery,
    OutlierQuery,
    Records,
    SqlRows,
)

LONG = 600.0
"""Seconds an analysis or upload may take on the server."""


def quote(segment: str) -> str:
    """``segment`` escaped for use as one path segment."""
    return urllib.parse.quote(segment, safe="")


def url_for(server: str, path: str, query: dict[str, Any] | None = None) -> str:
    """``server`` + ``path`` + the query string of the non-None ``query`` items (a list: the
    parameter repeated)."""
    url = server.rstrip("/") + path
    items = {k: v for k, v in (query or {}).items() if v is not None}
    return url + ("?" + urllib.parse.urlencode(items, doseq=True) if items else "")


_UPLOAD_PATHS = {"reference": "/api/references", "labels": "/api/labels"}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _parameters(query: DriftQuery | OutlierQuery) -> dict[str, Any]:
    """The query string of a drift or outlier request: version and the options, times in
    ISO 8601 and lists comma-separated."""
    out: dict[str, Any] = {"version": query.version}
    for key, value in query.options().items():
        if isinstance(value, datetime):
            value = _iso(value)
        elif isinstance(value, list):
            value = ",".join(value) or None
        out[key] = value
    return out


def _upload_format(path: Path, options: dict[str, Any]) -> str:
    return options.get("format") or (
        "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"
    )


class ServerBackend(Backend):
    """The server at ``server`` (e.g. ``http://127.0.0.1:4318``), with an optional token."""

    def __init__(self, server: str, token: str | None) -> None:
        self.server = server
        self.token = token

    # -- transport -----------------------------------------------------------------------------

    def request(
        self,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        data: bytes | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        timeout: float = 60.0,
    ) -> bytes:
        """GET, or POST ``body`` as JSON (or the raw ``data``); the answer's body."""
        if body is not None:
            data = json.dumps(body).encode()
        request = urllib.request.Request(
            url_for(self.server, path, query), data=data, method="GET" if data is None else "POST"
        )
        request.add_header("Accept", accept)
        if data is not None:
            request.add_header("Content-Type", content_type)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            raise http_error(exc, path) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise StoreUnavailableError(
                f"cannot reach the modeltel server at {self.server} ({reason}); is "
                "`modeltel serve` running there?"
            ) from exc

    def request_json(self, path: str, **kwargs: Any) -> Any:
        """Like :meth:`request`, decoding a JSON answer."""
        raw = self.request(path, **kwargs)
        try:
            return json.loads(raw or b"null")
        except ValueError as exc:
            raise StoreUnavailableError(
                f"the server at {self.server} did not answer {path} with JSON; is it modeltel?"
            ) from exc

    # -- operations ----------------------------------------------------------------------------

    def models(self) -> Records:
        return list(self.request_json("/api/models") or [])

    def analyze(
        self, model: str | None, *, window: str, end: datetime | None, write: bool
    ) -> Records:
        query = {"model": model, "window": window, "end": _iso(end)}
        return list(self.request_json("/api/analyze", query=query, body={}, timeout=LONG) or [])

    def drift(self, query: DriftQuery) -> Records:
        path = f"/api/models/{quote(query.model)}/drift"
        parameters = {**_parameters(query), "compute": "true"}
        parameters.pop("write")  # the server stores what it computes
        return list(self.request_json(path, query=parameters, timeout=LONG) or [])

    def run(self, query: AnalysisQuery) -> Records:
        path = f"/api/models/{quote(query.model)}/{quote(query.kind)}"
        parameters = {
            "version": query.version,
            "window": query.window,
            "start": _iso(query.start),
            "end": _iso(query.end),
            "compute": "true",
            **query.analysis_options(),
        }
        return list(self.request_json(path, query=parameters, timeout=LONG) or [])

    def outliers(self, query: OutlierQuery) -> Records:
        path = f"/api/models/{quote(query.model)}/outliers"
        return list(self.request_json(path, query=_parameters(query), timeout=LONG) or [])

    def explain(self, query: ExplainQuery) -> dict[str, Any]:
        path = f"/api/models/{quote(query.model)}/explain"
        parameters = {
            "version": query.version,
            "metric": query.metric,
            "window": query.window,
            "end": _iso(query.end),
            "baseline_start": _iso(query.baseline_start),
            "dimension": query.dimensions,
            "max_values": query.max_values,
            "top": query.top,
        }
        return dict(self.request_json(path, query=parameters, timeout=LONG))

    def sql(self, query: str, *, max_rows: int, timeout_s: float) -> SqlRows:
        body = {"query": query, "max_rows": max_rows, "timeout_s": timeout_s}
        payload = self.request_json("/api/sql", body=body, timeout=timeout_s + 30)
        return SqlRows(
            payload["columns"],
            payload["rows"],
            payload.get("truncated", False),
            payload.get("max_rows"),
        )

    def report_html(
        self, model: str, *, version: str | None, period: str, end: datetime | None
    ) -> str:
        query = {"version": version, "period": period, "end": _iso(end)}
        path = f"/models/{quote(model)}/report"
        return self.request(path, query=query, accept="text/html", timeout=300).decode("utf-8")

    def upload(self, kind: str, model: str, path: Path, options: dict[str, Any]) -> dict[str, Any]:
        fmt = _upload_format(path, options)
        query = {**options, "model": model, "format": fmt}
        content_type = "application/vnd.apache.parquet" if fmt == "parquet" else "text/csv"
        answer = self.request_json(
            _UPLOAD_PATHS[kind],
            query=query,
            data=path.read_bytes(),
            content_type=content_type,
            timeout=LONG,
        )
        return dict(answer)


def http_error(exc: urllib.error.HTTPError, path: str) -> ModeltelError:
    """The modeltel error for an HTTP error answer."""
    try:
        detail = json.loads(exc.read() or b"{}").get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list):  # FastAPI validation errors
        detail = "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', [])[1:])}: {item.get('msg')}"
            for item in detail
            if isinstance(item, dict)
        )
    message = str(detail or exc.reason or f"HTTP {exc.code}")
    if exc.code == 404:
        return NotFoundError(message)
    if exc.code in (401, 403):
        return ConfigError(
            f"the server refused the request ({message}); set {settings.MODELTEL_API_TOKEN}"
        )
    if exc.code in (400, 409, 413, 422):
        return QueryError(message) if path.endswith("/api/sql") else InputError(message)
    return StoreUnavailableError(f"the server answered {exc.code}: {message}")
