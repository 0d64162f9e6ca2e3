"""End to end: a scikit-learn model in a FastAPI app served by uvicorn, real HTTP requests,
spans/metrics/logs over the real OTLP/HTTP exporters to the modeltel receiver, rows in
ml_predictions / ml_features / ml_labels."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
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

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from churn_service import create_app, train_model

pytestmark = pytest.mark.slow


class _Uvicorn(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        pass


@pytest.fixture
def serving(server) -> Iterator[tuple[str, dict]]:
    """The churn service on a free port, exporting to the receiver; yields (url, providers)."""
    resource = Resource.create({"service.name": "churn-api"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=server.url + "/v1/traces"))
    )
    meter_provider = MeterProvider(
        resource=resource,
        metric_readers=[
            PeriodicExportingMetricReader(
                OTLPMetricExporter(endpoint=server.url + "/v1/metrics"),
                export_interval_millis=3_600_000,
            )
        ],
    )
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(endpoint=server.url + "/v1/logs"))
    )
    providers = {
        "tracer_provider": tracer_provider,
        "meter_provider": meter_provider,
        "logger_provider": logger_provider,
    }
    app = create_app(train_model(), **dict(providers))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    web = _Uvicorn(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # a ceiling for a busy machine; the loop ends when it holds
    while not web.started:
        assert time.monotonic() < deadline, "the churn service did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", providers
    finally:
        web.should_exit = True
        thread.join(20)
        for provider in providers.values():
            provider.shutdown()


def customer(i: int) -> dict:
    return {
        "tenure_months": float(1 + i % 60),
        "monthly_charges": 40.0 + i,
        "support_calls": None if i % 5 == 0 else float(i % 4),
        "plan": ["basic", "standard", "premium"][i % 3],
    }


def test_predictions_and_labels_reach_clickhouse(server, serving) -> None:
    url, providers = serving
    answers: dict[str, dict] = {}
    inputs: dict[str, dict] = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(20):
            response = client.post("/predict", json=customer(i))
            assert response.status_code == 200, response.text
            body = response.json()
            answers[body["prediction_id"]] = body | {"batch": 1}
            inputs[body["prediction_id"]] = customer(i)
        batch = [customer(100 + i) for i in range(30)]
        response = client.post("/predict/batch", json=batch)
        assert response.status_code == 200, response.text
        for row, body in zip(batch, response.json(), strict=True):
            answers[body["prediction_id"]] = body | {"batch": 30}
            inputs[body["prediction_id"]] = row
        failed = client.post("/predict", json={})  # every feature missing: the model raises
        assert failed.status_code == 422
        assert len(answers) == 50 and None not in answers

        truth = {pid: ("yes" if i % 2 else "no") for i, pid in enumerate(list(answers)[:35])}
        response = client.post(
            "/labels", json={"prediction_ids": list(truth), "labels": list(truth.values())}
        )
        assert response.json() == {"sent": 35}

    for provider in providers.values():
        assert provider.force_flush(30_000) is not False
    store = server.store

    rows = store.query_rows(
        "SELECT prediction_id, version, task, prediction_label, prediction_score, latency_s, "
        "batch_size, is_error, service_name FROM ml_predictions WHERE model = 'churn'"
    )
    ok = {r[0]: r for r in rows if r[7] == 0}
    errors = [r for r in rows if r[7] == 1]
    assert set(ok) == set(answers)
    assert len(errors) == 1 and errors[0][3] is None
    for pid, (_, version, task, label, score, latency, batch_size, _, service) in ok.items():
        answer = answers[pid]
        assert (version, task, service) == ("1", "classification", "churn-api")
        assert label == answer["label"]
        assert score == pytest.approx(answer["score"], rel=1e-12)
        assert 0 < latency < 5
        assert batch_size == answer["batch"]

    features = store.query_rows(
        "SELECT prediction_id, feature, value, value_num, categorical FROM ml_features "
        "WHERE model = 'churn'"
    )
    seen = {(pid, feature): (value, num, cat) for pid, feature, value, num, cat in features}
    for pid, row in inputs.items():
        for feature, expected in row.items():
            value, num, cat = seen[(pid, feature)]
            if expected is None:
                assert value is None and num is None
            elif feature == "plan":
                assert (value, cat) == (expected, 1)
            else:
                assert num == pytest.approx(expected) and cat == 0

    joined = store.query_rows(
        "SELECT p.prediction_id, l.label, l.source FROM ml_predictions AS p "
        "INNER JOIN ml_labels AS l ON l.model = p.model AND l.prediction_id = p.prediction_id "
        "WHERE p.model = 'churn'"
    )
    assert {pid: label for pid, label, _ in joined} == truth
    assert {source for _, _, source in joined} == {"otlp"}

    counts = dict(
        store.query_rows(
            "SELECT Attributes['ml.outcome'], max(Value) FROM otel_metrics_sum "
            "WHERE MetricName = 'ml.predictions' AND Attributes['ml.model.name'] = 'churn' "
            "GROUP BY 1"
        )
    )
    assert counts == {"success": 50.0, "error": 1.0}
    (histogram_count,) = store.query_rows(
        "SELECT sum(Count) FROM otel_metrics_histogram "
        "WHERE MetricName = 'ml.prediction.duration' AND Attributes['ml.model.name'] = 'churn'"
    )[0]
    assert histogram_count == 22  # 20 single calls, 1 batch call, 1 failed call
