"""Writing production rows the way the projection views do, for drift tests."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from modeltel.analyzer.base.store import Store

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def write_production(
    store: Store,
    model: str,
    version: str,
    columns: Mapping[str, Sequence[Any]],
    *,
    categorical: Sequence[str] = (),
    start: datetime = T0,
    step: timedelta = timedelta(seconds=1),
    labels: Sequence[str | None] | None = None,
    scores: Sequence[float | None] | None = None,
    values: Sequence[float | None] | None = None,
    id_prefix: str = "p",
) -> list[str]:
    """One prediction per row of ``columns`` (feature → values), ``step`` apart from ``start``.

    Values follow ``ml_features``: numbers in ``value_num`` (text in ``value`` for categorical
    features), None/NaN means the attribute was absent (both NULL).
    """
    n = len(next(iter(columns.values()))) if columns else len(labels or scores or values or [])
    ids = [f"{id_prefix}{i}" for i in range(n)]
    times = [_naive(start + i * step) for i in range(n)]
    feature_rows = []
    for feature, column in columns.items():
        is_cat = feature in categorical
        for i, value in enumerate(column):
            missing = value is None or (isinstance(value, float) and math.isnan(value))
            if missing:
                number, text = None, None
            elif is_cat:
                text = str(value)
                try:
                    number = float(text)
                except ValueError:
                    number = None
            else:
                number, text = float(value), None
            feature_rows.append(
                [model, version, feature, times[i], ids[i], number, text, int(is_cat)]
            )
    if feature_rows:
        store.insert(
            "ml_features",
            feature_rows,
            [
                "model",
                "version",
                "feature",
                "timestamp",
                "prediction_id",
                "value_num",
                "value",
                "categorical",
            ],
        )
    prediction_rows = [
        [
            model,
            version,
            times[i],
            ids[i],
            "classification",
            labels[i] if labels is not None else None,
            scores[i] if scores is not None else None,
            values[i] if values is not None else None,
            0.01,
            1,
            0,
            0,
            "svc",
        ]
        for i in range(n)
    ]
    store.insert(
        "ml_predictions",
        prediction_rows,
        [
            "model",
            "version",
            "timestamp",
            "prediction_id",
            "task",
            "prediction_label",
            "prediction_score",
            "prediction_value",
            "latency_s",
            "batch_size",
            "row_index",
            "is_error",
            "service_name",
        ],
    )
    return ids


def by_key(frame: Any) -> dict[tuple[str | None, str], dict[str, Any]]:
    """Result records keyed by (feature, method)."""
    out = {}
    for record in frame.to_dict("records"):
        feature = record["feature"] if isinstance(record["feature"], str) else None
        out[(feature, record["method"])] = record
    return out


def binned_like(ref: Any, cur: Any, details: Mapping[str, Any]) -> tuple[Any, Any]:
    """Raw samples counted into the bins a result's ``details`` describe (numpy, not SQL)."""
    import numpy as np

    ref, cur = np.asarray(ref, dtype=float), np.asarray(cur, dtype=float)
    if "values" in details:
        support = np.union1d(ref, cur)
        return (
            np.array([np.sum(ref == v) for v in support], dtype=float),
            np.array([np.sum(cur == v) for v in support], dtype=float),
        )
    edges = np.asarray(details["edges"], dtype=float)
    r = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=edges.size + 1)
    c = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=edges.size + 1)
    keep = (r + c) > 0
    return r[keep].astype(float), c[keep].astype(float)


def category_counts(ref: Sequence[str], cur: Sequence[str]) -> tuple[Any, Any]:
    import numpy as np

    keys = sorted(set(ref) | set(cur))
    return (
        np.array([list(ref).count(k) for k in keys], dtype=float),
        np.array([list(cur).count(k) for k in keys], dtype=float),
    )


def module_store(store_url: str):  # type: ignore[no-untyped-def]
    """A migrated store on a database of its own, for a module-scoped fixture (generator)."""
    import uuid

    store = Store(store_url, f"drift_{uuid.uuid4().hex[:10]}")
    try:
        yield store
    finally:
        try:
            store.command(f"DROP DATABASE IF EXISTS `{store.database}`")
        finally:
            store.close()
