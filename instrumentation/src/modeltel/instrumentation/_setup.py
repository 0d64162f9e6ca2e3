"""``setup()``: OTel providers and OTLP exporters in one call, when the app has none.

Needs the SDK and the OTLP exporters (``pip install 'modeltel-instrumentation[otlp]'``).
Each of the three signals is handled on its own: a provider the application (or
``opentelemetry-instrument``) already installed is kept as it is; a missing one is created
with an OTLP exporter configured from the standard variables:

- ``OTEL_EXPORTER_OTLP_[TRACES_|METRICS_|LOGS_]PROTOCOL``: ``http/protobuf`` (default)
  or ``grpc``;
- ``OTEL_EXPORTER_OTLP_[..._]ENDPOINT``, ``..._HEADERS``, ``..._TIMEOUT``, ... read by the
  exporters themselves;
- ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES`` for the resource;
- ``OTEL_METRIC_EXPORT_INTERVAL``, ``OTEL_BSP_*``, ``OTEL_BLRP_*`` for the processors;
- ``OTEL_SDK_DISABLED=true`` turns ``setup()`` into a no-op.

The tracer provider modeltel creates has no limit on the number of span attributes (unless
``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT``/``OTEL_ATTRIBUTE_COUNT_LIMIT`` set one), so models with
more than 128 features lose none, and its batch processor exports at most 64 spans per
request (unless ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` is set): with 1,000-row batch spans
of 20 features (~300 kB each) a request stays under ~20 MB.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from opentelemetry import _logs, metrics, trace

from modeltel.instrumentation._config import logger

PROTOCOLS = ("http/protobuf", "grpc")
DEFAULT_PROTOCOL = "http/protobuf"
DEFAULT_MAX_EXPORT_BATCH_SIZE = 64
SIGNALS = ("traces", "metrics", "logs")


@dataclass(frozen=True)
class Providers:
    """The providers in use after :func:`setup` and which of them it created."""

    tracer_provider: Any
    meter_provider: Any
    logger_provider: Any
    created: tuple[str, ...] = ()


def _is_proxy_tracer_provider(provider: Any) -> bool:
    return isinstance(provider, trace.ProxyTracerProvider)


def _is_proxy_meter_provider(provider: Any) -> bool:
    try:
        from opentelemetry.metrics._internal import _ProxyMeterProvider
    except ImportError:  # pragma: no cover - API layout changed
        return type(provider).__name__ == "_ProxyMeterProvider"
    return isinstance(provider, _ProxyMeterProvider)


def _is_proxy_logger_provider(provider: Any) -> bool:
    try:
        from opentelemetry._logs._internal import ProxyLoggerProvider
    except ImportError:  # pragma: no cover
        return type(provider).__name__ == "ProxyLoggerProvider"
    return isinstance(provider, ProxyLoggerProvider)


def _current() -> Providers:
    return Providers(
        trace.get_tracer_provider(), metrics.get_meter_provider(), _logs.get_logger_provider()
    )


def resolve_protocol(signal: str, protocol: str | None) -> str:
    """Argument > ``OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL`` > ``OTEL_EXPORTER_OTLP_PROTOCOL``."""
    if protocol is not None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        return protocol
    for name in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        raw = os.environ.get(name, "").strip()
        if not raw:
            continue
        if raw in PROTOCOLS:
            return raw
        logger.warning(
            "%s=%r is not supported by modeltel.instrumentation.setup() (use %s); using %s",
            name,
            raw,
            " or ".join(PROTOCOLS),
            DEFAULT_PROTOCOL,
        )
        return DEFAULT_PROTOCOL
    return DEFAULT_PROTOCOL


def _exporter(signal: str, protocol: str, endpoint: str | None) -> Any:
    kwargs: dict[str, Any] = {}
    if protocol == "grpc":
        if endpoint is not None:
            kwargs["endpoint"] = endpoint
        if signal == "traces":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            return OTLPSpanExporter(**kwargs)
        if signal == "metrics":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                OTLPMetricExporter,
            )

            return OTLPMetricExporter(**kwargs)
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        return OTLPLogExporter(**kwargs)
    if endpoint is not None:
        kwargs["endpoint"] = f"{endpoint.rstrip('/')}/v1/{signal}"
    if signal == "traces":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpSpanExporter,
        )

        return HttpSpanExporter(**kwargs)
    if signal == "metrics":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
            OTLPMetricExporter as HttpMetricExporter,
        )

        return HttpMetricExporter(**kwargs)
    from opentelemetry.exporter.otlp.proto.http._log_exporter import (
        OTLPLogExporter as HttpLogExporter,
    )

    return HttpLogExporter(**kwargs)


def setup(
    *,
    service_name: str | None = None,
    endpoint: str | None = None,
    protocol: str | None = None,
) -> Providers:
    """Configure tracer, meter and logger providers exporting over OTLP, where missing.

    Providers already set globally are respected (kept and returned). Safe to call more than
    once: the second call finds the providers of the first.

    Args:
        service_name: ``service.name`` of the resource; else ``OTEL_SERVICE_NAME`` (or
            ``OTEL_RESOURCE_ATTRIBUTES``), else the SDK's ``unknown_service``.
        endpoint: OTLP endpoint, e.g. ``http://localhost:4318`` (``/v1/traces`` etc. are
            appended for http) or ``localhost:4317`` for grpc; else the exporters read
            ``OTEL_EXPORTER_OTLP_*ENDPOINT`` (default localhost).
        protocol: ``http/protobuf`` or ``grpc``; else ``OTEL_EXPORTER_OTLP_*PROTOCOL``,
            else ``http/protobuf``.

    Returns:
        The providers now in use, and which signals this call configured.

    Raises:
        ValueError: when ``protocol`` is not a supported value.
    """
    if protocol is not None and protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        logger.info("OTEL_SDK_DISABLED=true: modeltel.instrumentation.setup() does nothing")
        return _current()
    try:
        from opentelemetry.sdk.resources import Resource
    except ImportError:
        logger.warning(
            "modeltel.instrumentation.setup() needs the OpenTelemetry SDK and OTLP exporters: "
            "pip install 'modeltel-instrumentation[otlp]'; telemetry stays off"
        )
        return _current()
    resource = Resource.create({"service.name": service_name} if service_name else {})
    created: list[str] = []
    if _is_proxy_tracer_provider(trace.get_tracer_provider()):
        trace.set_tracer_provider(_tracer_provider(resource, protocol, endpoint))
        created.append("traces")
    if _is_proxy_meter_provider(metrics.get_meter_provider()):
        metrics.set_meter_provider(_meter_provider(resource, protocol, endpoint))
        created.append("metrics")
    if _is_proxy_logger_provider(_logs.get_logger_provider()):
        _logs.set_logger_provider(_logger_provider(resource, protocol, endpoint))
        created.append("logs")
    current = _current()
    return Providers(
        current.tracer_provider, current.meter_provider, current.logger_provider, tuple(created)
    )


def _tracer_provider(resource: Any, protocol: str | None, endpoint: str | None) -> Any:
    from opentelemetry.sdk.trace import SpanLimits, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    limit_set = any(
        os.environ.get(name, "").strip()
        for name in ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT")
    )
    limits = SpanLimits() if limit_set else SpanLimits(max_span_attributes=SpanLimits.UNSET)
    provider = TracerProvider(resource=resource, span_limits=limits)
    batch_size = None
    if not os.environ.get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "").strip():
        batch_size = DEFAULT_MAX_EXPORT_BATCH_SIZE
    exporter = _exporter("traces", resolve_protocol("traces", protocol), endpoint)
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=batch_size))
    return provider


def _meter_provider(resource: Any, protocol: str | None, endpoint: str | None) -> Any:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    exporter = _exporter("metrics", resolve_protocol("metrics", protocol), endpoint)
    reader = PeriodicExportingMetricReader(exporter)
    return MeterProvider(resource=resource, metric_readers=[reader])


def _logger_provider(resource: Any, protocol: str | None, endpoint: str | None) -> Any:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    provider = LoggerProvider(resource=resource)
    exporter = _exporter("logs", resolve_protocol("logs", protocol), endpoint)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    return provider
