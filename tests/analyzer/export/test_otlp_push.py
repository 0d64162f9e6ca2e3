"""Analyzer gauges pushed over OTLP (standard OTEL_* settings) into a real OTLP receiver:
modeltel's own, which stores them in the exporter's otel_metrics_gauge table."""

from __future__ import annotations

import pytest

from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.export import MetricsPublisher
from modeltel.analyzer.export.otlp import otlp_metric_exporter, otlp_protocol, otlp_push_enabled
from support.results import seed_results, utc_now, window_ending


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_gauges_pushed_over_otlp(store, server, monkeypatch, protocol) -> None:
    now = utc_now()
    if protocol == "grpc":
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://{server.grpc_endpoint}")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
    else:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", server.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    base = {"model": "churn", "version": "3", **window_ending(now)}
    seed_results(
        store,
        [
            {
                **base,
                "kind": "drift",
                "feature": "age",
                "method": "psi",
                "value": 0.31,
                "threshold": 0.2,
                "status": "drift",
            },
            {**base, "kind": "service", "metric": "latency_p99", "value": 0.25, "status": "ok"},
        ],
    )
    publisher = MetricsPublisher(store)
    try:
        assert publisher.pushing
        publisher.refresh()
        assert publisher.force_flush()
    finally:
        publisher.shutdown()
    rows = store.query_rows(
        "SELECT MetricName, MetricUnit, Attributes, Value, ResourceAttributes['service.name'] "
        "FROM otel_metrics_gauge WHERE MetricName IN ('ml.drift.score', 'ml.latency') "
        "ORDER BY MetricName, TimeUnix DESC LIMIT 1 BY MetricName"
    )
    by_name = {r[0]: r for r in rows}
    drift = by_name["ml.drift.score"]
    assert drift[3] == pytest.approx(0.31)
    assert drift[2]["ml.feature.name"] == "age"
    assert drift[2]["ml.drift.method"] == "psi"
    assert drift[2]["ml.model.name"] == "churn"
    assert drift[4] == "modeltel-analyzer"
    latency = by_name["ml.latency"]
    assert latency[1] == "s"
    assert latency[2]["quantile"] == "0.99"
    assert latency[3] == pytest.approx(0.25)


def test_push_follows_the_standard_environment() -> None:
    assert not otlp_push_enabled({})
    assert otlp_push_enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert otlp_push_enabled({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://c:4318/v1/metrics"})
    assert otlp_push_enabled({"OTEL_METRICS_EXPORTER": "otlp"})
    assert not otlp_push_enabled(
        {"OTEL_METRICS_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}
    )
    assert not otlp_push_enabled(
        {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}
    )
    assert otlp_protocol({}) == "http/protobuf"
    assert otlp_protocol({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}) == "grpc"
    assert (
        otlp_protocol(
            {
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf",
            }
        )
        == "http/protobuf"
    )
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        otlp_metric_exporter(
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}
        )
