"""The write path shared by OTLP/HTTP, OTLP/gRPC and bulk loads.

``IngestPipeline.submit`` converts a decoded request into table columns (in the caller's
thread) and queues them; writer threads group queued batches per table into one insert and
complete each batch's future **only after ClickHouse has stored the rows**. The caller
acknowledges its client only then, so nothing acknowledged is lost.

Back-pressure: when more than ``max_pending_rows`` rows wait, ``submit`` raises
:class:`Overloaded` (HTTP 429 / gRPC UNAVAILABLE, with a retry delay); when the store fails
with a retryable error, the batch's future raises :class:`StoreUnavailableError` (503).
After :meth:`close` new batches are refused and queued ones are still written.

Sizes: conversion applies the pipeline's :class:`~modeltel.analyzer.base.limits.Limits`
before anything is exploded (see :mod:`.otlp.rows`); for the write queue and the insert size a
batch weighs its records, the ml rows its spans project and one row per
:data:`BYTES_PER_ROW` bytes of the request, so memory follows what is stored, not the number
of records. :attr:`IngestStats.rejected` counts refused records per
signal and reason.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import pyarrow as pa

from modeltel.analyzer.base.errors import ModeltelError, StoreError, StoreUnavailableError
from modeltel.analyzer.base.limits import BATCH_SIZE_MISMATCH, DEFAULT_LIMITS, Limits, Rejections
from modeltel.analyzer.base.schema.staging import RECEIVER_MARKER
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.ingest.decode import Signal
from modeltel.analyzer.ingest.rows import (
    Columns,
    log_columns,
    metric_columns,
    trace_columns,
)

logger = logging.getLogger(__name__)

TRACES_TABLE = "otel_traces_ingest"
BYTES_PER_ROW = 64
"""A request weighs on the write queue as one row per this many bytes of it, on top of its
records and the ml rows they project."""
LOGS_TABLE = "otel_logs"


class Overloaded(ModeltelError):
    """Too much is waiting to be written; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ShuttingDown(Overloaded):
    """The pipeline is closing and takes no new batches."""


@dataclass
class IngestResult:
    """What one request stored: accepted row count and rejected records with the reason."""

    accepted: int
    rejected: int = 0
    message: str = ""


@dataclass
class _Batch:
    table: str
    columns: Columns
    rows: int
    future: Future[None] = field(default_factory=Future)


