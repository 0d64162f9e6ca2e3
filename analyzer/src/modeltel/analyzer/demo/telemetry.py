"""OpenTelemetry providers of the demo's serving app: OTLP/HTTP to the modeltel receiver.

This is what ``modeltel.instrumentation.setup()`` does for a real app, with two demo-only
differences: the providers are passed explicitly (see :func:`configure`), and spans go
through :class:`~modeltel.analyzer.demo.clock.TimeShiftProcessor` so the replayed days
land at their simulated times. Queues are large and flushed explicitly, so no span of the
replay is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from modeltel.analyzer.demo.clock import SimulatedClock, TimeShiftProcessor

SERVICE_NAME = "screening-api"


@dataclass
class Telemetry:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider

    def flush(self, timeout_s: float = 60.0) -> bool:
        """Export everything recorded so far; True when all three flushed in time."""
        millis = int(timeout_s * 1000)
        return all(
            (
                self.tracer_provider.force_flush(millis),
                self.logger_provider.force_flush(millis),
                self.meter_provider.force_flush(millis),
            )
        )

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()
        self.meter_provider.shutdown()


def configure(endpoint: str, clock: SimulatedClock) -> Telemetry:
    """Tracer, meter and logger providers exporting to ``endpoint``.

    They are handed to the serving app rather than installed globally: the modeltel server
    runs in this same process, and FastAPI traces its requests with the global providers,
    so global ones would make the receiver export spans about its own exports.
    """
    resource = Resource.create(
        {
            "service.name": SERVICE_NAME,
            "service.version": "2.4.0",
            "deployment.environment.name": "demo",
        }
    )
    base = endpoint.rstrip("/")
    tracer_provider = TracerProvider(resource=resource)
    spans = BatchSpanProcessor(
        OTLPSpanExporter(endpoint=f"{base}/v1/traces", timeout=60),
        max_queue_size=200_000,
        max_export_batch_size=256,
        schedule_delay_millis=250,
    )
    tracer_provider.add_span_processor(TimeShiftProcessor(spans, clock))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(
            OTLPLogExporter(endpoint=f"{base}/v1/logs", timeout=60),
            max_queue_size=200_000,
            max_export_batch_size=512,
            schedule_delay_millis=250,
        )
    )
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{base}/v1/metrics", timeout=60),
        export_interval_millis=10_000,
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    return Telemetry(tracer_provider, meter_provider, logger_provider)
