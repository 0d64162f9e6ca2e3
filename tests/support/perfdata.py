"""Helpers of the performance tests: predictions and labels written straight into the tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window

T0 = datetime(2026, 3, 2, tzinfo=UTC)
"""A Monday 00:00 UTC: hourly and daily windows start here."""


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=float(seconds))


HOUR = Window(at(0), at(3600))


def realized(frame: pd.DataFrame, metric: str, source: str = "realized") -> pd.Series:
    """The one record of ``metric`` from ``source`` in a results frame."""
    rows = frame[(frame.metric == metric) & (frame.source == source)]
    assert len(rows) == 1, (metric, source, rows)
    return rows.iloc[0]


def value(frame: pd.DataFrame, metric: str, source: str = "realized") -> float | None:
    """Its value (None when undefined)."""
    v = realized(frame, metric, source)["value"]
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)


def _list(values: Any, n: int, default: Any = None) -> list[Any]:
    if values is None:
        return [default] * n
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
        elif isinstance(v, (np.floating, float)):
            out.append(float(v))
        elif isinstance(v, (np.integer,)):
            out.append(int(v))
        else:
            out.append(v)
    return out


def insert_predictions(
    store: Store,
    model: str,
    ids: Sequence[str],
    times: Sequence[datetime],
    *,
    version: str = "1",
    task: str = "classification",
    labels: Sequence[Any] | None = None,
    scores: Sequence[Any] | None = None,
    values: Sequence[Any] | None = None,
    latency: Sequence[float] | None = None,
    errors: Sequence[int] | None = None,
    row_index: Sequence[int] | None = None,
) -> None:
    n = len(ids)
    columns = {
        "model": [model] * n,
        "version": [version] * n,
        "timestamp": list(times),
        "prediction_id": list(ids),
        "task": [task] * n,
        "prediction_label": _list(labels, n),
        "prediction_score": _list(scores, n),
        "prediction_value": _list(values, n),
        "latency_s": _list(latency, n, 0.01),
        "batch_size": [1] * n,
        "row_index": _list(row_index, n, 0),
        "is_error": _list(errors, n, 0),
        "service_name": ["svc"] * n,
        "trace_id": [""] * n,
        "span_id": [""] * n,
    }
    store.insert("ml_predictions", list(columns.values()), list(columns), column_oriented=True)


def insert_features(
    store: Store,
    model: str,
    feature: str,
    ids: Sequence[str],
    times: Sequence[datetime],
    *,
    numbers: Sequence[Any] | None = None,
    texts: Sequence[Any] | None = None,
    categorical: bool = False,
    version: str = "1",
) -> None:
    n = len(ids)
    columns = {
        "model": [model] * n,
        "version": [version] * n,
        "feature": [feature] * n,
        "timestamp": list(times),
        "prediction_id": list(ids),
        "value_num": _list(numbers, n),
        "value": _list(texts, n),
        "categorical": [int(categorical)] * n,
    }
    store.insert("ml_features", list(columns.values()), list(columns), column_oriented=True)
