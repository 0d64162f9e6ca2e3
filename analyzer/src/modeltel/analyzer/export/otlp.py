"""Whether and how analyzer metrics are pushed over OTLP, from the standard ``OTEL_*`` variables.

Push is on when ``OTEL_METRICS_EXPORTER`` lists ``otlp``, or when it is unset and an endpoint
is configured (``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT``);
``OTEL_METRICS_EXPORTER=none`` or ``OTEL_SDK_DISABLED=true`` turn it off. The protocol comes
from ``OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`` / ``OTEL_EXPORTER_OTLP_PROTOCOL`` (``grpc`` or
``http/protobuf``, the default). Endpoint, headers, timeout, compression and certificates are
read by the OTel exporters themselves; the push interval by the periodic reader
(``OTEL_METRIC_EXPORT_INTERVAL``, milliseconds, default 60000).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry.sdk.metrics.export import MetricExporter

from modeltel.analyzer.base.errors import ConfigError

OTEL_METRICS_EXPORTER = "OTEL_METRICS_EXPORTER"
OTEL_SDK_DISABLED = "OTEL_SDK_DISABLED"
OTEL_EXPORTER_OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTEL_EXPORTER_OTLP_METRICS_ENDPOINT = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
OTEL_EXPORTER_OTLP_PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL"
OTEL_EXPORTER_OTLP_METRICS_PROTOCOL = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"


def otlp_push_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """True when the environment asks for OTLP metric push (see the module docstring)."""
    env = os.environ if environ is None else environ
    if env.get(OTEL_SDK_DISABLED, "").strip().lower() == "true":
        return False
    exporters = env.get(OTEL_METRICS_EXPORTER, "").strip().lower()
    if exporters:
        return "otlp" in {e.strip() for e in exporters.split(",")}
    return bool(
        env.get(OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, "").strip()
        or env.get(OTEL_EXPORTER_OTLP_ENDPOINT, "").strip()
    )


def otlp_protocol(environ: Mapping[str, str] | None = None) -> str:
    """``grpc`` or ``http/protobuf``; ConfigError naming the variable for anything else."""
    env = os.environ if environ is None else environ
    for name in (OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL):
        value = env.get(name, "").strip().lower()
        if value:
            if value not in ("grpc", "http/protobuf"):
                raise ConfigError(
                    f"{name}={value!r} is not supported for metrics; use grpc or http/protobuf"
                )
            return value
    return "http/protobuf"


def otlp_metric_exporter(environ: Mapping[str, str] | None = None) -> MetricExporter | None:
    """The OTLP metric exporter the environment asks for, or None when push is off."""
    if not otlp_push_enabled(environ):
        return None
    if otlp_protocol(environ) == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcExporter,
        )

        return GrpcExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpExporter,
    )

    return HttpExporter()
