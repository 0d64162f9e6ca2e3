"""The whole path a user takes: spans from the OTel SDK into the receiver, a reference file
uploaded with ``modeltel reference upload``, drift printed by ``modeltel analyze``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from scipy import stats as sps

from support.cli_process import modeltel

RNG = np.random.default_rng(17)


def send_predictions(url: str, ages: np.ndarray, plans: list[str]) -> None:
    """Batch prediction spans as the instrumentation sends them (arrays, one per row)."""
    provider = TracerProvider(resource=Resource.create({"service.name": "churn-api"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=url + "/v1/traces")))
    tracer = provider.get_tracer("test")
    for start in range(0, len(ages), 100):
        rows = range(start, min(start + 100, len(ages)))
        with tracer.start_as_current_span(
            "predict churn",
            attributes={
                "ml.model.name": "churn",
                "ml.model.version": "3",
                "ml.task": "classification",
                "ml.prediction.id": [f"id-{i}" for i in rows],
                "ml.batch.size": len(rows),
                "ml.feature.age": [float(ages[i]) for i in rows],
                "ml.feature.plan": [plans[i] for i in rows],
                "ml.feature.categorical": ["plan"],
                "ml.prediction.label": ["1" if ages[i] > 45 else "0" for i in rows],
            },
        ):
            pass
    provider.shutdown()


def test_upload_and_analyze_through_a_running_server(server, tmp_path) -> None:
    ref = pd.DataFrame(
        {
            "age": np.round(RNG.normal(40, 9, 800), 1),
            "plan": RNG.choice(["basic", "gold"], 800),
            "customer": np.arange(800),
        }
    )
    train = tmp_path / "train.csv"
    ref.to_csv(train, index=False)
    ages = np.round(RNG.normal(47, 9, 600), 1)
    plans = list(RNG.choice(["basic", "gold"], 600, p=[0.5, 0.5]))
    send_predictions(server.url, ages, plans)

    upload = modeltel(
        "reference",
        "upload",
        "churn",
        str(train),
        "--version",
        "3",
        "--exclude",
        "customer",
        "--server",
        server.url,
    )
    assert upload.returncode == 0, upload.stderr
    assert "800 rows, 1 numerical and 1 categorical columns" in upload.stdout

    done = modeltel(
        "analyze",
        "--model",
        "churn",
        "--only",
        "drift",
        "--window",
        "1h",
        "--format",
        "json",
        "--server",
        server.url,
    )
    assert done.returncode == 0, done.stderr
    records = {(r["feature"], r["method"]): r for r in json.loads(done.stdout)}
    age = records[("age", "ks")]
    expected = sps.ks_2samp(ref["age"], ages)
    assert json.loads(age["details"])["statistic"] == pytest.approx(expected.statistic, abs=1e-12)
    assert age["value"] == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert age["status"] == "drift" and age["current_size"] == 600
    assert {
        "model",
        "version",
        "window_start",
        "window_end",
        "kind",
        "feature",
        "method",
        "metric",
        "value",
        "threshold",
        "status",
        "source",
    } <= set(age)

    table = modeltel(
        "analyze", "--model", "churn", "--only", "drift", "--fail-on-drift", "--server", server.url
    )
    assert table.returncode == 1, table.stderr  # something drifted
    assert "status" in table.stdout.splitlines()[0] and "age" in table.stdout


def test_bad_input_exits_2_with_one_sentence(tmp_path) -> None:
    url = f"chdb://{tmp_path / 'store'}"
    empty = tmp_path / "empty.csv"
    empty.write_text("age,plan\n")
    bad = modeltel("reference", "upload", "churn", str(empty), "--clickhouse-url", url)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "modeltel: error: the file has a header but no rows"
    window = modeltel("analyze", "--model", "churn", "--window", "soon", "--clickhouse-url", url)
    assert window.returncode == 2
    assert "window 'soon' is not a duration" in window.stderr
    missing = modeltel("analyze", "--model", "churn", "--clickhouse-url", url)
    assert missing.returncode == 4
    assert missing.stderr.strip() == "modeltel: error: model 'churn' has no predictions"
