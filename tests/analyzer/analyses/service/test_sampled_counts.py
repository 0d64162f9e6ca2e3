"""Counts under sampling: modeltel's sample_rate, the SDK's ParentBased(TraceIdRatioBased) and a
tracestate threshold as the Collector writes it. Real OTel SDK exporters → the real receiver →
chDB; the service analysis counts the calls the application made."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from modeltel.analyzer.analyses.service import compute_service
from modeltel.analyzer.analyses.service.records import SOURCE_COUNTER, SOURCE_SPANS
from modeltel.analyzer.base.query import TimeWindows
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window
from modeltel.instrumentation import monitor

CALLS = 3000


def _providers(url: str, sampler=None) -> tuple[TracerProvider, MeterProvider]:
    tracer = TracerProvider(sampler=sampler) if sampler else TracerProvider()
    tracer.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url + "/v1/traces")))
    meter = MeterProvider(
        metric_readers=[
            PeriodicExportingMetricReader(
                OTLPMetricExporter(endpoint=url + "/v1/metrics"), export_interval_millis=3_600_000
            )
        ]
    )
    return tracer, meter


def _run(url: str, name: str, *, sample_rate: float = 1.0, sampler=None, metrics=True) -> None:
    tracer, meter = _providers(url, sampler)
    predict = monitor(
        lambda row: [1], name=name, version="1", sample_rate=sample_rate,
        tracer_provider=tracer, meter_provider=meter if metrics else None,
    )  # fmt: skip
    for i in range(CALLS):
        predict({"x": float(i % 7)})
    tracer.shutdown()
    if metrics:
        meter.shutdown()


def _window() -> Window:
    now = datetime.now(UTC)
    return Window(now - timedelta(hours=1), now + timedelta(minutes=1))


def _service(store: Store, name: str) -> dict[str, dict]:
    deadline = time.monotonic() + 60
    while not store.query_rows(
        "SELECT count() FROM ml_predictions WHERE model = {m:String}", {"m": name}
    )[0][0]:
        assert time.monotonic() < deadline, "no prediction was stored"
        time.sleep(0.1)
    records = compute_service(store, name, "1", [_window()])
    return {r["metric"]: r for r in records}


def _recorded(store: Store, name: str) -> tuple[int, float]:
    count, weights = store.query_rows(
        "SELECT count(), sum(weight) FROM ml_predictions WHERE model = {m:String}", {"m": name}
    )[0]
    return int(count), float(weights)


def test_sample_rate_counts_every_call_from_the_counter(server, store: Store) -> None:
    _run(server.url, "sampled", sample_rate=0.1)
    deadline = time.monotonic() + 60  # the receiver stores what it acknowledged, in order
    while not store.query_rows(
        "SELECT count() FROM otel_metrics_sum WHERE MetricName = 'ml.predictions' "
        "AND Attributes['ml.model.name'] = 'sampled'"
    )[0][0]:
        assert time.monotonic() < deadline, "the counter was not stored"
        time.sleep(0.1)
    records = _service(store, "sampled")
    recorded, weights = _recorded(store, "sampled")
    assert 150 < recorded < 450  # about a tenth of the calls became spans
    assert weights == pytest.approx(recorded * 10)
    assert records["volume"]["value"] == CALLS
    assert records["volume"]["details"]["source"] == SOURCE_COUNTER


def test_without_the_counter_volume_is_the_sum_of_the_weights(server, store: Store) -> None:
    _run(server.url, "weighted", sample_rate=0.25, metrics=False)
    records = _service(store, "weighted")
    recorded, _ = _recorded(store, "weighted")
    assert records["volume"]["value"] == recorded * 4
    assert records["volume"]["details"]["source"] == SOURCE_SPANS
    # an unbiased estimate of the calls: within 5 standard deviations
    assert abs(records["volume"]["value"] - CALLS) < 5 * (CALLS * 0.75 / 0.25) ** 0.5


def test_the_sdks_parent_based_ratio_sampler_is_counted(server, store: Store) -> None:
    _run(server.url, "ratio", sampler=ParentBased(TraceIdRatioBased(0.2)), metrics=False)
    recorded, weights = _recorded(store, "ratio")
    assert 0 < recorded < CALLS
    assert weights == pytest.approx(recorded * 5)


def test_a_tracestate_threshold_is_the_spans_adjusted_count(store: Store) -> None:
    """A span as the Collector's probabilistic sampler leaves it (``ot=th:c``: kept with
    probability 1/4) and one that modeltel sampled at 0.5 as well, written by an exporter."""
    now = datetime.now(UTC).replace(tzinfo=None)
    attributes = {"ml.model.name": "collector", "ml.model.version": "1", "ml.prediction.id": ""}
    rows = [
        (now, "t1", "s1", "ot=th:c", attributes),
        (now, "t2", "s2", "ot=th:c;rv:abcdef01234567", {**attributes, "ml.sampling.weight": "2"}),
        (now, "t3", "s3", "", attributes),
        (now, "t4", "s4", "ot=th:zz", {**attributes, "ml.sampling.weight": "oops"}),
    ]
    store.insert(
        "otel_traces",
        [list(r) for r in rows],
        column_names=["Timestamp", "TraceId", "SpanId", "TraceState", "SpanAttributes"],
    )
    weights = dict(
        store.query_rows("SELECT span_id, weight FROM ml_predictions WHERE model = 'collector'")
    )
    assert weights == {"s1": 4.0, "s2": 8.0, "s3": 1.0, "s4": 1.0}


def test_failed_calls_are_broken_down_by_error_type(server, store: Store) -> None:
    tracer, _ = _providers(server.url)

    def predict_raw(row: dict) -> list[int]:
        if row["x"] % 4 == 0:
            raise KeyError("x")
        if row["x"] % 4 == 1:
            raise ValueError("bad")
        return [1]

    predict = monitor(predict_raw, name="failing", version="1", tracer_provider=tracer)
    for i in range(40):
        with contextlib.suppress(KeyError, ValueError):
            predict({"x": float(i)})
    tracer.shutdown()
    records = _service(store, "failing")
    by_type = {
        r["feature"]: r["value"]
        for r in compute_service(store, "failing", "1", [_window()])
        if r["metric"] == "error_type_ratio"
    }
    assert records["error_ratio"]["value"] == pytest.approx(0.5)
    assert by_type == {"KeyError": pytest.approx(0.25), "ValueError": pytest.approx(0.25)}


def test_label_coverage_is_weighted(store: Store) -> None:
    """Three predictions as a Collector wrote them: p1 stands for 3 (labelled), p2 and p3 for
    one each (p2 labelled): 4 of the 5 predictions they stand for have a label."""
    from modeltel.analyzer.analyses.performance.analysis import compute_performance
    from modeltel.analyzer.analyses.performance.config import PerformanceConfig

    now = datetime.now(UTC).replace(tzinfo=None)
    base = {"ml.model.name": "coverage", "ml.model.version": "1", "ml.task": "classification"}
    spans = [
        (now, "t1", "s1", "", {**base, "ml.prediction.id": "p1", "ml.prediction.label": "1",
                              "ml.sampling.weight": "3"}),
        (now, "t2", "s2", "", {**base, "ml.prediction.id": "p2", "ml.prediction.label": "0"}),
        (now, "t3", "s3", "", {**base, "ml.prediction.id": "p3", "ml.prediction.label": "1"}),
    ]  # fmt: skip
    store.insert(
        "otel_traces",
        [list(r) for r in spans],
        column_names=["Timestamp", "TraceId", "SpanId", "TraceState", "SpanAttributes"],
    )
    store.insert(
        "ml_labels",
        [["coverage", "p1", "1", now, "api"], ["coverage", "p2", "0", now, "api"]],
        column_names=["model", "prediction_id", "label", "timestamp", "source"],
    )
    windows = TimeWindows.from_windows([_window()])
    records = compute_performance(store, "coverage", "1", windows, PerformanceConfig())
    coverage = next(r for r in records if r["metric"] == "label_coverage")
    assert coverage["value"] == pytest.approx(0.8)
    assert coverage["details"]["predictions"] == 5 and coverage["details"]["labelled"] == 4