@dataclass
class IngestStats:
    """Counters since start (read without locking; they only grow)."""

    requests: int = 0
    rows_stored: int = 0
    rows_rejected: int = 0
    inserts: int = 0
    insert_seconds: float = 0.0
    overloaded: int = 0
    store_failures: int = 0
    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Records rejected, by (signal, reason): refused, or stored but not projected."""
    batch_size_mismatches: int = 0
    """Prediction spans whose ``ml.batch.size`` differs from the rows they carry."""


def _map_array(dicts: list[dict[str, str]]) -> pa.Array:
    offsets = np.zeros(len(dicts) + 1, dtype=np.int32)
    keys: list[str] = []
    values: list[str] = []
    for i, d in enumerate(dicts):
        keys.extend(d.keys())
        values.extend(d.values())
        offsets[i + 1] = len(keys)
    return pa.MapArray.from_arrays(
        pa.array(offsets), pa.array(keys, pa.string()), pa.array(values, pa.string())
    )


def _double_map_array(dicts: list[dict[str, np.ndarray]]) -> pa.Array:
    offsets = np.zeros(len(dicts) + 1, dtype=np.int32)
    keys: list[str] = []
    arrays: list[np.ndarray] = []
    for i, d in enumerate(dicts):
        keys.extend(d.keys())
        arrays.extend(d.values())
        offsets[i + 1] = len(keys)
    lengths = np.fromiter((len(a) for a in arrays), dtype=np.int32, count=len(arrays))
    list_offsets = np.zeros(len(arrays) + 1, dtype=np.int32)
    np.cumsum(lengths, out=list_offsets[1:])
    flat = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.float64)
    items = pa.ListArray.from_arrays(pa.array(list_offsets), pa.array(flat, pa.float64()))
    return pa.MapArray.from_arrays(pa.array(offsets), pa.array(keys, pa.string()), items)


def _list_of_maps(lists: list[list[dict[str, str]]]) -> pa.Array:
    offsets = np.zeros(len(lists) + 1, dtype=np.int32)
    flat: list[dict[str, str]] = []
    for i, items in enumerate(lists):
        flat.extend(items)
        offsets[i + 1] = len(flat)
    return pa.ListArray.from_arrays(pa.array(offsets), _map_array(flat))


def _lists(chunks: list[Any], leaf: pa.DataType) -> pa.Array:
    """``list<leaf>`` from per-row sequences (lists with None for nulls, or ndarrays)."""
    offsets = np.zeros(len(chunks) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, chunks), np.int32, len(chunks)), out=offsets[1:])
    flat = list(chain.from_iterable(c.tolist() if isinstance(c, np.ndarray) else c for c in chunks))
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, leaf))


def _nested_lists(rows: list[list[Any]], leaf: pa.DataType) -> pa.Array:
    """``list<list<leaf>>`` from per-row lists of sequences."""
    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, rows), np.int32, len(rows)), out=offsets[1:])
    return pa.ListArray.from_arrays(
        pa.array(offsets), _lists(list(chain.from_iterable(rows)), leaf)
    )


def _projection_arrays(projections: list[Any]) -> dict[str, pa.Array]:
    string, double = pa.string(), pa.float64()
    return {
        "MlModel": pa.array([p.model for p in projections], string),
        "MlVersion": pa.array([p.version for p in projections], string),
        "MlTask": pa.array([p.task for p in projections], string),
        "MlIds": _lists([p.ids for p in projections], string),
        "MlLabels": _lists([p.labels for p in projections], string),
        "MlScores": _lists([p.scores for p in projections], double),
        "MlValues": _lists([p.values for p in projections], double),
        "MlFeatures": _lists([p.features for p in projections], string),
        "MlCategorical": _lists([p.categorical for p in projections], pa.uint8()),
        "MlFeatureNum": _nested_lists([p.numbers for p in projections], double),
        "MlFeatureText": _nested_lists([p.texts for p in projections], string),
        "MlAttributions": _lists([p.attributions for p in projections], string),
        "MlAttributionNum": _nested_lists([p.attribution_numbers for p in projections], double),
        "MlAttributionText": _nested_lists([p.attribution_texts for p in projections], string),
        "MlRows": pa.array([p.rows for p in projections], pa.uint64()),
        "MlDeclaredSize": pa.array([p.declared_size for p in projections], pa.uint64()),
        "MlIssue": pa.array([p.issue for p in projections], string),
        "MlIssueSize": pa.array([p.issue_size for p in projections], pa.uint64()),
        "MlIssueLimit": pa.array([p.issue_limit for p in projections], pa.uint64()),
    }


def traces_arrow(cols: Columns) -> pa.Table:
    """Columns of ``otel_traces_ingest`` → an Arrow table ClickHouse ingests in bulk."""
    ns = pa.timestamp("ns")
    arrays = {
        "Timestamp": pa.array(cols["Timestamp"], pa.int64()).cast(ns),
        "TraceId": pa.array(cols["TraceId"], pa.string()),
        "SpanId": pa.array(cols["SpanId"], pa.string()),
        "ParentSpanId": pa.array(cols["ParentSpanId"], pa.string()),
        "TraceState": pa.array(cols["TraceState"], pa.string()),
        "SpanName": pa.array(cols["SpanName"], pa.string()),
        "SpanKind": pa.array(cols["SpanKind"], pa.string()),
        "ServiceName": pa.array(cols["ServiceName"], pa.string()),
        "ResourceAttributes": _map_array(cols["ResourceAttributes"]),
        "ScopeName": pa.array(cols["ScopeName"], pa.string()),
        "ScopeVersion": pa.array(cols["ScopeVersion"], pa.string()),
        "SpanAttributes": _map_array(cols["SpanAttributes"]),
        "SpanAttributesF64": _double_map_array(cols["SpanAttributesF64"]),
        "Duration": pa.array(cols["Duration"], pa.uint64()),
        "StatusCode": pa.array(cols["StatusCode"], pa.string()),
        "StatusMessage": pa.array(cols["StatusMessage"], pa.string()),
        "Events.Timestamp": pa.array(cols["Events.Timestamp"], pa.list_(pa.int64())).cast(
            pa.list_(ns)
        ),
        "Events.Name": pa.array(cols["Events.Name"], pa.list_(pa.string())),
        "Events.Attributes": _list_of_maps(cols["Events.Attributes"]),
        "Links.TraceId": pa.array(cols["Links.TraceId"], pa.list_(pa.string())),
        "Links.SpanId": pa.array(cols["Links.SpanId"], pa.list_(pa.string())),
        "Links.TraceState": pa.array(cols["Links.TraceState"], pa.list_(pa.string())),
        "Links.Attributes": _list_of_maps(cols["Links.Attributes"]),
        **_projection_arrays(cols["Ml"]),
    }
    return pa.table(arrays)


class IngestPipeline:
    """Queue + writer threads in front of a :class:`Store`. Thread-safe."""

    def __init__(
        self,
        store: Store,
        *,
        writers: int = 2,
        max_pending_rows: int = 4_000_000,
        max_insert_rows: int = 200_000,
        linger: float = 0.05,
        retry_after: float = 1.0,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.store = store
        self.limits = limits
        self.max_pending_rows = max_pending_rows
        self.max_insert_rows = max_insert_rows
        self.linger = linger
        self.retry_after = retry_after
        self.stats = IngestStats()
        self._queue: queue.Queue[_Batch | None] = queue.Queue()
        self._pending_rows = 0
        self._lock = threading.Lock()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._run, name=f"modeltel-writer-{i}", daemon=True)
            for i in range(writers)
        ]
        for thread in self._threads:
            thread.start()

    # -- producer side -----------------------------------------------------------------

    def _enqueue(self, table: str, columns: Columns, rows: int) -> Future[None]:
        batch = _Batch(table, columns, rows)
        with self._lock:
            if self._closed:
                raise ShuttingDown("the server is shutting down", self.retry_after)
            if self._pending_rows and self._pending_rows + rows > self.max_pending_rows:
                self.stats.overloaded += 1
                raise Overloaded(
                    f"{self._pending_rows} rows are waiting to be written; retry later",
                    self.retry_after,
                )
            self._pending_rows += rows
        self._queue.put(batch)
        return batch.future

    def submit(self, signal: Signal, request: Any) -> tuple[list[Future[None]], IngestResult]:
        """Convert and queue one decoded OTLP request; wait on the futures before acking."""
        self.stats.requests += 1
        futures: list[Future[None]] = []
        tally = Rejections()
        mismatches = 0
        if signal == "traces":
            cols, rejected, message = trace_columns(request, self.limits, tally)
            tables = {TRACES_TABLE: cols} if cols["Timestamp"] else {}
            mismatches = sum(p.issue == BATCH_SIZE_MISMATCH for p in cols["Ml"])
        elif signal == "logs":
            cols, rejected, message = log_columns(request, self.limits, tally)
            tables = {LOGS_TABLE: cols} if cols["Timestamp"] else {}
        else:
            tables, rejected, message = metric_columns(request, self.limits, tally)
        accepted = 0
        size_weight = request.ByteSize() // BYTES_PER_ROW if tables else 0
        for table, columns in tables.items():
            rows = len(next(iter(columns.values())))
            accepted += rows
            weight = rows + size_weight
            size_weight = 0  # the request's bytes weigh on its first table only
            if table == TRACES_TABLE:  # and spans with the ml rows they project
                weight += sum(
                    len(p.ids) * (1 + len(p.numbers) + len(p.attribution_numbers))
                    for p in columns["Ml"]
                )
            futures.append(self._enqueue(table, columns, weight))
        with self._lock:
            self.stats.rows_rejected += rejected
            self.stats.batch_size_mismatches += mismatches
            for reason, count in tally.counts.items():
                self.stats.rejected[(signal, reason)] += count
        return futures, IngestResult(accepted, rejected, message)

    def store_request(self, signal: Signal, request: Any, timeout: float = 60.0) -> IngestResult:
        """Submit and block until stored (raises Overloaded / StoreError)."""
        futures, result = self.submit(signal, request)
        for future in futures:
            future.result(timeout=timeout)
        return result

    # -- writer side -------------------------------------------------------------------

    def _take_group(self, first: _Batch) -> list[_Batch]:
        """``first`` plus batches for the same table that arrive within ``linger`` seconds.

        Every insert pays a fixed cost (the views' query plans, new parts), so grouping
        concurrent requests into one insert is what keeps throughput up under load.
        """
        group = [first]
        rows = first.rows
        deferred: list[_Batch] = []
        deadline = time.monotonic() + self.linger
        while rows < self.max_insert_rows:
            try:
                nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if nxt is None:
                deferred.append(nxt)  # type: ignore[arg-type]
                break
            if nxt.table == first.table:
                group.append(nxt)
                rows += nxt.rows
            else:
                deferred.append(nxt)
        for item in deferred:
            self._queue.put(item)
        return group

    def _write(self, group: list[_Batch]) -> None:
        table = group[0].table
        if len(group) == 1:
            merged = group[0].columns
        else:
            merged = {name: [] for name in group[0].columns}
            for batch in group:
                for name, values in batch.columns.items():
                    merged[name].extend(values)
        started = time.perf_counter()
        if table == TRACES_TABLE:
            self._insert_arrow(table, traces_arrow(merged))
        else:
            self.store.insert(table, list(merged.values()), list(merged), column_oriented=True)
        self.stats.insert_seconds += time.perf_counter() - started
        self.stats.inserts += 1

    def _insert_arrow(self, table: str, data: pa.Table) -> None:
        self.store.insert_arrow(
            table,
            data,
            settings={"log_comment": RECEIVER_MARKER, "parallel_view_processing": 1},
        )

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                if self._queue.empty():
                    return
                self._queue.put(None)  # batches were re-queued behind the stop marker
                continue
            group = self._take_group(first)
            rows = sum(batch.rows for batch in group)
            try:
                self._write(group)
            except Exception as exc:
                if isinstance(exc, StoreError):
                    self.stats.store_failures += 1
                    logger.warning("writing %d rows to %s failed: %s", rows, first.table, exc)
                    error: Exception = exc
                else:
                    logger.exception("unexpected error writing %d rows to %s", rows, first.table)
                    error = StoreUnavailableError(f"writing to {first.table} failed: {exc}")
                for batch in group:
                    batch.future.set_exception(error)
            else:
                self.stats.rows_stored += rows
                for batch in group:
                    batch.future.set_result(None)
            finally:
                with self._lock:
                    self._pending_rows -= rows

    def rejected_counts(self) -> dict[tuple[str, str], int]:
        """A copy of :attr:`IngestStats.rejected`, taken consistently."""
        with self._lock:
            return dict(self.stats.rejected)

    @property
    def pending_rows(self) -> int:
        return self._pending_rows

    def close(self, timeout: float = 30.0) -> None:
        """Refuse new batches, write everything queued, stop the writers."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
