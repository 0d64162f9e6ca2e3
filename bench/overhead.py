"""Overhead of modeltel.instrumentation.monitor over a bare model call, and over the
hand-written OpenTelemetry code doing the same job.

Setup: OTel Python SDK, BatchSpanProcessor with an exporter that drops spans (the export
thread's work is not the caller's), an InMemoryMetricReader (collected on demand). Model:
20 numeric features.

Cases:
- single row: a dict of 20 floats in, a label out (26 span attributes);
- batch: a 1,000-row DataFrame in, 1,000 labels out (24 arrays of 1,000 elements);
- sample_rate=0.01: single rows, spans for 1 % of the calls, metrics for all.

"Hand-written" is what a user would write with the OTel API for the same telemetry: a
current span with the same attributes, a counter add and a histogram record. For batches it
is given twice: generating ids with ``uuid.uuid4()`` per row, and with the ids made outside
the timed region (the stricter comparison). monitor's metrics defer the histogram's
per-call SDK work to collection time: that cost is measured separately (``collect``) and
reported per call.

Prints median microseconds per call. Run: ``python bench/overhead.py [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from modeltel.instrumentation import monitor

FEATURES = [f"f{i}" for i in range(20)]
WEIGHTS = np.linspace(-1.0, 1.0, 20)


class DropExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def providers() -> tuple[TracerProvider, MeterProvider, InMemoryMetricReader]:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(DropExporter()))
    reader = InMemoryMetricReader()
    return tracer_provider, MeterProvider(metric_readers=[reader]), reader


def model_row(row: dict[str, float]) -> str:
    total = 0.0
    for name, weight in zip(FEATURES, (-1.0, 1.0) * 10, strict=True):
        total += weight * row[name]
    return "churn" if total > 0 else "stay"


def model_batch(frame: pd.DataFrame) -> np.ndarray:
    return (frame.to_numpy() @ WEIGHTS > 0).astype(np.int64)


def median_us(fn: Callable[[Any], Any], x: Any, calls: int) -> float:
    """Median time of one call over ``calls`` calls, in microseconds."""
    times = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        start = clock()
        fn(x)
        times.append(clock() - start)
    return statistics.median(times) / 1000


def handwritten_single(tracer: Any, counter: Any, histogram: Any) -> Callable[..., str]:
    keys = {name: f"ml.feature.{name}" for name in FEATURES}
    metric_attributes = {
        "ml.model.name": "churn",
        "ml.model.version": "1",
        "ml.outcome": "success",
    }

    def predict(row: dict[str, float]) -> str:
        start = time.perf_counter()
        with tracer.start_as_current_span("predict churn", kind=SpanKind.INTERNAL) as span:
            label = model_row(row)
            attributes: dict[str, Any] = {keys[k]: v for k, v in row.items()}
            attributes["ml.prediction.label"] = label
            attributes["ml.batch.size"] = 1
            attributes["ml.prediction.id"] = str(uuid.uuid4())
            attributes["ml.task"] = "classification"
            attributes["ml.model.version"] = "1"
            attributes["ml.model.name"] = "churn"
            span.set_attributes(attributes)
        counter.add(1, metric_attributes)
        histogram.record(time.perf_counter() - start, metric_attributes)
        return label

    return predict


def handwritten_batch(
    tracer: Any, counter: Any, histogram: Any, fixed_ids: list[str] | None
) -> Callable[..., np.ndarray]:
    metric_attributes = {
        "ml.model.name": "churn",
        "ml.model.version": "1",
        "ml.outcome": "success",
    }

    def predict(frame: pd.DataFrame) -> np.ndarray:
        start = time.perf_counter()
        with tracer.start_as_current_span("predict churn", kind=SpanKind.INTERNAL) as span:
            labels = model_batch(frame)
            attributes: dict[str, Any] = {
                f"ml.feature.{name}": frame[name].tolist() for name in frame.columns
            }
            rows = len(frame)
            attributes["ml.prediction.label"] = [str(v) for v in labels.tolist()]
            attributes["ml.batch.size"] = rows
            attributes["ml.prediction.id"] = (
                fixed_ids if fixed_ids is not None else [str(uuid.uuid4()) for _ in range(rows)]
            )
            attributes["ml.task"] = "classification"
            attributes["ml.model.version"] = "1"
            attributes["ml.model.name"] = "churn"
            span.set_attributes(attributes)
        counter.add(rows, metric_attributes)
        histogram.record(time.perf_counter() - start, metric_attributes)
        return labels

    return predict


def collect_cost_us(reader: InMemoryMetricReader, calls: int) -> float:
    """Time to collect the metrics of ``calls`` monitored calls, per call."""
    start = time.perf_counter()
    reader.get_metrics_data()
    return (time.perf_counter() - start) * 1e6 / max(calls, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (rough figures)")
    args = parser.parse_args(argv)
    single_calls, batch_calls, rounds = (2000, 20, 3) if args.quick else (5000, 40, 9)

    rng = np.random.default_rng(0)
    row = {name: float(v) for name, v in zip(FEATURES, rng.normal(size=20), strict=True)}
    frame = pd.DataFrame(rng.normal(size=(1000, 20)), columns=FEATURES)
    fixed_ids = [str(uuid.uuid4()) for _ in range(1000)]

    tracer_provider, meter_provider, reader = providers()
    tracer = tracer_provider.get_tracer("bench")
    meter = meter_provider.get_meter("bench")
    counter = meter.create_counter("ml.predictions", unit="{prediction}")
    histogram = meter.create_histogram("ml.prediction.duration", unit="s")

    monitored_row = monitor(
        model_row,
        name="churn",
        version="1",
        task="classification",
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    monitored_batch = monitor(
        model_batch,
        name="churn-batch",
        version="1",
        task="classification",
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    sampled_row = monitor(
        model_row,
        name="churn-sampled",
        version="1",
        task="classification",
        sample_rate=0.01,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    hand_row = handwritten_single(tracer, counter, histogram)
    hand_batch = handwritten_batch(tracer, counter, histogram, None)
    hand_batch_fixed = handwritten_batch(tracer, counter, histogram, fixed_ids)

    cases: dict[str, tuple[Callable[[Any], Any], Any, int]] = {
        "bare_row": (model_row, row, single_calls),
        "monitor_row": (monitored_row, row, single_calls),
        "hand_row": (hand_row, row, single_calls),
        "sampled_row": (sampled_row, row, single_calls),
        "bare_batch": (model_batch, frame, batch_calls),
        "monitor_batch": (monitored_batch, frame, batch_calls),
        "hand_batch": (hand_batch, frame, batch_calls),
        "hand_batch_fixed": (hand_batch_fixed, frame, batch_calls),
    }
    for fn, x, calls in cases.values():  # warm-up
        for _ in range(min(calls, 200)):
            fn(x)
    # Rounds interleave the cases, so that a change of machine load hits them alike; each
    # figure is the median over rounds, each ratio the median of the per-round ratios.
    per_round: dict[str, list[float]] = {key: [] for key in cases}
    gc.collect()
    for _ in range(rounds):
        for key, (fn, x, calls) in cases.items():
            reader.get_metrics_data()  # collection (and the deferred histogram work) between
            per_round[key].append(median_us(fn, x, calls))
    figures = {key: statistics.median(values) for key, values in per_round.items()}

    def ratio(case: str, reference: str, bare: str) -> float:
        return statistics.median(
            (c - b) / (r - b)
            for c, r, b in zip(per_round[case], per_round[reference], per_round[bare], strict=True)
        )

    def collect_cost(fn: Callable[[Any], Any]) -> float:
        """Collection time per call, for the deferred histogram work of ``fn``'s calls."""
        costs = []
        for _ in range(3):
            reader.get_metrics_data()
            for _ in range(single_calls):
                fn(row)
            tracer_provider.force_flush()
            costs.append(collect_cost_us(reader, single_calls))
        return statistics.median(costs)

    figures["collect_row"] = collect_cost(monitored_row)
    figures["collect_sampled"] = collect_cost(sampled_row)
    tracer_provider.shutdown()
    meter_provider.shutdown()

    def added(key: str, bare: str) -> float:
        return figures[key] - figures[bare]

    row_monitor = added("monitor_row", "bare_row")
    row_hand = added("hand_row", "bare_row")
    batch_monitor = added("monitor_batch", "bare_batch")
    batch_hand = added("hand_batch", "bare_batch")
    batch_hand_fixed = added("hand_batch_fixed", "bare_batch")
    sampled = added("sampled_row", "bare_row")
    row_ratio = ratio("monitor_row", "hand_row", "bare_row")
    batch_ratio = ratio("monitor_batch", "hand_batch", "bare_batch")
    batch_ratio_fixed = ratio("monitor_batch", "hand_batch_fixed", "bare_batch")

    def line(label: str, value: float, extra: str = "") -> None:
        print(f"  {label:<32}{value:10.2f}{extra}")

    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}")
    print("median microseconds per call; 'added' = minus the bare model call")
    print("\nsingle row, 20 features, 26 span attributes")
    line("bare model", figures["bare_row"])
    line("monitor", figures["monitor_row"], f"   added {row_monitor:9.2f}")
    line("hand-written OTel", figures["hand_row"], f"   added {row_hand:9.2f}")
    line("ratio monitor / hand-written", row_ratio, "   (target <= 1.2)")
    line("deferred histogram, collect", figures["collect_row"], "   per call, reader thread")
    print("\n1,000-row batch (DataFrame), 20 features, 24 arrays of 1,000")
    line("bare model", figures["bare_batch"])
    line("monitor", figures["monitor_batch"], f"   added {batch_monitor:9.2f}")
    line("hand-written, uuid4 ids", figures["hand_batch"], f"   added {batch_hand:9.2f}")
    line(
        "hand-written, ids precomputed",
        figures["hand_batch_fixed"],
        f"   added {batch_hand_fixed:9.2f}",
    )
    line("ratio monitor / hand (uuid4)", batch_ratio, "   (target <= 1.2)")
    line("ratio monitor / hand (no ids)", batch_ratio_fixed, "   (target <= 1.2)")
    print("\nsample_rate=0.01, single row (spans for 1% of calls, metrics for all)")
    line("monitor", figures["sampled_row"], f"   added {sampled:9.2f}   (target <= 5)")
    line("deferred histogram, collect", figures["collect_sampled"], "   per call, reader thread")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
