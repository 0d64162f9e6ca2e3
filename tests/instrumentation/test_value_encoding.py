"""Property tests of the value encoding: whatever the column, the array is homogeneous,
as long as the batch, and missing exactly where the input was missing."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from modeltel.analyzer.ingest.values import as_string
from modeltel.instrumentation import _inputs, attributes
from modeltel.instrumentation import _values as V

scalars = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.text(max_size=5),
    st.booleans(),
)


def missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@given(st.lists(scalars, max_size=30), st.booleans())
@settings(max_examples=300, deadline=None)
def test_object_columns(values: list[object], declared: bool) -> None:
    array, categorical = V.object_column(list(values), declared)
    assert len(array) == len(values)
    kinds = {type(v) for v in array if v is not None}
    assert kinds <= ({str} if categorical else {float})
    for original, encoded in zip(values, array, strict=True):
        assert (encoded is None) == missing(original)
    if not categorical:
        for original, encoded in zip(values, array, strict=True):
            if encoded is not None:
                assert encoded == float(original)  # type: ignore[arg-type]


@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=20),
    st.lists(st.one_of(st.none(), st.sampled_from(["a", "b"])), min_size=1, max_size=20),
)
@settings(max_examples=200, deadline=None)
def test_dataframes(numbers: list[float], labels: list[str | None]) -> None:
    rows = min(len(numbers), len(labels))
    frame = pd.DataFrame({"n": numbers[:rows], "s": labels[:rows]})
    spec = _inputs.FeatureSpec(None, set(), None)
    extracted = _inputs.extract(frame, spec)
    assert extracted is not None and extracted.count == rows and extracted.batch
    n, s = extracted.columns["n"], extracted.columns["s"]
    assert [v is None for v in n] == [math.isnan(v) for v in numbers[:rows]]
    assert all(type(v) is float for v in n if v is not None)
    if any(v is not None for v in labels[:rows]):
        assert s == labels[:rows] and "s" in extracted.categorical


@given(st.lists(st.lists(st.floats(allow_nan=True), min_size=3, max_size=3), max_size=10))
@settings(max_examples=100, deadline=None)
def test_numpy_matrices(rows: list[list[float]]) -> None:
    matrix = np.array(rows, dtype=float).reshape(len(rows), 3)
    extracted = _inputs.extract(matrix, _inputs.FeatureSpec(["a", "b", "c"], set(), None))
    assert extracted is not None
    for j, name in enumerate("abc"):
        column = extracted.columns[name]
        assert [v is None for v in column] == [math.isnan(r[j]) for r in rows]


@given(scalars)
def test_labels_are_text_or_missing(value: object) -> None:
    text = V.text(value)
    assert (text is None) == missing(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        assert text == str(int(value))


@given(st.floats(allow_nan=False, allow_infinity=False))
@example(-0.0)
@example(1e-05)
@example(1e17)
@settings(max_examples=500, deadline=None)
def test_floats_become_the_text_the_exporter_writes_for_a_number(value: float) -> None:
    """Text sent for a float (a label, a category) equals what the Collector's exporter stores
    for the same float sent as a number attribute, so both join; only negative zero is "0"."""
    exported = as_string(AnyValue(double_value=value))
    assert attributes.text(value) == ("0" if exported == "-0" else exported)
    assert attributes.text(np.float64(value)) == attributes.text(value)
