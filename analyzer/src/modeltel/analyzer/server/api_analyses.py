"""Analysis results over HTTP, one route per registered analysis.

- ``GET /api/models/{model}/{kind}`` for every kind of :data:`~modeltel.analyzer.analyses.ANALYSES`
  (``drift``, ``performance``, ``service``, ``quality``, ``attribution``, ``multivariate`` …):
  the latest stored results of that kind (tidy records, as ``modeltel analyze --format json``).
  With ``window``/``start``/``end`` or ``compute=true`` they are computed now and stored.
  Drift also takes ``last_n``, ``reference``, ``baseline_version``, ``segment_by`` and
  ``methods`` (comma-separated); performance ``last_n``, ``segment_by`` (dimensions,
  comma-separated) and ``sliding_size``/``sliding_step`` (sliding-window results are not
  stored); quality and service ``segment_by``. Stored drift results include every segment;
  the others answer the unsegmented ones. ``segment=dimension=value`` (every kind) answers
  that segment's records only: 400 for a malformed value, 404 when no stored record has it.
- ``GET /api/models/{model}/drift/histograms`` — reference-vs-current bins per feature.
- ``GET /api/models/{model}/outliers`` — the predictions with the highest outlier score in a
  window (default the last hour), worst first; ``method=range`` (features outside the
  reference's central range, the default) or ``method=multivariate`` (PCA reconstruction error).
- ``GET /api/models/{model}/explain`` — which slices of the traffic explain a metric's change
  between a window and the one before it (or the one starting at ``baseline_start``): the
  :meth:`~modeltel.analyzer.orchestration.explain.Explanation.to_dict` of
  :meth:`~modeltel.analyzer.orchestration.analyzer.Analyzer.explain` (see ``docs/explain.md``).
- ``POST /api/analyze`` — run every analysis now (what ``modeltel analyze --server`` calls).

The store is ``request.app.state.store``; the configuration file is read per request
(``$MODELTEL_CONFIG``) so edits apply without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Query as QueryParameter
from fastapi.responses import JSONResponse

from modeltel.analyzer.analyses import ANALYSES
from modeltel.analyzer.base.errors import InputError, ModeltelError, NotFoundError
from modeltel.analyzer.base.results import read_results, to_records
from modeltel.analyzer.orchestration.analyzer import OUTLIER_METHODS
from modeltel.analyzer.server.answers import error_response, json_answer, request_analyzer

MAX_OUTLIERS = 10_000


@dataclass
class Asked:
    """The query parameters of every results route."""

    version: str | None = None
    window: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    compute: bool = False
    segment: str | None = None
    """Only the records of this segment (``dimension=value``)."""


Query = Annotated[Asked, Depends()]


def results_answer(
    request: Request,
    kind: str,
    model: str,
    asked: Asked,
    *,
    segments: bool = False,
    write: bool = True,
    **options: Any,
) -> JSONResponse:
    """The latest stored results of ``kind`` (with every segment when ``segments``), or —
    when ``compute``, a window or any of ``options`` is asked for, or nothing is stored —
    the results computed now (stored unless ``write`` is False). With ``asked.segment`` only
    that segment's records: stored ones unless computing is asked for, 404 when none."""
    arguments = {"window": asked.window, "start": asked.start, "end": asked.end, **options}
    try:
        segment = _segment(asked.segment)
        frame = None
        if not asked.compute and all(v is None for v in arguments.values()):
            frame = read_results(
                request.app.state.store,
                model=model,
                version=asked.version,
                kind=kind,
                latest_window_only=True,
            )
            if segment is None and not segments and not frame.empty:
                frame = frame[frame["segment"].fillna("") == ""]
        if frame is None or (frame.empty and segment is None):
            analyzer = request_analyzer(request)
            frame = analyzer.run(kind, model, asked.version, write=write, **arguments)
        if segment is not None:
            frame = frame[frame["segment"].fillna("") == segment] if not frame.empty else frame
            if frame.empty:
                raise NotFoundError(f"no {kind} results of model {model!r} in segment {segment!r}")
    except ModeltelError as exc:
        return error_response(exc)
    return json_answer(to_records(frame))


def _segment(text: str | None) -> str | None:
    """The segment filter ``dimension=value``; InputError naming a malformed one."""
    if text is None:
        return None
    dimension, equals, value = text.partition("=")
    if not equals or not dimension.strip() or not value.strip():
        raise InputError(
            f"segment={text!r} is not a segment; write dimension=value, e.g. segment=region=eu"
        )
    return text


SEGMENTED = frozenset({"quality", "service"})
"""The kinds of the generic route that also take ``segment_by`` (comma-separated dimensions;
performance and drift have routes of their own)."""


