"""Talking to a running ``modeltel serve`` (``--server URL``) from the CLI.

HTTP errors become the modeltel error of the same meaning, carrying the server's message,
so a command behaves the same whether it opened the store or asked the server.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from modeltel.analyzer import settings
from modeltel.analyzer.errors import (
    ConfigError,
    InputError,
    ModeltelError,
    NotFoundError,
    QueryError,
    StoreUnavailableError,
)


def quote(segment: str) -> str:
    """``segment`` escaped for use as one path segment."""
    return urllib.parse.quote(segment, safe="")


def url_for(server: str, path: str, query: dict[str, Any] | None = None) -> str:
    """``server`` + ``path`` + the query string of the non-None ``query`` items."""
    url = server.rstrip("/") + path
    items = {k: v for k, v in (query or {}).items() if v is not None}
    return url + ("?" + urllib.parse.urlencode(items) if items else "")


def request_bytes(
    server: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    query: dict[str, Any] | None = None,
    accept: str = "application/json",
    timeout: float = 60.0,
) -> bytes:
    """GET (``body=None``) or POST JSON to the server; return the answer's body."""
    url = url_for(server, path, query)
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    request.add_header("Accept", accept)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    token = os.environ.get(settings.MODELTEL_API_TOKEN)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        raise http_error(exc, path) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise StoreUnavailableError(
            f"cannot reach the modeltel server at {server} ({reason}); is `modeltel serve` "
            "running there?"
        ) from exc


def request_json(
    server: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    query: dict[str, Any] | None = None,
    timeout: float = 60.0,
) -> Any:
    """Like :func:`request_bytes`, decoding a JSON answer."""
    raw = request_bytes(server, path, body, query=query, timeout=timeout)
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise StoreUnavailableError(
            f"the server at {server} did not answer {path} with JSON; is it modeltel?"
        ) from exc


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
