"""The OTel SDK's real OTLP exporters (HTTP and gRPC) against the receiver."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcMetricExporter,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

RESOURCE = Resource.create({"service.name": "fraud-api", "deployment.environment.name": "test"})


def exporters(transport: str, server):
    if transport == "http":
        return (
            OTLPSpanExporter(endpoint=server.url + "/v1/traces"),
            OTLPLogExporter(endpoint=server.url + "/v1/logs"),
            OTLPMetricExporter(endpoint=server.url + "/v1/metrics"),
        )
    return (
        GrpcSpanExporter(endpoint=server.grpc_endpoint, insecure=True),
        GrpcLogExporter(endpoint=server.grpc_endpoint, insecure=True),
        GrpcMetricExporter(endpoint=server.grpc_endpoint, insecure=True),
    )


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_sdk_spans_logs_metrics_are_stored(transport: str, server) -> None:
    span_exporter, log_exporter, metric_exporter = exporters(transport, server)
    tracer_provider = TracerProvider(resource=RESOURCE)
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    tracer = tracer_provider.get_tracer("modeltel.test", "1.2.3")
    with tracer.start_as_current_span("POST /predict", kind=SpanKind.SERVER) as parent:
        with tracer.start_as_current_span(
            "predict churn",
            attributes={
                "ml.model.name": "churn",
                "ml.model.version": "3",
                "ml.task": "classification",
                "ml.prediction.id": ["a1", "a2", "a3"],
                "ml.batch.size": 3,
                "ml.feature.age": [31.0, None, 1e21],
                "ml.feature.plan": ["gold", "basic", None],
                "ml.feature.categorical": ["plan"],
                "ml.prediction.label": ["1", "0", "1"],
                "ml.prediction.score": [0.9, 0.2, 0.7],
            },
        ):
            pass
        with tracer.start_as_current_span(
            "predict churn",
            attributes={
                "ml.model.name": "churn",
                "ml.model.version": "3",
                "ml.prediction.id": "b1",
                "ml.feature.age": 40.5,
                "ml.feature.plan": "gold",
                "ml.feature.categorical": ["plan"],
                "ml.prediction.label": "0",
                "ml.prediction.score": 0.25,
            },
        ):
            pass
    trace_id = format(parent.get_span_context().trace_id, "032x")
    tracer_provider.shutdown()

    logger_provider = LoggerProvider(resource=RESOURCE)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    logger = logger_provider.get_logger("modeltel.labels")
    for pid, label in [("a1", "1"), ("b1", "1")]:
        logger.emit(
            event_name="ml.label",
            attributes={"ml.model.name": "churn", "ml.prediction.id": pid, "ml.label": label},
        )
    logger_provider.shutdown()

    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=60_000)
    meter_provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = meter_provider.get_meter("modeltel.test")
    meter.create_counter("ml.predictions").add(4, {"ml.model.name": "churn"})
    meter.create_histogram("ml.prediction.duration", unit="s").record(
        0.012, {"ml.model.name": "churn"}
    )
    meter.create_gauge("ml.drift.score").set(0.31, {"ml.model.name": "churn"})
    meter_provider.shutdown()

    store = server.store
    spans = store.query_df(
        "SELECT SpanName, SpanKind, ServiceName, ScopeName, ScopeVersion, SpanAttributes, "
        "TraceId, ParentSpanId, StatusCode, ResourceAttributes FROM otel_traces ORDER BY Timestamp"
    )
    assert list(spans["SpanName"]) == ["POST /predict", "predict churn", "predict churn"]
    assert list(spans["SpanKind"]) == ["Server", "Internal", "Internal"]
    assert set(spans["ServiceName"]) == {"fraud-api"}
    assert set(spans["TraceId"]) == {trace_id}
    assert spans["ScopeVersion"][1] == "1.2.3"
    batch = spans["SpanAttributes"][1]
    assert batch["ml.feature.age"] == "[31,null,1e+21]"
    assert batch["ml.feature.plan"] == '["gold","basic",null]'
    assert batch["ml.prediction.id"] == '["a1","a2","a3"]'
    assert batch["ml.batch.size"] == "3"
    assert spans["SpanAttributes"][2]["ml.feature.age"] == "40.5"
    assert spans["ResourceAttributes"][0]["deployment.environment.name"] == "test"

    predictions = store.query_df(
        "SELECT prediction_id, prediction_label, prediction_score, version, batch_size "
        "FROM ml_predictions ORDER BY prediction_id"
    )
    assert list(predictions["prediction_id"]) == ["a1", "a2", "a3", "b1"]
    assert list(predictions["prediction_label"]) == ["1", "0", "1", "0"]
    assert list(predictions["prediction_score"]) == [0.9, 0.2, 0.7, 0.25]
    assert list(predictions["batch_size"]) == [3, 3, 3, 1]

    features = store.query_rows(
        "SELECT prediction_id, feature, value, value_num, categorical FROM ml_features "
        "ORDER BY prediction_id, feature"
    )
    assert features == [
        ("a1", "age", None, 31.0, 0),
        ("a1", "plan", "gold", None, 1),
        ("a2", "age", None, None, 0),
        ("a2", "plan", "basic", None, 1),
        ("a3", "age", None, 1e21, 0),
        ("a3", "plan", None, None, 1),
        ("b1", "age", None, 40.5, 0),
        ("b1", "plan", "gold", None, 1),
    ]

    labels = store.query_rows(
        "SELECT p.prediction_id, l.label FROM ml_predictions p "
        "INNER JOIN ml_labels l USING (prediction_id) ORDER BY p.prediction_id"
    )
    assert labels == [("a1", "1"), ("b1", "1")]
    logs = store.query_rows("SELECT EventName, ServiceName FROM otel_logs")
    assert {row[1] for row in logs} == {"fraud-api"}

    assert store.query_rows(
        "SELECT MetricName, Value FROM otel_metrics_sum WHERE MetricName = 'ml.predictions'"
    ) == [("ml.predictions", 4.0)]
    histogram = store.query_rows(
        "SELECT Count, Sum, MetricUnit FROM otel_metrics_histogram "
        "WHERE MetricName = 'ml.prediction.duration'"
    )
    assert histogram == [(1, 0.012, "s")]
    assert store.query_rows("SELECT Value FROM otel_metrics_gauge") == [(0.31,)]
