"""Outputs: labels, probabilities, regression values, dicts; the task is inferred or given."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modeltel.instrumentation import monitor
from support.instrumentation import Telemetry, telemetry_fixture  # noqa: F401

FRAME = pd.DataFrame({"a": [1.0, 2.0, 3.0]})


def run(telemetry: Telemetry, x, result, **options):
    options.setdefault("name", "m")
    predict = monitor(lambda _x: result, **options, **telemetry.providers)
    assert predict(x) is result
    return telemetry.attributes()


def test_binary_probabilities_score_the_positive_class(telemetry: Telemetry) -> None:
    proba = np.array([[0.8, 0.2], [0.3, 0.7], [0.5, 0.5]])
    a = run(telemetry, FRAME, proba, classes=["no", "yes"])
    assert a["ml.prediction.label"] == ("no", "yes", "no")
    assert a["ml.prediction.score"] == (0.2, 0.7, 0.5)
    assert a["ml.task"] == "classification"


def test_multiclass_probabilities_score_the_predicted_class(telemetry: Telemetry) -> None:
    proba = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [0.2, 0.2, 0.6]])
    a = run(telemetry, FRAME, proba)
    assert a["ml.prediction.label"] == ("1", "0", "2")
    assert a["ml.prediction.score"] == (0.6, 0.5, 0.6)


def test_probabilities_with_nan_rows(telemetry: Telemetry) -> None:
    proba = np.array([[0.1, 0.9], [np.nan, np.nan], [0.6, 0.4]])
    a = run(telemetry, FRAME, proba, classes=[0, 1])
    assert a["ml.prediction.label"] == ("1", None, "0")
    assert a["ml.prediction.score"] == (0.9, None, 0.4)


def test_probability_dataframe(telemetry: Telemetry) -> None:
    proba = pd.DataFrame({"no": [0.9, 0.1, 0.4], "yes": [0.1, 0.9, 0.6]})
    a = run(telemetry, FRAME, proba, classes=["no", "yes"])
    assert a["ml.prediction.label"] == ("no", "yes", "yes")


def test_regression_values_with_nan(telemetry: Telemetry) -> None:
    a = run(telemetry, FRAME, np.array([1.5, np.nan, -2.0]))
    assert a["ml.prediction.value"] == (1.5, None, -2.0)
    assert a["ml.task"] == "regression"
    assert "ml.prediction.label" not in a


def test_column_vector_output(telemetry: Telemetry) -> None:
    a = run(telemetry, FRAME, np.array([[1.0], [2.0], [3.0]]))
    assert a["ml.prediction.value"] == (1.0, 2.0, 3.0)


def test_series_output(telemetry: Telemetry) -> None:
    a = run(telemetry, FRAME, pd.Series(["a", "b", "a"]))
    assert a["ml.prediction.label"] == ("a", "b", "a")


def test_labels_are_written_like_labels_for_the_join(telemetry: Telemetry) -> None:
    a = run(telemetry, FRAME, np.array([1.0, 0.0, 1.0]), task="classification")
    assert a["ml.prediction.label"] == ("1", "0", "1")
    assert a["ml.task"] == "classification"


def test_bool_labels(telemetry: Telemetry) -> None:
    a = run(telemetry, FRAME, np.array([True, False, True]))
    assert a["ml.prediction.label"] == ("true", "false", "true")


def test_integer_output_is_classification_unless_told(telemetry: Telemetry) -> None:
    a = run(telemetry, {"a": 1}, 3)
    assert a["ml.task"] == "classification"
    assert a["ml.prediction.label"] == "3"


def test_integer_output_regression_when_told(telemetry: Telemetry) -> None:
    a = run(telemetry, {"a": 1}, 3, task="regression")
    assert a["ml.prediction.value"] == 3
    assert "ml.prediction.label" not in a


def test_single_row_array_output_is_unwrapped(telemetry: Telemetry) -> None:
    a = run(telemetry, {"a": 1.0}, np.array(["spam"]))
    assert a["ml.prediction.label"] == "spam"


def test_dict_output(telemetry: Telemetry) -> None:
    a = run(telemetry, {"a": 1.0}, {"label": "fraud", "score": 0.93})
    assert a["ml.prediction.label"] == "fraud"
    assert a["ml.prediction.score"] == 0.93
    assert a["ml.task"] == "classification"


def test_list_of_dict_outputs(telemetry: Telemetry) -> None:
    result = [{"prediction": 1.5}, {"prediction": 2.5}, {"prediction": None}]
    a = run(telemetry, FRAME, result)
    assert a["ml.prediction.value"] == (1.5, 2.5, None)
    assert a["ml.task"] == "regression"


def test_wrong_prediction_count_keeps_features(telemetry: Telemetry, caplog) -> None:
    a = run(telemetry, FRAME, np.array([1.0, 2.0]))
    assert a["ml.feature.a"] == (1.0, 2.0, 3.0)
    assert "ml.prediction.value" not in a
    assert "returned 2 predictions for 3 rows" in caplog.text


def test_unknown_output_keeps_the_span(telemetry: Telemetry, caplog) -> None:
    a = run(telemetry, {"a": 1.0}, object())
    assert a["ml.feature.a"] == 1.0
    assert a["ml.model.name"] == "m"
    assert "ml.prediction.label" not in a
    assert "does not understand" in caplog.text


def test_none_output(telemetry: Telemetry) -> None:
    a = run(telemetry, {"a": 1.0}, None)
    assert "ml.prediction.label" not in a and "ml.prediction.value" not in a


def test_rows_of_probabilities_as_lists(telemetry: Telemetry) -> None:
    a = run(telemetry, FRAME, [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert a["ml.prediction.label"] == ("0", "1", "0")
    assert a["ml.prediction.score"] == (0.1, 0.8, 0.4)


def test_a_pair_of_arrays_is_not_misread(telemetry: Telemetry) -> None:
    result = (np.array(["a", "b", "a"]), np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))
    a = run(telemetry, FRAME, result)
    assert "ml.prediction.label" not in a
    assert a["ml.feature.a"] == (1.0, 2.0, 3.0)


def test_one_row_list_outputs_are_scalars(telemetry: Telemetry) -> None:
    a = run(telemetry, {"a": 1.0}, [{"label": "x", "score": 0.5}])
    assert (a["ml.prediction.label"], a["ml.prediction.score"]) == ("x", 0.5)
