"""Tracers, meters and loggers of modeltel, one set per provider, and the prediction metrics.

Metrics are never sampled and must cost little on the prediction path, so they are
aggregated in the process:

- ``ml.predictions`` (rows) and ``ml.prediction.errors`` (failed calls) are
  ``ObservableCounter`` instruments reporting running totals kept under a lock: exact
  cumulative sums, any temporality, at the cost of an integer addition per call;
- ``ml.prediction.duration`` is a ``Histogram``. The OTel API offers no way to report a
  pre-aggregated histogram, so each call's duration is appended to a per-series array and
  recorded into the histogram when a reader collects (in the counters' callback, which runs
  before the SDK reads its storages). Counts, sums, bucket counts, min and max are exact; the
  cost of ``Histogram.record`` moves off the request path into the reader's thread. If more
  than :data:`MAX_PENDING` durations wait (no reader, or a very long export interval), calls
  record their own duration at once, so memory stays bounded.

Metric attributes are only ``ml.model.name``, ``ml.model.version`` and ``ml.outcome``
(``docs/metrics.md``).
"""

from __future__ import annotations

import threading
import weakref
from array import array
from collections.abc import Iterable
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Observation

from modeltel.instrumentation import attributes as A
from modeltel.instrumentation._config import report_once
from modeltel.instrumentation.version import __version__

SCOPE = A.INSTRUMENTATION_SCOPE
MAX_PENDING = 1 << 18
DURATION_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
_NO_SPAN = Context()  # recorded durations never borrow an unrelated span as exemplar


class Series:
    """Totals of one (model, version, outcome) and its durations waiting for a reader."""

    __slots__ = ("attributes", "calls", "pending", "rows")

    def __init__(self, attributes: dict[str, str]) -> None:
        self.attributes = attributes
        self.rows = 0
        self.calls = 0
        self.pending = array("d")


class PredictionMetrics:
    """The three instruments of one meter provider, shared by every monitor using it."""

    def __init__(self, meter: metrics.Meter) -> None:
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str, str], Series] = {}
        self._duration = meter.create_histogram(
            A.ML_PREDICTION_DURATION,
            unit="s",
            description="Duration of prediction calls",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        meter.create_observable_counter(
            A.ML_PREDICTIONS,
            callbacks=[self._observe_predictions],
            unit="{prediction}",
            description="Rows predicted (every call, whatever the span sampling)",
        )
        meter.create_observable_counter(
            A.ML_PREDICTION_ERRORS,
            callbacks=[self._observe_errors],
            unit="{error}",
            description="Prediction calls that raised",
        )

    def series(self, model: str, version: str, outcome: str) -> Series:
        key = (model, version, outcome)
        with self._lock:
            found = self._series.get(key)
            if found is None:
                found = Series(
                    {A.ML_MODEL_NAME: model, A.ML_MODEL_VERSION: version, A.ML_OUTCOME: outcome}
                )
                self._series[key] = found
            return found

    def add(self, series: Series, seconds: float, rows: int) -> None:
        """Count one call (hot path: an addition and an array append under a lock)."""
        with self._lock:
            series.rows += rows
            series.calls += 1
            pending = series.pending
            if len(pending) < MAX_PENDING:
                pending.append(seconds)
                return
        self._duration.record(seconds, series.attributes, context=_NO_SPAN)

    def flush(self) -> None:
        """Record every waiting duration into the histogram."""
        with self._lock:
            batches = []
            for series in self._series.values():
                if series.pending:
                    batches.append((series.attributes, series.pending))
                    series.pending = array("d")
        record = self._duration.record
        for attributes, pending in batches:
            for seconds in pending:
                record(seconds, attributes, context=_NO_SPAN)

    def _observe_predictions(self, options: CallbackOptions) -> Iterable[Observation]:
        self._safe_flush()
        with self._lock:
            return [Observation(s.rows, s.attributes) for s in self._series.values() if s.calls]

    def _observe_errors(self, options: CallbackOptions) -> Iterable[Observation]:
        self._safe_flush()
        with self._lock:
            return [
                Observation(s.calls, s.attributes)
                for s in self._series.values()
                if s.calls and s.attributes[A.ML_OUTCOME] == A.OUTCOME_ERROR
            ]

    def _safe_flush(self) -> None:
        try:
            self.flush()
        except Exception:
            report_once(("metrics", "flush"), "modeltel could not record prediction durations")


# -- one tracer / metrics / logger per provider ---------------------------------------------

_lock = threading.Lock()
_GLOBAL = object()
_tracers: dict[Any, trace.Tracer] = {}
_metrics: dict[Any, PredictionMetrics] = {}
_weak_tracers: weakref.WeakKeyDictionary[Any, trace.Tracer] = weakref.WeakKeyDictionary()
_weak_metrics: weakref.WeakKeyDictionary[Any, PredictionMetrics] = weakref.WeakKeyDictionary()


def tracer_for(provider: trace.TracerProvider | None) -> trace.Tracer:
    """modeltel's tracer from ``provider`` (``None``: the global provider, even if set later)."""
    with _lock:
        if provider is None:
            found = _tracers.get(_GLOBAL)
            if found is None:
                found = _tracers[_GLOBAL] = trace.get_tracer(SCOPE, __version__)
            return found
        found = _weak_tracers.get(provider)
        if found is None:
            found = _weak_tracers[provider] = provider.get_tracer(SCOPE, __version__)
        return found


def metrics_for(provider: metrics.MeterProvider | None) -> PredictionMetrics:
    """The prediction metrics of ``provider`` (``None``: the global provider)."""
    with _lock:
        if provider is None:
            found = _metrics.get(_GLOBAL)
            if found is None:
                found = _metrics[_GLOBAL] = PredictionMetrics(metrics.get_meter(SCOPE, __version__))
            return found
        found = _weak_metrics.get(provider)
        if found is None:
            found = _weak_metrics[provider] = PredictionMetrics(
                provider.get_meter(SCOPE, __version__)
            )
        return found
