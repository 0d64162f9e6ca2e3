"""SklearnInstrumentor: in process, and loaded by ``opentelemetry-instrument`` through the
``opentelemetry_instrumentor`` entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from modeltel.instrumentation import instrument
from modeltel.instrumentation.auto import SklearnInstrumentor
from support.instrumentation import Telemetry, metric_key, telemetry_fixture  # noqa: F401

X = pd.DataFrame({"a": np.linspace(0, 1, 60), "b": np.linspace(1, 0, 60) ** 2})
Y = np.where(X["a"] > 0.5, 1, 0)


@pytest.fixture
def auto(telemetry: Telemetry) -> Iterator[SklearnInstrumentor]:
    instrumentor = SklearnInstrumentor()
    instrumentor.instrument(**telemetry.providers)
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()


def test_entry_point_is_registered() -> None:
    (entry,) = [e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "sklearn"]
    assert entry.load() is SklearnInstrumentor


def test_every_estimator_is_monitored(telemetry: Telemetry, auto) -> None:
    LogisticRegression().fit(X, Y).predict(X.head(3))
    LinearRegression().fit(X, X["a"]).predict(X.head(2))
    names = [s.attributes["ml.model.name"] for s in telemetry.spans()]
    assert names == ["LogisticRegression", "LinearRegression"]
    first = telemetry.spans()[0].attributes
    assert first["ml.feature.a"] == tuple(X["a"].head(3))
    assert first["ml.task"] == "classification"


def test_pipelines_and_fit_internals_are_recorded_once(telemetry: Telemetry, auto) -> None:
    RandomForestClassifier(n_estimators=25, oob_score=True, random_state=0).fit(X, Y)
    assert telemetry.spans() == []  # out-of-bag predictions during fit are not predictions
    pipeline = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])
    pipeline.fit(X, Y).predict_proba(X.head(4))
    (span,) = telemetry.spans()
    assert span.attributes["ml.model.name"] == "Pipeline"
    assert len(span.attributes["ml.prediction.score"]) == 4
    assert telemetry.metrics()[metric_key("ml.predictions", "Pipeline")].value == 4


def test_estimators_defined_later_are_monitored(telemetry: Telemetry, auto) -> None:
    class Threshold(BaseEstimator):
        def fit(self, X, y=None):
            return self

        def predict(self, X):
            return (np.asarray(X)[:, 0] > 0.5).astype(int)

    Threshold().fit(X).predict(X.head(2))
    (span,) = telemetry.spans()
    assert span.attributes["ml.model.name"] == "Threshold"


def test_explicit_instrument_wins(telemetry: Telemetry, auto) -> None:
    model = instrument(LogisticRegression().fit(X, Y), name="churn", **telemetry.providers)
    model.predict(X.head(1))
    assert [s.attributes["ml.model.name"] for s in telemetry.spans()] == ["churn"]


def test_name_and_version_from_environment(telemetry: Telemetry, monkeypatch) -> None:
    monkeypatch.setenv("MODELTEL_MODEL_NAME", "fraud")
    monkeypatch.setenv("MODELTEL_MODEL_VERSION", "9")
    instrumentor = SklearnInstrumentor()
    instrumentor.instrument(**telemetry.providers)
    try:
        LogisticRegression().fit(X, Y).predict(X.head(1))
    finally:
        instrumentor.uninstrument()
    a = telemetry.attributes()
    assert (a["ml.model.name"], a["ml.model.version"]) == ("fraud", "9")


def test_instrument_and_uninstrument_are_idempotent(telemetry: Telemetry) -> None:
    original = LinearClassifierMixin.__dict__["predict"]
    original_hook = BaseEstimator.__dict__.get("__init_subclass__")
    instrumentor = SklearnInstrumentor()
    instrumentor.instrument(**telemetry.providers)
    instrumentor.instrument(**telemetry.providers)  # no double wrapping
    patched = LinearClassifierMixin.__dict__["predict"]
    assert patched is not original and patched.original is original
    model = LogisticRegression().fit(X, Y)
    model.predict(X.head(1))
    assert len(telemetry.spans()) == 1
    instrumentor.uninstrument()
    instrumentor.uninstrument()
    assert LinearClassifierMixin.__dict__["predict"] is original
    assert BaseEstimator.__dict__.get("__init_subclass__") is original_hook
    model.predict(X.head(1))
    assert len(telemetry.spans()) == 1
    instrumentor.instrument(**telemetry.providers)  # and again
    try:
        model.predict(X.head(1))
    finally:
        instrumentor.uninstrument()
    assert len(telemetry.spans()) == 2


APP = """
import json, sys
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

# The app's own OTel set-up; nothing here mentions modeltel.
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

import pandas as pd
from sklearn.tree import DecisionTreeClassifier

X = pd.DataFrame({"age": [20.0, 30.0, 40.0, 50.0], "plan": [0.0, 1.0, 0.0, 1.0]})
model = DecisionTreeClassifier().fit(X, ["no", "no", "yes", "yes"])
labels = model.predict(X.head(2))
spans = [
    {k: list(v) if isinstance(v, tuple) else v for k, v in s.attributes.items()}
    for s in exporter.get_finished_spans()
]
data = reader.get_metrics_data()
points = {
    m.name: m.data.data_points[0].value
    for rm in (data.resource_metrics if data else [])
    for sm in rm.scope_metrics for m in sm.metrics if m.name == "ml.predictions"
}
json.dump({"labels": labels.tolist(), "spans": spans, "predictions": points}, sys.stdout)
"""


def test_opentelemetry_instrument_monitors_an_unmodified_app(tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(APP))
    command = Path(sys.executable).parent / "opentelemetry-instrument"
    env = dict(
        os.environ,
        MODELTEL_MODEL_NAME="churn",
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
    )
    result = subprocess.run(
        [str(command), sys.executable, "-W", "error", str(script)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["labels"] == ["no", "no"]
    (span,) = output["spans"]
    assert span["ml.model.name"] == "churn"
    assert span["ml.feature.age"] == [20.0, 30.0]
    assert span["ml.prediction.label"] == ["no", "no"]
    assert len(span["ml.prediction.id"]) == 2
    assert output["predictions"] == {"ml.predictions": 2}

    plain = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=tmp_path,
    )
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout)["spans"] == []  # without the command: no monitoring
