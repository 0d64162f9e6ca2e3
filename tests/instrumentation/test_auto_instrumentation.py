"""SklearnInstrumentor: in process, and loaded by ``opentelemetry-instrument`` through the
``opentelemetry_instrumentor`` entry point."""

from __future__ import annotations

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
# A plain scikit-learn script: no modeltel import, no OpenTelemetry set-up.
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

X = pd.DataFrame({"age": [20.0, 30.0, 40.0, 50.0], "plan": [0.0, 1.0, 0.0, 1.0]})
model = DecisionTreeClassifier().fit(X, ["no", "no", "yes", "yes"])
for rows in (4, 3, 2):
    print(",".join(model.predict(X.head(rows))))
"""


def _run_app(tmp_path: Path, command: list[str], **otel: str) -> subprocess.CompletedProcess[str]:
    """The script under ``command`` with only the environment variables a user would set."""
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(APP))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MODELTEL_"))}
    env.update(NO_PROXY="127.0.0.1,localhost", MODELTEL_MODEL_NAME="churn", **otel)
    return subprocess.run(
        [*command, sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=tmp_path,
    )


INSTRUMENT = [str(Path(sys.executable).parent / "opentelemetry-instrument")]


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_opentelemetry_instrument_exports_an_unmodified_app(
    server, tmp_path: Path, protocol: str
) -> None:
    """The documented command, from modeltel's own install: every prediction reaches the
    receiver and is stored, over OTLP/HTTP and over gRPC (the distro's default)."""
    endpoint = server.url if protocol == "http/protobuf" else f"http://{server.grpc_endpoint}"
    result = _run_app(
        tmp_path,
        INSTRUMENT,
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        OTEL_SERVICE_NAME="churn-api",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["no,no,yes,yes", "no,no,yes", "no,no"]
    assert result.stderr == ""  # nothing failed to export
    rows = server.store.query_rows(
        "SELECT model, service_name, count(), uniqExact(prediction_id), "
        "groupArray(prediction_label) FROM ml_predictions GROUP BY model, service_name"
    )
    ((model, service, count, ids, labels),) = rows
    assert (model, service, count, ids) == ("churn", "churn-api", 9, 9)
    assert sorted(labels) == sorted(["no", "no", "yes", "yes", "no", "no", "yes", "no", "no"])
    ages = server.store.query_rows(
        "SELECT count() FROM ml_features WHERE feature = 'age' AND model = 'churn'"
    )
    assert ages == [(9,)]
    (predicted,) = server.store.query_rows(
        "SELECT max(Value) FROM otel_metrics_sum "
        "WHERE MetricName = 'ml.predictions' AND ServiceName = 'churn-api'"
    )
    assert predicted == (9,)


def test_without_the_command_nothing_is_exported(server, tmp_path: Path) -> None:
    result = _run_app(
        tmp_path,
        [],
        OTEL_EXPORTER_OTLP_ENDPOINT=server.url,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_SERVICE_NAME="churn-api",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["no,no,yes,yes", "no,no,yes", "no,no"]
    assert server.store.query_rows("SELECT count() FROM ml_predictions") == [(0,)]
    assert server.pipeline.stats.requests == 0
