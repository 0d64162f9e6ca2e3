"""Custom metrics of model versions over windows: every expression of a model in one
statement per version, its values turned into records.

A window's record of a metric: ``value`` the aggregate (None, status ``no_data``, when the
window has no predictions — or none with a label, for ``needs_labels`` — or the aggregate is
NULL or not finite), ``threshold`` its ``min`` (else ``max``), status ``alert`` below ``min`` or
above ``max``, ``ok`` within them and ``info`` without bounds; ``current_size`` the predictions
it was evaluated over; ``details`` the expression, its bounds and direction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from modeltel.analyzer.analyses.custom.config import CustomMetric, CustomMetricsConfig
from modeltel.analyzer.analyses.custom.expressions import (
    Parsed,
    metric_key,
    metrics_request,
    parse,
    validate,
)
from modeltel.analyzer.base.analysis import Run, Target
from modeltel.analyzer.base.query import TimeWindows, to_time
from modeltel.analyzer.base.results import Result, Status
from modeltel.analyzer.base.row_scan import RowRequest, rows_for
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window

KIND = "custom"


def _parsed(store: Store, metric: CustomMetric, run: Run) -> Parsed:
    """The checked expression of ``metric``: the one :func:`validate_custom` kept, else parsed
    now (settings loaded without an Analyzer)."""
    cache: dict[tuple[str, str, bool], Parsed] = run.state.setdefault("parsed", {})
    key = metric_key(metric)
    if key not in cache:
        cache[key] = parse(store, metric)
    return cache[key]


def compute_custom(
    store: Store,
    targets: Sequence[Target],
    windows: Sequence[Window],
    settings: CustomMetricsConfig,
    run: Run,
    /,
) -> list[Result]:
    """The records of every configured metric, target and window (none without metrics)."""
    spec = TimeWindows.from_windows(windows)
    results: list[Result] = []
    for model, version in targets:
        config = settings.for_model(model)
        metrics = list(config.metrics.values())
        if not metrics:
            continue
        request = _request(store, config, run)
        answer, _ = rows_for(store, run.scans, KIND, model, version, spec, request)
        evaluated = _by_window(answer, request)
        for key in spec.keys:
            start, end = spec.bounds(key)
            bounds = (to_time(start), to_time(end))
            segments = sorted({seg for w, seg, _ in evaluated if w == key and seg})
            for segment in ["", *segments]:
                for i, metric in enumerate(metrics):
                    row = evaluated.get((key, segment, metric.needs_labels))
                    size = int(row[0]) if row is not None else 0
                    value = row[1 + i] if row is not None else None
                    label = f"{config.segment_by}={segment}" if segment else ""
                    results.append(_record(model, version, bounds, metric, value, size, label))
    return results


def _by_window(
    answer: list[tuple[Any, ...]], request: RowRequest
) -> dict[tuple[int, str, bool], tuple[Any, ...]]:
    """The answer's ``(n, m0, m1 …)`` by (window, segment — "" for all —, over labelled
    predictions only); rows of the unlabelled and of a missing segment value are dropped."""
    names = list(request.keys)
    out: dict[tuple[int, str, bool], tuple[Any, ...]] = {}
    for row in answer:
        w, index, own = (
            int(row[0]),
            int(row[1]),
            dict(zip(names, row[2 : 2 + len(names)], strict=True)),
        )
        grouped = request.sets[index]
        if "has_label" in grouped and own["has_label"] != 1:
            continue
        if "segment" in grouped and own["segment"] is None:
            continue
        segment = str(own["segment"]) if "segment" in grouped else ""
        out[(w, segment, "has_label" in grouped)] = row[2 + len(names) :]
    return out


def custom_request(
    store: Store, settings: CustomMetricsConfig, run: Run, model: str
) -> RowRequest | None:
    """The row request of ``model``'s metrics (None without any)."""
    config = settings.for_model(model)
    return _request(store, config, run) if config.metrics else None


def _request(store: Store, config: CustomMetricsConfig, run: Run) -> RowRequest:
    parsed = [_parsed(store, m, run) for m in config.metrics.values()]
    return metrics_request(parsed, config.segment_by, config.max_segments)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _record(
    model: str,
    version: str,
    bounds: tuple[Any, Any],
    metric: CustomMetric,
    raw: Any,
    size: int,
    segment: str = "",
) -> Result:
    value = _number(raw) if size else None
    details: dict[str, Any] = {"sql": metric.sql}
    for key in ("min", "max", "higher_is_better", "description"):
        if getattr(metric, key) not in (None, ""):
            details[key] = getattr(metric, key)
    if value is None:
        status = Status.NO_DATA
        details["reason"] = (
            "no predictions with a label in the window"
            if metric.needs_labels and not size
            else "no predictions in the window"
            if not size
            else "the aggregate has no finite value"
        )
    elif metric.min is None and metric.max is None:
        status = Status.INFO
    elif (metric.min is not None and value < metric.min) or (
        metric.max is not None and value > metric.max
    ):
        status = Status.ALERT
    else:
        status = Status.OK
    return Result(
        model=model,
        version=version,
        window_start=bounds[0],
        window_end=bounds[1],
        kind=KIND,
        segment=segment,
        metric=metric.name,
        value=value,
        threshold=metric.threshold,
        status=status,
        current_size=size,
        details=details,
    )


def validate_custom(store: Store, settings: CustomMetricsConfig, run: Run) -> None:
    """Check every configured expression against the store (see
    :func:`~modeltel.analyzer.analyses.custom.expressions.validate`) and keep them parsed for
    the computations of ``run``."""
    if settings.metrics or settings.models:
        run.state.setdefault("parsed", {}).update(validate(store, settings))
