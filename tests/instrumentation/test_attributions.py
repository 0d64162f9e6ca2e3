"""Feature attributions on prediction spans: a real SHAP explainer on a real scikit-learn model,
caller-supplied values, sampling, batch splitting and every way an explainer can go wrong."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.linear_model import LogisticRegression

from modeltel.instrumentation import attributions, instrument, monitor
from support.instrumentation import Telemetry, assert_contract, telemetry_fixture

__all__ = ["telemetry_fixture"]

FEATURES = ["age", "income", "tenure"]


@pytest.fixture(scope="module")
def fitted() -> tuple[LogisticRegression, pd.DataFrame]:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.normal(size=(400, 3)) * [10, 5, 2] + [40, 50, 3], columns=FEATURES)
    y = (0.2 * frame["age"] - 0.5 * frame["income"] + frame["tenure"] + rng.normal(size=400)) > -16
    return LogisticRegression(max_iter=1000).fit(frame, y), frame


def attribution_keys(attributes: dict) -> dict:
    return {k: v for k, v in attributes.items() if k.startswith("ml.attribution.")}


def test_shap_values_of_a_batch_travel_as_arrays(telemetry: Telemetry, fitted) -> None:
    model, frame = fitted
    explainer = shap.LinearExplainer(model, shap.maskers.Independent(frame, max_samples=1000))
    instrument(
        model,
        name="churn",
        explainer=explainer.shap_values,
        attribution_rate=1.0,
        **telemetry.providers,
    )
    batch = frame.iloc[:7]
    model.predict_proba(batch)
    attributes = telemetry.attributes()
    assert_contract(attributes)
    recorded = attribution_keys(attributes)
    assert sorted(recorded) == [f"ml.attribution.{f}" for f in sorted(FEATURES)]
    # exact attributions of a linear model: coefficient × (x − mean of the background)
    exact = model.coef_[0] * (batch.to_numpy() - frame.to_numpy().mean(axis=0))
    for j, name in enumerate(FEATURES):
        values = recorded[f"ml.attribution.{name}"]
        assert isinstance(values, tuple) and len(values) == 7
        np.testing.assert_allclose(values, exact[:, j], rtol=0, atol=1e-10)


def test_a_single_row_gets_scalar_attributions(telemetry: Telemetry) -> None:
    seen = []

    def explain(row):
        seen.append(row)
        return {"a": 0.5, "b": -1.25, "c": float("nan")}

    predict = monitor(
        lambda row: row["a"] + row["b"],
        name="single",
        explainer=explain,
        attribution_rate=1.0,
        **telemetry.providers,
    )
    assert predict({"a": 1.0, "b": 2.0, "c": 3.0}) == 3.0
    attributes = telemetry.attributes()
    assert_contract(attributes)
    assert attribution_keys(attributes) == {
        "ml.attribution.a": 0.5,
        "ml.attribution.b": -1.25,  # NaN is missing: left out like a missing feature
    }
    assert seen == [{"a": 1.0, "b": 2.0, "c": 3.0}]


def test_caller_attributions_are_recorded_whatever_the_rate(telemetry: Telemetry) -> None:
    calls = []
    predict = monitor(
        lambda x: [0.0] * len(x),
        name="given",
        feature_names=["p", "q"],
        explainer=lambda x: calls.append(x),
        attribution_rate=0.0,
        **telemetry.providers,
    )
    rows = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    with attributions(np.array([[0.1, -0.2], [np.nan, 0.4], [0.5, 0.6]])):
        predict(rows)
    predict(rows)  # outside the block, rate 0: nothing
    first, second = [s.attributes for s in telemetry.spans()]
    assert first["ml.attribution.p"] == (0.1, None, 0.5)
    assert first["ml.attribution.q"] == (-0.2, 0.4, 0.6)
    assert not attribution_keys(dict(second))
    assert calls == []  # the explainer never ran


def test_explainer_runs_on_a_sampled_share_of_calls(telemetry: Telemetry) -> None:
    calls = []

    def explain(x):
        calls.append(x)
        return [0.1]

    predict = monitor(
        lambda x: x * 2.0,
        name="sampled",
        explainer=explain,
        attribution_rate=0.25,
        **telemetry.providers,
    )
    for i in range(400):
        predict(float(i))
    with_attributions = [s for s in telemetry.spans() if "ml.attribution.x0" in s.attributes]
    assert len(with_attributions) == len(calls)
    assert 50 <= len(calls) <= 150  # binomial(400, 0.25): 100 ± 5.8σ
    assert len(telemetry.spans()) == 400  # every call still recorded


def test_split_and_sampled_batches_keep_attributions_with_their_rows(telemetry: Telemetry) -> None:
    values = np.arange(20, dtype=float).reshape(10, 2)
    explain = lambda x: x * -1.0  # noqa: E731 - attribution of row i is -row i
    for overflow in ("split", "sample"):
        predict = monitor(
            lambda x: x[:, 0],
            name=f"big-{overflow}",
            feature_names=["u", "v"],
            explainer=explain,
            attribution_rate=1.0,
            max_batch_span_rows=4,
            batch_overflow=overflow,
            **telemetry.providers,
        )
        predict(values)
    for span in telemetry.spans():
        attributes = dict(span.attributes)
        assert_contract(attributes)
        assert attributes["ml.attribution.u"] == tuple(-u for u in attributes["ml.feature.u"])
        assert attributes["ml.attribution.v"] == tuple(-v for v in attributes["ml.feature.v"])
    sizes = sorted(s.attributes["ml.batch.size"] for s in telemetry.spans())
    assert sizes == [2, 4, 4, 4]  # split 4+4+2, sampled 4


def test_a_feature_named_categorical_keeps_its_renamed_key(telemetry: Telemetry) -> None:
    predict = monitor(
        lambda row: 1.0,
        name="renamed",
        explainer=lambda row: {"categorical": 0.3},
        attribution_rate=1.0,
        **telemetry.providers,
    )
    predict({"categorical": 2.0})
    attributes = telemetry.attributes()
    assert attributes["ml.feature.categorical_"] == 2.0
    assert attributes["ml.attribution.categorical_"] == 0.3


def test_explainer_time_is_not_prediction_latency(telemetry: Telemetry) -> None:
    def slow_explainer(x):
        time.sleep(0.5)
        return [1.0]

    predict = monitor(
        lambda x: x,
        name="slow-explainer",
        explainer=slow_explainer,
        attribution_rate=1.0,
        **telemetry.providers,
    )
    predict(1.0)
    span = telemetry.span()
    assert span.attributes["ml.attribution.x0"] == 1.0
    assert (span.end_time - span.start_time) / 1e9 < 0.5


@pytest.mark.parametrize(
    ("explainer", "message"),
    [
        (lambda x: 1 / 0, "explainer of"),
        (lambda x: np.zeros((3, 2, 2)), "3-D attributions"),
        (lambda x: np.zeros((2, 2)), "2 attribution rows for 3 rows"),
        (lambda x: np.zeros((3, 5)), "5 attribution columns for 2 features"),
        (lambda x: "nonsense", "not understood"),
        (lambda x: {"u": [1.0]}, "1 attributions of 'u' for 3 rows"),
    ],
)
def test_bad_explainers_never_break_the_prediction(
    telemetry: Telemetry, caplog: pytest.LogCaptureFixture, explainer, message
) -> None:
    predict = monitor(
        lambda x: x.sum(axis=1),
        name=f"bad-{message[:8]}",
        feature_names=["u", "v"],
        explainer=explainer,
        attribution_rate=1.0,
        **telemetry.providers,
    )
    rows = np.ones((3, 2))
    with caplog.at_level(logging.WARNING, logger="modeltel.instrumentation"):
        result = predict(rows)
        predict(rows)
    assert result.tolist() == [2.0, 2.0, 2.0]
    spans = telemetry.spans()
    assert len(spans) == 2
    assert all(not attribution_keys(dict(s.attributes)) for s in spans)
    assert all(s.attributes["ml.feature.u"] == (1.0, 1.0, 1.0) for s in spans)
    warnings = [r for r in caplog.records if message in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]


def test_failed_calls_are_not_explained(telemetry: Telemetry) -> None:
    calls = []

    def broken(x):
        raise RuntimeError("model down")

    predict = monitor(
        broken,
        name="failing",
        explainer=lambda x: calls.append(x) or [1.0],
        attribution_rate=1.0,
        **telemetry.providers,
    )
    with pytest.raises(RuntimeError, match="model down"):
        predict(1.0)
    assert calls == []
    assert not attribution_keys(telemetry.attributes())


def test_invalid_arguments_fail_at_decoration() -> None:
    with pytest.raises(ValueError, match="attribution_rate"):
        monitor(lambda x: x, name="m", explainer=lambda x: x, attribution_rate=2.0)
    with pytest.raises(ValueError, match="explainer"):
        monitor(lambda x: x, name="m", explainer="shap")  # type: ignore[arg-type]


def test_attribution_rate_from_the_environment(
    telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MODELTEL_ATTRIBUTION_RATE", "0")
    calls = []
    predict = monitor(
        lambda x: x, name="env", explainer=lambda x: calls.append(1) or [1.0], **telemetry.providers
    )
    predict(1.0)
    assert calls == []
    monkeypatch.setenv("MODELTEL_ATTRIBUTION_RATE", "lots")
    with caplog.at_level(logging.WARNING, logger="modeltel.instrumentation"):
        predict = monitor(lambda x: x, name="env2", explainer=lambda x: [1.0])
    assert predict.modeltel_monitor.settings.attribution_rate == 0.1
    assert "MODELTEL_ATTRIBUTION_RATE" in caplog.text
