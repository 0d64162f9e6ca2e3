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

from fastapi import APIRouter

from modeltel.analyzer.server.api_performance import add_results_route


def model_router() -> APIRouter:
    """``GET /api/models/{model}/attribution|multivariate``."""
    router = APIRouter(tags=["attribution and multivariate drift"])
    add_results_route(
        router,
        "attribution",
        "Feature importances and how far their ranking moved from the reference period.",
    )
    add_results_route(
        router,
        "multivariate",
        "PCA reconstruction error against the reference's variability; outlier share.",
    )
    return router
