"""Writing production rows (ml_features, ml_predictions) and references for the attribution,
multivariate and outlier tests, the way the projection views store them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from modeltel.analyzer.base.store import Store
from modeltel.analyzer.inputs.reference import upload_reference

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def correlated(rng: np.random.Generator, n: int, rho: float, extra: int = 2) -> np.ndarray:
    """n rows: x1, x2 standard normal with correlation rho, then ``extra`` independent ones."""
    x1 = rng.standard_normal(n)
    x2 = rho * x1 + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    return np.column_stack([x1, x2, *(rng.standard_normal(n) for _ in range(extra))])


def write_matrix(
    store: Store,
    model: str,
    version: str,
    matrix: np.ndarray,
    features: Sequence[str],
    *,
    start: datetime,
    span: timedelta = HOUR,
    id_prefix: str = "p",
) -> list[str]:
    """One prediction per row, evenly spread over ``[start, start + span)``; NaN: absent."""
    n = matrix.shape[0]
    ids = [f"{id_prefix}{i}" for i in range(n)]
    base = np.datetime64(start.astimezone(UTC).replace(tzinfo=None), "ns")
    step = int(span / timedelta(microseconds=1)) * 1000 // n
    times = base + (np.arange(n) * step + 7).astype("timedelta64[ns]")  # nanosecond times
    parts = []
    for j, feature in enumerate(features):
        values = matrix[:, j].astype(float)
        keep = ~np.isnan(values)
        count = int(keep.sum())
        parts.append(
            pa.table(
                {
                    "model": pa.array([model] * count),
                    "version": pa.array([version] * count),
                    "feature": pa.array([feature] * count),
                    "timestamp": pa.array(times[keep], pa.timestamp("ns")),
                    "prediction_id": pa.array(np.array(ids, dtype=object)[keep]),
                    "value_num": pa.array(values[keep], pa.float64()),
                    "value": pa.nulls(count, pa.string()),
                    "categorical": pa.array(np.zeros(count, dtype=np.uint8)),
                }
            )
        )
    store.client.insert_arrow("ml_features", pa.concat_tables(parts), database=store.database)
    predictions = pa.table(
        {
            "model": pa.array([model] * n),
            "version": pa.array([version] * n),
            "timestamp": pa.array(times, pa.timestamp("ns")),
            "prediction_id": pa.array(ids),
            "task": pa.array(["regression"] * n),
            "prediction_value": pa.array(np.zeros(n), pa.float64()),
            "latency_s": pa.array(np.full(n, 0.01), pa.float64()),
            "batch_size": pa.array(np.ones(n, dtype=np.uint32)),
            "row_index": pa.array(np.zeros(n, dtype=np.uint32)),
            "is_error": pa.array(np.zeros(n, dtype=np.uint8)),
            "service_name": pa.array(["svc"] * n),
        }
    )
    store.client.insert_arrow("ml_predictions", predictions, database=store.database)
    return ids


def upload_matrix(
    store: Store, model: str, version: str, matrix: np.ndarray, features: Sequence[str], **kw
) -> None:
    upload_reference(
        store, model, pd.DataFrame(matrix, columns=list(features)), version=version, **kw
    )


def module_store(store_url: str) -> Iterator[Store]:
    """A migrated store on a database of its own, for module-scoped fixtures."""
    store = Store(store_url, f"mv_{uuid.uuid4().hex[:10]}")
    try:
        yield store
    finally:
        try:
            store.command(f"DROP DATABASE IF EXISTS `{store.database}`")
        finally:
            store.close()


def series(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Samples of one metric of a Prometheus text page, keyed by sorted non-empty labels."""
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                labels = tuple(sorted((k, v) for k, v in sample.labels.items() if v != ""))
                out[labels] = sample.value
    return out