def add_results_route(router: APIRouter, kind: str, summary: str) -> None:
    """``GET /api/models/{model}/<kind>``: the latest stored results of ``kind``, or computed
    now over ``window``/``start``/``end`` (or when ``compute=true``; per segment of
    ``segment_by`` too for the :data:`SEGMENTED` kinds)."""

    def endpoint(request: Request, model: str, asked: Query) -> JSONResponse:
        return results_answer(request, kind, model, asked)

    def segmented(
        request: Request, model: str, asked: Query, segment_by: str | None = None
    ) -> JSONResponse:
        options = {} if segment_by is None else {"segment_by": segment_by}
        return results_answer(request, kind, model, asked, **options)

    if kind in SEGMENTED:
        endpoint = segmented

    router.add_api_route(
        f"/api/models/{{model}}/{kind}", endpoint, methods=["GET"], name=kind, description=summary
    )


def analyses_router() -> APIRouter:
    """The results of every registered analysis, drift histograms, outliers and
    ``POST /api/analyze``."""
    router = APIRouter(tags=["analyses"])

    @router.get("/api/models/{model}/drift")
    def drift(
        request: Request,
        model: str,
        asked: Query,
        last_n: int | None = None,
        reference: str | None = None,
        baseline_version: str | None = None,
        segment_by: str | None = None,
        methods: str | None = None,
    ) -> JSONResponse:
        """Drift records of the latest window (stored), or computed now for the given window."""
        return results_answer(
            request,
            "drift",
            model,
            asked,
            segments=True,
            last_n=last_n,
            reference=reference,
            baseline_version=baseline_version,
            segment_by=segment_by,
            methods=methods.split(",") if methods else None,
        )

    @router.get("/api/models/{model}/performance")
    def performance(
        request: Request,
        model: str,
        asked: Query,
        last_n: int | None = None,
        segment_by: str | None = None,
        sliding_size: int | None = None,
        sliding_step: int | None = None,
    ) -> JSONResponse:
        """Realized and estimated performance, label coverage and delay (per segment of
        ``segment_by``, comma-separated dimensions, too)."""
        sliding = None
        if sliding_size is not None:
            if sliding_size <= 0 or (sliding_step is not None and sliding_step <= 0):
                return error_response(InputError("sliding_size and sliding_step must be positive"))
            sliding = (sliding_size, sliding_step or sliding_size)
        elif sliding_step is not None:
            return error_response(InputError("sliding_step needs sliding_size"))
        return results_answer(
            request,
            "performance",
            model,
            asked,
            write=sliding is None,
            last_n=last_n,
            sliding=sliding,
            segment_by=segment_by,
        )

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
            analyzer = request_analyzer(request)
            windows = analyzer.windows(None if start else window, start=start, end=end)
            if not 2 <= bins <= 200:
                raise InputError("bins must be between 2 and 200")
            answer = analyzer.histograms(model, version, windows[0], reference=reference, bins=bins)
        except ModeltelError as exc:
            return error_response(exc)
        return json_answer(answer)

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
            if method not in OUTLIER_METHODS:
                raise InputError(f"method must be {' or '.join(OUTLIER_METHODS)}, not {method!r}")
            frame = request_analyzer(request).outliers(
                model, version, window=window, start=start, end=end, limit=limit, method=method
            )
        except ModeltelError as exc:
            return error_response(exc)
        return json_answer(frame.to_dict("records"))

    @router.get("/api/models/{model}/explain")
    def explain(
        request: Request,
        model: str,
        version: str | None = None,
        metric: str | None = None,
        window: str | None = None,
        end: str | None = None,
        baseline_start: str | None = None,
        dimension: Annotated[list[str] | None, QueryParameter()] = None,
        max_values: int = 20,
        top: int = 10,
    ) -> JSONResponse:
        """Which slices explain the change of ``metric`` between the window of length
        ``window`` ending at ``end`` and the one before (or the one at ``baseline_start``),
        cut by each ``dimension`` (default every feature and the serving service)."""
        try:
            explanation = request_analyzer(request).explain(
                model,
                version,
                metric=metric,
                window=window,
                end=_moment("end", end),
                baseline_start=_moment("baseline_start", baseline_start),
                dimensions=dimension or None,
                max_values=max_values,
                top=top,
            )
        except ModeltelError as exc:
            return error_response(exc)
        return json_answer(explanation.to_dict())

    @router.post("/api/analyze")
    def analyze(
        request: Request, model: str | None = None, window: str = "1h", end: datetime | None = None
    ) -> JSONResponse:
        """Run every analysis now for ``model`` (or all active models); the tidy records."""
        try:
            frame = request_analyzer(request).analyze(model, window=window, end=end)
        except ModeltelError as exc:
            return error_response(exc)
        return json_answer(to_records(frame))

    routed = {getattr(route, "path", "") for route in router.routes}
    for kind, analysis in ANALYSES.items():
        if f"/api/models/{{model}}/{kind}" not in routed:
            add_results_route(router, kind, analysis.title)
    return router


def _moment(name: str, text: str | None) -> datetime | None:
    """The ISO 8601 time of query parameter ``name`` (naive = UTC); InputError naming it."""
    if text is None or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{name}={text!r} is not a time; write e.g. 2026-01-31T12:00") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
