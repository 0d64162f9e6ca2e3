"""Isolated OTel SDK providers with in-memory exporters for the instrumentation tests.

Not a conftest.py: tests elsewhere import the root conftest by name, so test modules here
import the ``telemetry`` fixture from this module explicitly."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@dataclass
class Telemetry:
    tracer_provider: TracerProvider
    span_exporter: InMemorySpanExporter
    meter_provider: MeterProvider
    reader: InMemoryMetricReader
    logger_provider: LoggerProvider
    log_exporter: InMemoryLogRecordExporter

    @property
    def providers(self) -> dict[str, Any]:
        return {"tracer_provider": self.tracer_provider, "meter_provider": self.meter_provider}

    def spans(self) -> list[ReadableSpan]:
        return list(self.span_exporter.get_finished_spans())

    def span(self) -> ReadableSpan:
        spans = [s for s in self.spans() if s.name.startswith("predict ")]
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def attributes(self) -> dict[str, Any]:
        return dict(self.span().attributes or {})

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, Any], ...]], Any]:
        """``{(metric name, sorted attributes): data point}`` of one collection."""
        out: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}
        data = self.reader.get_metrics_data()
        if data is None:
            return out
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    for point in metric.data.data_points:
                        key = (metric.name, tuple(sorted(dict(point.attributes).items())))
                        out[key] = point
        return out


def metric_key(name: str, model: str, version: str = "unversioned", outcome: str = "success"):
    return (
        name,
        (("ml.model.name", model), ("ml.model.version", version), ("ml.outcome", outcome)),
    )


@pytest.fixture(name="telemetry")
def telemetry_fixture() -> Iterator[Telemetry]:
    span_exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    log_exporter = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    yield Telemetry(
        tracer_provider, span_exporter, meter_provider, reader, logger_provider, log_exporter
    )
    tracer_provider.shutdown()
    meter_provider.shutdown()
    logger_provider.shutdown()


PER_ROW_PREFIXES = ("ml.feature.", "ml.prediction.")


def assert_contract(attributes: dict[str, Any]) -> None:
    """The attribute contract (docs/attributes.md), as the ClickHouse views read it."""
    assert isinstance(attributes["ml.model.name"], str) and attributes["ml.model.name"]
    assert isinstance(attributes["ml.model.version"], str) and attributes["ml.model.version"]
    assert attributes.get("ml.task") in (None, "classification", "regression")
    size = attributes["ml.batch.size"]
    assert isinstance(size, int)
    ids = attributes.get("ml.prediction.id")
    batch = isinstance(ids, tuple)
    if batch:
        assert len(ids) == size and all(isinstance(i, str) and i for i in ids)
    else:
        assert size == 1 and isinstance(ids, str) and ids
    categorical = attributes.get("ml.feature.categorical", ())
    assert isinstance(categorical, tuple)
    for key, value in attributes.items():
        if not key.startswith(PER_ROW_PREFIXES) or key in (
            "ml.feature.categorical",
            "ml.prediction.id",
        ):
            continue
        name = key[len("ml.feature.") :] if key.startswith("ml.feature.") else None
        values = value if batch else (value,)
        if batch:
            assert isinstance(value, tuple) and len(value) == size, key
        else:
            assert value is not None and not isinstance(value, tuple), key
        kinds = {type(v) for v in values if v is not None}
        assert len(kinds) <= 1, (key, kinds)  # homogeneous
        for v in values:
            assert not (isinstance(v, float) and v != v), key  # never NaN
        if name is not None:
            expected = str if name in categorical else float if batch else (int, float)
            assert all(isinstance(v, expected) for v in values if v is not None), key
        if key == "ml.prediction.label":
            assert kinds <= {str}
        if key in ("ml.prediction.score", "ml.prediction.value"):
            assert kinds <= {float, int}
