"""Analyzer results out: OTel gauges (Prometheus ``/metrics`` and OTLP push).

Public surface::

    from modeltel.analyzer.export import MetricsPublisher, GAUGES, prometheus_name
"""

from modeltel.analyzer.export.catalog import GAUGES, Gauge, Observation, prometheus_name
from modeltel.analyzer.export.publisher import PROMETHEUS_CONTENT_TYPE, Failure, MetricsPublisher
from modeltel.analyzer.export.snapshot import Snapshot, build_snapshot, read_snapshot

__all__ = [
    "GAUGES",
    "PROMETHEUS_CONTENT_TYPE",
    "Failure",
    "Gauge",
    "MetricsPublisher",
    "Observation",
    "Snapshot",
    "build_snapshot",
    "prometheus_name",
    "read_snapshot",
]
