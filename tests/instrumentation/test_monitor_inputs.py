"""Every input shape monitor() understands becomes the contract's feature attributes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from modeltel.instrumentation import monitor
from support.instrumentation import Telemetry, telemetry_fixture  # noqa: F401


def run(telemetry: Telemetry, x, result, **options):
    options.setdefault("name", "m")
    predict = monitor(lambda _x: result, **options, **telemetry.providers)
    returned = predict(x)
    assert returned is result  # the user's value, unchanged
    return telemetry.attributes()


def test_dict_is_one_row_of_scalars(telemetry: Telemetry) -> None:
    a = run(telemetry, {"age": 41, "income": 3.5, "plan": "gold", "vip": True}, "yes")
    assert a["ml.feature.age"] == 41
    assert a["ml.feature.income"] == 3.5
    assert a["ml.feature.plan"] == "gold"
    assert a["ml.feature.vip"] == "true"
    assert set(a["ml.feature.categorical"]) == {"plan", "vip"}
    assert a["ml.batch.size"] == 1
    assert isinstance(a["ml.prediction.id"], str)
    assert a["ml.prediction.label"] == "yes"


def test_missing_scalar_features_are_absent(telemetry: Telemetry) -> None:
    row = {"a": None, "b": math.nan, "c": np.float64("nan"), "d": pd.NA, "e": math.inf, "f": 1}
    a = run(telemetry, row, 0.5, task="regression")
    for name in "abcd":
        assert f"ml.feature.{name}" not in a
    assert a["ml.feature.e"] == math.inf
    assert a["ml.feature.f"] == 1


def test_numpy_scalars_become_python_values(telemetry: Telemetry) -> None:
    row = {"i": np.int64(3), "f": np.float32(1.5), "b": np.bool_(False), "s": np.str_("x")}
    a = run(telemetry, row, "k")
    assert a["ml.feature.i"] == 3 and type(a["ml.feature.i"]) is int
    assert a["ml.feature.f"] == 1.5 and type(a["ml.feature.f"]) is float
    assert a["ml.feature.b"] == "false"
    assert a["ml.feature.s"] == "x"
    assert set(a["ml.feature.categorical"]) == {"b", "s"}


def test_dataframe_is_a_batch_even_with_one_row(telemetry: Telemetry) -> None:
    frame = pd.DataFrame({"x": [1.5], "y": [2]})
    a = run(telemetry, frame, np.array([1]))
    assert a["ml.feature.x"] == (1.5,)
    assert a["ml.feature.y"] == (2.0,)
    assert a["ml.prediction.label"] == ("1",)
    assert len(a["ml.prediction.id"]) == 1
    assert a["ml.batch.size"] == 1


def test_dataframe_mixed_types_and_missing_values(telemetry: Telemetry) -> None:
    frame = pd.DataFrame(
        {
            "num": [1.0, np.nan, 3.0],
            "int": [1, 2, 3],
            "nullable": pd.array([1, None, 3], dtype="Int64"),
            "text": ["a", None, "c"],
            "cat": pd.Categorical(["u", "v", "u"]),
            "flag": [True, False, True],
        }
    )
    a = run(telemetry, frame, np.array([0.1, 0.2, 0.3]), task="regression")
    assert a["ml.feature.num"] == (1.0, None, 3.0)
    assert a["ml.feature.int"] == (1.0, 2.0, 3.0)
    assert a["ml.feature.nullable"] == (1.0, None, 3.0)
    assert a["ml.feature.text"] == ("a", None, "c")
    assert a["ml.feature.cat"] == ("u", "v", "u")
    assert a["ml.feature.flag"] == ("true", "false", "true")
    assert set(a["ml.feature.categorical"]) == {"text", "cat", "flag"}
    assert a["ml.prediction.value"] == (0.1, 0.2, 0.3)
    assert a["ml.batch.size"] == 3
    # arrays are homogeneous: floats (or None) or strings (or None)
    for key, value in a.items():
        if key.startswith("ml.feature.") and key != "ml.feature.categorical":
            kinds = {type(v) for v in value if v is not None}
            assert len(kinds) == 1, (key, kinds)


def test_numpy_2d_array_uses_feature_names(telemetry: Telemetry) -> None:
    x = np.array([[1.0, np.nan], [np.inf, 4.0]])
    a = run(telemetry, x, np.array(["a", "b"]), feature_names=["p", "q"])
    assert a["ml.feature.p"] == (1.0, math.inf)
    assert a["ml.feature.q"] == (None, 4.0)
    assert a["ml.prediction.label"] == ("a", "b")


def test_numpy_array_without_names_gets_positional_names(telemetry: Telemetry) -> None:
    a = run(telemetry, np.array([[1, 2, 3]]), np.array([7]), task="classification")
    assert a["ml.feature.x0"] == (1.0,)
    assert a["ml.feature.x2"] == (3.0,)


def test_numpy_1d_array_is_one_row(telemetry: Telemetry) -> None:
    a = run(telemetry, np.array([1.0, 2.0]), 3.0, feature_names=["a", "b"])
    assert a["ml.feature.a"] == 1.0
    assert a["ml.feature.b"] == 2.0
    assert a["ml.prediction.value"] == 3.0
    assert a["ml.task"] == "regression"


def test_list_of_dicts_is_a_batch(telemetry: Telemetry) -> None:
    rows = [{"a": 1, "b": "x"}, {"a": None, "c": 2.5}]
    a = run(telemetry, rows, ["yes", "no"])
    assert a["ml.feature.a"] == (1.0, None)
    assert a["ml.feature.b"] == ("x", None)
    assert a["ml.feature.c"] == (None, 2.5)
    assert a["ml.feature.categorical"] == ("b",)
    assert a["ml.prediction.label"] == ("yes", "no")
    assert len(a["ml.prediction.id"]) == 2


def test_list_of_lists_is_a_batch(telemetry: Telemetry) -> None:
    a = run(telemetry, [[1, "a"], [2, "b"]], [0, 1], feature_names=["n", "s"])
    assert a["ml.feature.n"] == (1.0, 2.0)
    assert a["ml.feature.s"] == ("a", "b")
    assert a["ml.prediction.label"] == ("0", "1")


def test_list_of_scalars_is_one_row(telemetry: Telemetry) -> None:
    a = run(telemetry, [1.0, "b"], "z", feature_names=["n", "s"])
    assert a["ml.feature.n"] == 1.0
    assert a["ml.feature.s"] == "b"


def test_scalar_input_is_one_feature(telemetry: Telemetry) -> None:
    a = run(telemetry, 4.5, 9.0, feature_names=["temperature"])
    assert a["ml.feature.temperature"] == 4.5
    assert a["ml.prediction.value"] == 9.0


def test_series_is_one_row(telemetry: Telemetry) -> None:
    a = run(telemetry, pd.Series({"a": 1.0, "b": "k"}), "y")
    assert a["ml.feature.a"] == 1.0
    assert a["ml.feature.b"] == "k"


def test_dict_of_columns_is_a_batch(telemetry: Telemetry) -> None:
    a = run(telemetry, {"a": [1, 2], "b": np.array([0.5, np.nan])}, [1.0, 2.0])
    assert a["ml.feature.a"] == (1.0, 2.0)
    assert a["ml.feature.b"] == (0.5, None)
    assert a["ml.prediction.value"] == (1.0, 2.0)


def test_declared_categorical_numbers_become_text(telemetry: Telemetry) -> None:
    frame = pd.DataFrame({"zip": [94107, 10001], "x": [1.0, 2.0]})
    a = run(telemetry, frame, np.array([0, 1]), categorical=["zip"])
    assert a["ml.feature.zip"] == ("94107", "10001")
    assert a["ml.feature.categorical"] == ("zip",)


def test_categorical_is_remembered_across_calls(telemetry: Telemetry) -> None:
    predict = monitor(lambda x: "y", name="m", **telemetry.providers)
    predict({"plan": "gold"})
    predict({"plan": 3})  # same feature, now a number: still categorical
    spans = telemetry.spans()
    assert spans[1].attributes["ml.feature.plan"] == "3"
    assert spans[1].attributes["ml.feature.categorical"] == ("plan",)


def test_keyword_arguments_are_a_row(telemetry: Telemetry) -> None:
    @monitor(name="kw", **telemetry.providers)
    def predict(**features):
        return features["a"] * 2.0

    assert predict(a=2.0, b="x") == 4.0
    a = telemetry.attributes()
    assert a["ml.feature.a"] == 2.0
    assert a["ml.feature.b"] == "x"


def test_input_passed_by_name_and_methods(telemetry: Telemetry) -> None:
    class Model:
        @monitor(name="method", **telemetry.providers)
        def predict(self, features, threshold=0.5):
            return "hi" if features["p"] > threshold else "lo"

    assert Model().predict(features={"p": 0.9}) == "hi"
    a = telemetry.attributes()
    assert a["ml.feature.p"] == 0.9
    assert a["ml.prediction.label"] == "hi"


def test_unsupported_input_still_records_the_prediction(telemetry: Telemetry, caplog) -> None:
    class Opaque:
        pass

    a = run(telemetry, Opaque(), "label")
    assert not any(k.startswith("ml.feature.") for k in a)
    assert a["ml.prediction.label"] == "label"
    assert a["ml.model.name"] == "m"
    assert "does not understand" in caplog.text


@pytest.mark.parametrize("rows", [0, 1, 5])
def test_batch_arrays_match_the_id_count(telemetry: Telemetry, rows: int) -> None:
    frame = pd.DataFrame({"a": np.arange(rows, dtype=float), "b": ["x"] * rows})
    a = run(telemetry, frame, np.zeros(rows))
    ids = a.get("ml.prediction.id", ())
    assert len(ids) == rows == a["ml.batch.size"]
    for key, value in a.items():
        if key.startswith(("ml.feature.", "ml.prediction.")) and key != "ml.feature.categorical":
            assert len(value) == rows, key


def test_a_feature_named_categorical_does_not_clash(telemetry: Telemetry) -> None:
    a = run(telemetry, {"categorical": "x", "n": 1.0}, "y")
    assert a["ml.feature.categorical_"] == "x"
    assert a["ml.feature.categorical"] == ("categorical_",)
