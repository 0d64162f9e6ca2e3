"""OpenTelemetry providers of the demo's serving app: OTLP/HTTP to the modeltel receiver.

This is what ``modeltel.instrumentation.setup()`` does for a real app, with two demo-only
differences: the providers are passed explicitly (see :func:`configure`), and spans go
through :class:`~modeltel.analyzer.demo.clock.TimeShiftProcessor` so the replayed days
land at their simulated times. Queues are large and flushed explicitly, so no span of the
replay is dropped.
"""

from __future__ import annotations

import threading
import time
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
SHUTDOWN_TIMEOUT_S = 10.0
"""How long stopping the model app's telemetry may take (the final export included)."""


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

    def shutdown(self, timeout_s: float = SHUTDOWN_TIMEOUT_S) -> bool:
        """Export what is left and stop, all three providers at once, within ``timeout_s``;
        True when they finished in time. A server that answers 503 would keep each exporter
        retrying for its whole timeout, one provider after another: the demo stops on Ctrl-C
        within seconds anyway, and what was not exported by then is dropped."""
        threads = [
            threading.Thread(target=provider.shutdown, name=f"shutdown-{name}", daemon=True)
            for name, provider in (
                ("spans", self.tracer_provider),
                ("logs", self.logger_provider),
                ("metrics", self.meter_provider),
            )
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in threads)


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
    # shut down by Telemetry.shutdown, not at exit (a second shutdown only warns)
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    spans = BatchSpanProcessor(
        OTLPSpanExporter(endpoint=f"{base}/v1/traces", timeout=60),
        max_queue_size=200_000,
        max_export_batch_size=256,
        schedule_delay_millis=250,
    )
    tracer_provider.add_span_processor(TimeShiftProcessor(spans, clock))
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
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
    meter_provider = MeterProvider(
        resource=resource, metric_readers=[reader], shutdown_on_exit=False
    )
    return Telemetry(tracer_provider, meter_provider, logger_provider)
