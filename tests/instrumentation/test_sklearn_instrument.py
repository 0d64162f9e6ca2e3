"""instrument(estimator): scikit-learn classifiers, regressors and pipelines."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modeltel.instrumentation import instrument, last_prediction_ids
from modeltel.instrumentation._sklearn import MonitoredMethod, uninstrument_estimator
from support.instrumentation import Telemetry, metric_key, telemetry_fixture  # noqa: F401

RNG = np.random.default_rng(1)
X = pd.DataFrame({"age": RNG.normal(40, 10, 200), "income": RNG.normal(3, 1, 200)})
Y = np.where(X["age"] + 5 * X["income"] > 55, "churn", "stay")


def test_classifier_predict_and_predict_proba(telemetry: Telemetry) -> None:
    model = LogisticRegression().fit(X, Y)
    expected_labels = model.predict(X.head(3))
    expected_proba = model.predict_proba(X.head(3))
    assert instrument(model, name="churn", version="4", **telemetry.providers) is model
    np.testing.assert_array_equal(model.predict(X.head(3)), expected_labels)
    np.testing.assert_array_equal(model.predict_proba(X.head(3)), expected_proba)
    labels_span, proba_span = telemetry.spans()
    a = labels_span.attributes
    assert a["ml.model.name"] == "churn" and a["ml.model.version"] == "4"
    assert a["ml.task"] == "classification"
    assert a["ml.feature.age"] == tuple(X["age"].head(3))
    assert a["ml.prediction.label"] == tuple(expected_labels)
    assert "ml.prediction.score" not in a
    b = proba_span.attributes
    assert b["ml.prediction.label"] == tuple(expected_labels)
    # binary: probability of the positive class (classes_[1] = "stay")
    assert b["ml.prediction.score"] == pytest.approx(tuple(expected_proba[:, 1]))


def test_predict_scores_adds_scores_to_predict(telemetry: Telemetry) -> None:
    model = LogisticRegression().fit(X, Y)
    instrument(model, name="churn", predict_scores=True, **telemetry.providers)
    model.predict(X.head(4))
    (span,) = telemetry.spans()  # the extra predict_proba is not a prediction of its own
    expected = model.predict_proba(X.head(4))[:, 1]
    assert span.attributes["ml.prediction.score"] == pytest.approx(tuple(expected))


def test_multiclass_score_is_the_predicted_class(telemetry: Telemetry) -> None:
    y = np.array(["a", "b", "c"])[RNG.integers(0, 3, 200)]
    model = LogisticRegression().fit(X, y)
    instrument(model, name="multi", predict_scores=True, **telemetry.providers)
    labels = model.predict(X.head(5))
    proba = model.predict_proba(X.head(5))
    first, second = telemetry.spans()
    index = {c: i for i, c in enumerate(model.classes_)}
    expected = [proba[i, index[label]] for i, label in enumerate(labels)]
    assert first.attributes["ml.prediction.score"] == pytest.approx(expected)
    assert second.attributes["ml.prediction.label"] == tuple(model.classes_[proba.argmax(1)])


def test_regressor_with_numpy_input(telemetry: Telemetry) -> None:
    model = LinearRegression().fit(X.to_numpy(), X["age"] * 2)
    instrument(model, name="price", feature_names=["age", "income"], **telemetry.providers)
    values = model.predict(X.to_numpy()[:3])
    a = telemetry.attributes()
    assert a["ml.task"] == "regression"
    assert a["ml.prediction.value"] == pytest.approx(tuple(values))
    assert a["ml.feature.income"] == tuple(X["income"].head(3))


def test_feature_names_in_are_used_for_arrays(telemetry: Telemetry) -> None:
    model = LinearRegression().fit(X, X["age"])
    instrument(model, name="named", **telemetry.providers)
    with pytest.warns(UserWarning, match="feature names"):  # scikit-learn's own warning
        model.predict(X.to_numpy()[:2])
    a = telemetry.attributes()
    assert "ml.feature.age" in a and "ml.feature.income" in a


def test_forest_predict_is_recorded_once(telemetry: Telemetry) -> None:
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, Y)
    instrument(model, name="forest", **telemetry.providers)
    model.predict(X.head(10))  # calls self.predict_proba inside
    assert len(telemetry.spans()) == 1
    assert telemetry.metrics()[metric_key("ml.predictions", "forest")].value == 10


def test_pipeline_with_categorical_columns(telemetry: Telemetry) -> None:
    frame = X.assign(plan=np.where(RNG.random(200) > 0.5, "gold", "basic"))
    pipeline = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), ["age", "income"]),
                        ("cat", OneHotEncoder(), ["plan"]),
                    ]
                ),
            ),
            ("model", LogisticRegression()),
        ]
    ).fit(frame, Y)
    instrument(pipeline, name="pipe", **telemetry.providers)
    pipeline.predict_proba(frame.head(3))
    a = telemetry.attributes()
    assert a["ml.feature.plan"] == tuple(frame["plan"].head(3))
    assert a["ml.feature.categorical"] == ("plan",)
    assert set(a["ml.prediction.label"]) <= {"churn", "stay"}


def test_pipeline_without_predict_proba_keeps_hiding_it(telemetry: Telemetry) -> None:
    pipeline = Pipeline([("model", LinearRegression())]).fit(X, X["age"])
    instrument(pipeline, name="pipe", **telemetry.providers)
    assert not hasattr(pipeline, "predict_proba")
    pipeline.predict(X.head(2))
    assert telemetry.attributes()["ml.task"] == "regression"


def test_instrument_again_replaces_and_can_be_removed(telemetry: Telemetry) -> None:
    model = LogisticRegression().fit(X, Y)
    instrument(model, name="v1", **telemetry.providers)
    instrument(model, name="v2", **telemetry.providers)
    model.predict(X.head(1))
    assert [s.name for s in telemetry.spans()] == ["predict v2"]
    uninstrument_estimator(model)
    model.predict(X.head(1))
    assert len(telemetry.spans()) == 1


def test_instrumented_estimator_pickles_as_a_plain_one(telemetry: Telemetry) -> None:
    model = LogisticRegression().fit(X, Y)
    instrument(model, name="churn", **telemetry.providers)
    assert isinstance(model.__dict__["predict"], MonitoredMethod)
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert not isinstance(clone.__dict__.get("predict"), MonitoredMethod)
        np.testing.assert_array_equal(clone.predict(X.head(5)), model.predict(X.head(5)))
    assert len(telemetry.spans()) == 2  # only the instrumented original recorded


def test_single_row_serving_returns_ids(telemetry: Telemetry) -> None:
    model = LogisticRegression().fit(X, Y)
    instrument(model, name="churn", **telemetry.providers)
    model.predict(pd.DataFrame([{"age": 50.0, "income": 2.0}]))
    (pid,) = last_prediction_ids()
    assert telemetry.attributes()["ml.prediction.id"] == (pid,)


def test_estimator_exception_is_reraised(telemetry: Telemetry) -> None:
    model = LogisticRegression().fit(X, Y)
    instrument(model, name="churn", **telemetry.providers)
    with pytest.raises(ValueError, match="feature names"):
        model.predict(pd.DataFrame({"other": [1.0]}))
    assert (
        telemetry.metrics()[metric_key("ml.prediction.errors", "churn", outcome="error")].value == 1
    )


def test_not_an_estimator() -> None:
    with pytest.raises(TypeError):
        instrument(object(), name="x")


def test_monitor_of_a_bound_method_knows_the_estimator(telemetry: Telemetry) -> None:
    from modeltel.instrumentation import monitor

    model = LogisticRegression().fit(X, Y)
    proba = monitor(model.predict_proba, **telemetry.providers)
    with pytest.warns(UserWarning, match="feature names"):  # scikit-learn's own warning
        proba(X.to_numpy()[:2])
    a = telemetry.attributes()
    assert a["ml.model.name"] == "LogisticRegression"
    assert set(a["ml.prediction.label"]) <= {"churn", "stay"}
    assert "ml.feature.age" in a  # names from feature_names_in_
