"""setup(): providers from OTEL_* when the app has none, the app's own kept otherwise.

Global providers can be set once per process, so each case runs in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from modeltel.instrumentation._setup import resolve_protocol


def run(code: str, **env: str) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MODELTEL_"))}
    environment.update(env)
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


DESCRIBE = """
import json
from opentelemetry import _logs, metrics, trace
from modeltel.instrumentation import setup

def describe(providers):
    tp = providers.tracer_provider
    processor = tp._active_span_processor._span_processors[0]
    exporter = processor._batch_processor._exporter
    mp = providers.meter_provider
    reader = mp._sdk_config.metric_readers[0] if hasattr(mp._sdk_config, "metric_readers") \\
        else list(mp._measurement_consumer._reader_storages)[0]
    lp = providers.logger_provider
    return {
        "created": list(providers.created),
        "span_exporter": type(exporter).__module__ + "." + type(exporter).__name__,
        "endpoint": getattr(exporter, "_endpoint", None),
        "batch": processor._batch_processor._max_export_batch_size,
        "attribute_limit": tp._span_limits.max_span_attributes,
        "metric_exporter": type(reader._exporter).__module__,
        "service": tp.resource.attributes.get("service.name"),
        "env": tp.resource.attributes.get("deployment.environment.name"),
        "global": trace.get_tracer_provider() is tp and metrics.get_meter_provider() is mp
                  and _logs.get_logger_provider() is lp,
    }
"""


def test_setup_configures_http_from_the_environment() -> None:
    out = run(
        DESCRIBE
        + """
providers = setup()
again = setup()
info = describe(providers)
info["again"] = list(again.created)
print(json.dumps(info))
""",
        OTEL_SERVICE_NAME="fraud-api",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=test",
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
        OTEL_METRIC_EXPORT_INTERVAL="600000",
    )
    assert out["created"] == ["traces", "metrics", "logs"]
    assert out["again"] == []
    assert out["span_exporter"].startswith("opentelemetry.exporter.otlp.proto.http")
    assert out["endpoint"] == "http://127.0.0.1:9/v1/traces"
    assert out["batch"] == 64
    assert out["attribute_limit"] is None  # unlimited: >128 features lose nothing
    assert "http" in out["metric_exporter"]
    assert (out["service"], out["env"]) == ("fraud-api", "test")
    assert out["global"]


def test_setup_grpc_and_arguments() -> None:
    out = run(
        DESCRIBE
        + """
print(json.dumps(describe(setup(service_name="arg-name", endpoint="127.0.0.1:9"))))
""",
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
        OTEL_SERVICE_NAME="env-name",
        OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT="500",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE="10",
        OTEL_METRIC_EXPORT_INTERVAL="600000",
    )
    assert out["span_exporter"].startswith("opentelemetry.exporter.otlp.proto.grpc")
    assert "grpc" in out["metric_exporter"]
    assert out["service"] == "arg-name"
    assert out["attribute_limit"] == 500
    assert out["batch"] == 10


def test_setup_respects_the_apps_providers() -> None:
    out = run(
        """
import json
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from modeltel.instrumentation import setup
mine = TracerProvider()
trace.set_tracer_provider(mine)
providers = setup()
print(json.dumps({"created": list(providers.created),
                  "kept": providers.tracer_provider is mine}))
""",
        OTEL_METRIC_EXPORT_INTERVAL="600000",
    )
    assert out == {"created": ["metrics", "logs"], "kept": True}


def test_setup_disabled() -> None:
    out = run(
        """
import json
from modeltel.instrumentation import setup
print(json.dumps({"created": list(setup().created)}))
""",
        OTEL_SDK_DISABLED="true",
    )
    assert out == {"created": []}


def test_protocol_resolution(monkeypatch, caplog) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", raising=False)
    assert resolve_protocol("traces", None) == "http/protobuf"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    assert resolve_protocol("traces", None) == "grpc"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
    assert resolve_protocol("traces", None) == "http/protobuf"
    assert resolve_protocol("metrics", None) == "grpc"
    assert resolve_protocol("traces", "grpc") == "grpc"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json")
    assert resolve_protocol("logs", None) == "http/protobuf"
    assert "http/json" in caplog.text
    with pytest.raises(ValueError):
        resolve_protocol("traces", "carrier-pigeon")
