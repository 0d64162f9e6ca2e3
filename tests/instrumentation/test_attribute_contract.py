"""Every combination of input and output shape yields spans that keep the contract."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from instrumentation_support import Telemetry, assert_contract, telemetry_fixture  # noqa: F401

from modeltel.instrumentation import monitor

ROWS = 3
INPUTS = {
    "dataframe": pd.DataFrame(
        {"a": [1.0, math.nan, 3.0], "b": ["x", None, "z"], "c": [1, 2, 3], "d": [True, False, True]}
    ),
    "one-row-dataframe": pd.DataFrame({"a": [1.0], "b": ["x"]}),
    "matrix": np.array([[1.0, math.nan], [2.0, 3.0], [math.inf, 0.0]]),
    "records": [{"a": 1, "b": "x"}, {"a": None}, {"b": "z", "c": 2.5}],
    "rows": [[1, "a"], [2, None], [3, "c"]],
    "columns": {"a": [1.0, 2.0, math.nan], "b": ["x", "y", None]},
    "dict": {"a": 1.0, "b": "x", "c": math.nan, "d": None, "e": 3},
    "series": pd.Series({"a": 1.0, "b": "k"}),
    "vector": np.array([1.0, math.nan, 2.0]),
    "scalars": [1.0, "x", None],
    "scalar": 2.5,
}


def outputs_for(rows: int, batch: bool) -> dict[str, object]:
    n = rows if batch else 1
    return {
        "labels": np.array(["a", "b", "a"][:n]) if batch else "a",
        "int-labels": np.arange(n),
        "proba": np.tile([[0.3, 0.7]], (n, 1)),
        "proba-nan": np.array([[math.nan, math.nan]] * n),
        "values": np.linspace(0, 1, n) if batch else 0.5,
        "values-nan": np.array([math.nan] * n),
        "dicts": [{"label": "x", "score": 0.1}] * n if batch else {"label": "x", "score": 0.1},
        "none": None,
    }


CASES = [(input_name, output_name) for input_name in INPUTS for output_name in outputs_for(1, True)]


@pytest.mark.parametrize(("input_name", "output_name"), CASES)
def test_contract(telemetry: Telemetry, input_name: str, output_name: str) -> None:
    x = INPUTS[input_name]
    batch = input_name in ("dataframe", "one-row-dataframe", "matrix", "records", "rows", "columns")
    rows = (1 if input_name == "one-row-dataframe" else ROWS) if batch else 1
    result = outputs_for(rows, batch)[output_name]
    predict = monitor(lambda _x: result, name="contract", **telemetry.providers)
    assert predict(x) is result
    attributes = telemetry.attributes()
    assert_contract(attributes)
    assert attributes["ml.batch.size"] == rows
    assert isinstance(attributes["ml.prediction.id"], tuple) == batch


@pytest.mark.parametrize("overflow", ["split", "sample"])
def test_contract_of_split_and_sampled_batches(telemetry: Telemetry, overflow: str) -> None:
    frame = pd.DataFrame({"a": np.arange(7.0), "b": list("abcdefg")})
    predict = monitor(
        lambda x: np.arange(len(x)),
        name="big",
        max_batch_span_rows=3,
        batch_overflow=overflow,
        **telemetry.providers,
    )
    predict(frame)
    spans = telemetry.spans()
    assert len(spans) == (3 if overflow == "split" else 1)
    for span in spans:
        assert_contract(dict(span.attributes))
