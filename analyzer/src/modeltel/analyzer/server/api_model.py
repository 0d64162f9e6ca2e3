"""Attribution and multivariate drift over HTTP.

- ``GET /api/models/{model}/attribution`` — feature importances (mean |attribution|), ranks,
  and the ranking's rank correlation and top-k overlap with the reference period;
- ``GET /api/models/{model}/multivariate`` — the PCA reconstruction error against its
  threshold and the share of outlier predictions.

Both answer the latest stored results (tidy records, as ``modeltel analyze --format json``);
with ``window``/``start``/``end`` or ``compute=true`` they are computed now and stored.
The worst predictions themselves are listed by ``GET /api/models/{model}/outliers?method=
multivariate``.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from modeltel.analyzer.server.api_performance import _stored_or_computed


def model_router() -> APIRouter:
    """``GET /api/models/{model}/attribution|multivariate``."""
    router = APIRouter(tags=["attribution and multivariate drift"])

    @router.get("/api/models/{model}/attribution")
    def attribution(
        request: Request,
        model: str,
        version: str | None = None,
        window: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        compute: bool = False,
    ) -> JSONResponse:
        """Feature importances and how far their ranking moved from the reference period."""
        return _stored_or_computed(
            request, "attribution", model, version, compute, window=window, start=start, end=end
        )

    @router.get("/api/models/{model}/multivariate")
    def multivariate(
        request: Request,
        model: str,
        version: str | None = None,
        window: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        compute: bool = False,
    ) -> JSONResponse:
        """PCA reconstruction error against the reference's variability; outlier share."""
        return _stored_or_computed(
            request, "multivariate", model, version, compute, window=window, start=start, end=end
        )

    return router
