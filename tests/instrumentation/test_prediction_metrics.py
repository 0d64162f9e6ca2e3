"""ml.predictions, ml.prediction.duration, ml.prediction.errors: exact, unsampled, low
cardinality, correct under cumulative and delta temporality."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, ObservableCounter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
)

from modeltel.instrumentation import _telemetry, monitor
from support.instrumentation import Telemetry, metric_key, telemetry_fixture  # noqa: F401


def _metrics_by_name(reader: InMemoryMetricReader) -> dict[str, object]:
    data = reader.get_metrics_data()
    out = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            assert sm.scope.name == "modeltel.instrumentation"
            for metric in sm.metrics:
                out[metric.name] = metric
    return out


def test_instruments_units_and_attributes(telemetry: Telemetry) -> None:
    predict = monitor(lambda x: np.zeros(len(x)), name="m", version="2", **telemetry.providers)
    predict(pd.DataFrame({"a": range(4)}))
    predict(pd.DataFrame({"a": range(6)}))
    metrics = _metrics_by_name(telemetry.reader)
    predictions = metrics["ml.predictions"]
    assert predictions.unit == "{prediction}"
    assert predictions.data.is_monotonic
    (point,) = predictions.data.data_points
    assert point.value == 10
    assert dict(point.attributes) == {
        "ml.model.name": "m",
        "ml.model.version": "2",
        "ml.outcome": "success",
    }
    duration = metrics["ml.prediction.duration"]
    assert duration.unit == "s"
    (hist,) = duration.data.data_points
    assert hist.count == 2
    assert list(hist.explicit_bounds) == list(_telemetry.DURATION_BUCKETS)
    assert sum(hist.bucket_counts) == 2
    assert 0 < hist.min <= hist.max < 1
    assert "ml.prediction.errors" not in metrics  # no error yet: no series


def test_metrics_are_cumulative_and_exact(telemetry: Telemetry) -> None:
    ok = monitor(lambda x: 1, name="m", **telemetry.providers)
    bad = monitor(lambda x: 1 / 0, name="m", **telemetry.providers)
    for _ in range(3):
        ok({"a": 1})
    with pytest.raises(ZeroDivisionError):
        bad({"a": 1})
    first = telemetry.metrics()
    assert first[metric_key("ml.predictions", "m")].value == 3
    assert first[metric_key("ml.predictions", "m", outcome="error")].value == 1
    assert first[metric_key("ml.prediction.errors", "m", outcome="error")].value == 1
    ok({"a": 1})
    second = telemetry.metrics()
    assert second[metric_key("ml.predictions", "m")].value == 4
    assert second[metric_key("ml.prediction.duration", "m")].count == 4
    assert second[metric_key("ml.prediction.errors", "m", outcome="error")].value == 1


def test_delta_temporality() -> None:
    delta = AggregationTemporality.DELTA
    reader = InMemoryMetricReader(
        preferred_temporality={Counter: delta, Histogram: delta, ObservableCounter: delta}
    )
    provider = MeterProvider(metric_readers=[reader])
    predict = monitor(lambda x: 1, name="d", meter_provider=provider)
    for _ in range(5):
        predict({"a": 1})
    first = _metrics_by_name(reader)
    assert first["ml.predictions"].data.data_points[0].value == 5
    assert first["ml.prediction.duration"].data.data_points[0].count == 5
    for _ in range(2):
        predict({"a": 1})
    second = _metrics_by_name(reader)
    assert second["ml.predictions"].data.data_points[0].value == 2
    assert second["ml.prediction.duration"].data.data_points[0].count == 2
    provider.shutdown()


def test_two_readers_see_every_duration() -> None:
    first, second = InMemoryMetricReader(), InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[first, second])
    predict = monitor(lambda x: 1, name="two", meter_provider=provider)
    for _ in range(3):
        predict({"a": 1})
    a = _metrics_by_name(first)["ml.prediction.duration"].data.data_points[0].count
    b = _metrics_by_name(second)["ml.prediction.duration"].data.data_points[0].count
    assert a == b == 3
    provider.shutdown()


def test_memory_stays_bounded_without_a_reader(telemetry: Telemetry, monkeypatch) -> None:
    monkeypatch.setattr(_telemetry, "MAX_PENDING", 10)
    predict = monitor(lambda x: 1, name="bounded", **telemetry.providers)
    for _ in range(25):
        predict({"a": 1})
    series = predict.modeltel_monitor.ok_series
    assert len(series.pending) == 10  # the rest were recorded at once
    point = telemetry.metrics()[metric_key("ml.prediction.duration", "bounded")]
    assert point.count == 25
    assert len(series.pending) == 0


def test_models_share_the_instruments(telemetry: Telemetry) -> None:
    a = monitor(lambda x: 1, name="a", **telemetry.providers)
    b = monitor(lambda x: 1, name="b", version="3", **telemetry.providers)
    a({"x": 1})
    b({"x": 1})
    b({"x": 1})
    metrics = telemetry.metrics()
    assert metrics[metric_key("ml.predictions", "a")].value == 1
    assert metrics[metric_key("ml.predictions", "b", version="3")].value == 2


def test_global_providers_set_after_the_monitor_was_created() -> None:
    code = textwrap.dedent(
        """
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from modeltel.instrumentation import monitor

        predict = monitor(lambda x: "y", name="late")   # at import time, no providers yet
        predict({"a": 1})                # no span; counted once a meter provider exists
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        predict({"a": 2})
        other = monitor(lambda x: "z", name="late")      # created after: same instruments
        other({"a": 3})
        spans = exporter.get_finished_spans()
        assert [s.attributes["ml.feature.a"] for s in spans] == [2, 3], spans
        data = reader.get_metrics_data()
        points = {
            m.name: m.data.data_points
            for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
        }
        assert points["ml.predictions"][0].value == 3, points
        assert points["ml.prediction.duration"][0].count == 3, points
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_rows_of_unknown_inputs_come_from_the_outputs(telemetry: Telemetry) -> None:
    class Opaque:
        pass

    for rate in (0.0, 1.0):
        predict = monitor(
            lambda x: np.zeros(4), name=f"opaque{rate}", sample_rate=rate, **telemetry.providers
        )
        predict(Opaque())
    metrics = telemetry.metrics()
    assert metrics[metric_key("ml.predictions", "opaque0.0")].value == 4
    assert metrics[metric_key("ml.predictions", "opaque1.0")].value == 4
    (span,) = telemetry.spans()
    assert span.attributes["ml.batch.size"] == 4
    assert len(span.attributes["ml.prediction.id"]) == 4
