"""How the JSON API answers: values made JSON-safe, modeltel errors as HTTP statuses, and the
:class:`~modeltel.analyzer.orchestration.analyzer.Analyzer` a request works with.

The configuration file is read per request (``$MODELTEL_CONFIG``) so edits apply without a
restart; the store is ``request.app.state.store``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from modeltel.analyzer.base.config import load_config
from modeltel.analyzer.base.errors import (
    ConfigError,
    InputError,
    NotFoundError,
    PayloadTooLargeError,
    StoreError,
    StoreUnavailableError,
)
from modeltel.analyzer.orchestration.analyzer import Analyzer


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


def json_answer(value: Any, status_code: int = 200) -> JSONResponse:
    """``value`` (records, dicts, numpy and pandas values) as a JSON response."""
    from modeltel.analyzer.sql.console import jsonable

    return JSONResponse(jsonable(value), status_code=status_code)


def request_analyzer(request: Request) -> Analyzer:
    """An Analyzer on the app's store with the configuration as it is now."""
    return Analyzer(request.app.state.store, load_config())
