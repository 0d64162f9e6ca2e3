"""Feature attributions of a prediction call (for example SHAP values), as span attributes.

Attributions say how much each feature pushed a row's prediction. They travel as one
``ml.attribution.<feature>`` attribute per feature (``docs/attributes.md``), following the
batch rules of ``ml.feature.*``: a float for a single-row call, an array with one element per
row for a batch (missing values are ``None`` elements), sliced with the rows when a batch is
split or sampled.

They come from one of two places:

- the caller, for the monitored calls made inside ``with attributions(values):`` (recorded
  whenever the call is recorded);
- an *explainer* registered with ``monitor(..., explainer=f)`` / ``instrument(..., explainer=f)``:
  ``f(x)`` gets the model input and returns the attributions. It runs after the model,
  outside the span's duration, on a sampled share of the recorded calls
  (``attribution_rate``, default ``$MODELTEL_ATTRIBUTION_RATE`` or 0.1), so that serving
  stays fast. A failing explainer is logged once; the prediction goes on.

Understood values (``names`` are the features of the input, in column order):

=============================================  ===================================================
value                                          meaning
=============================================  ===================================================
2-D array, list of row lists                   rows × features, columns in ``names`` order
pandas DataFrame                               rows × features, columns named
``shap.Explanation`` (``.values``,             its values; its ``feature_names`` when it has
``.feature_names``)                            them, else ``names``
mapping ``{feature: column}``                  one column (batch) or one number (single row)
1-D array, list of numbers                     the features of a single-row call
=============================================  ===================================================

Anything else (a 3-D array of per-class values, a wrong number of rows or columns) is
reported once and no attribution is recorded for that call: pick the output to explain
(for example the positive class) in the explainer.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from modeltel.instrumentation import _values as V

_supplied: ContextVar[tuple[Any] | None] = ContextVar(
    "modeltel_supplied_attributions", default=None
)


class AttributionError(ValueError):
    """Attribution values that do not fit the call (shape, names); never leaves modeltel."""


@contextmanager
def attributions(values: Any) -> Iterator[None]:
    """Record ``values`` as the feature attributions of the monitored calls in the block.

    ``values`` is what an explainer would return for the call's input (see the module
    documentation): rows × features, a DataFrame, a ``shap.Explanation`` or a mapping of
    feature to column; for a single-row call a mapping of feature to number or a 1-D
    sequence. Caller-supplied attributions are recorded whenever the call's span is,
    whatever ``attribution_rate``::

        shap_values = explainer(frame)
        with attributions(shap_values):
            proba = model.predict_proba(frame)
    """
    token = _supplied.set((values,))
    try:
        yield
    finally:
        _supplied.reset(token)


def supplied() -> tuple[Any] | None:
    """``(values,)`` given by the caller for the calls of the current block, else None."""
    return _supplied.get()


def columns(values: Any, rows: int, batch: bool, names: Sequence[str]) -> dict[str, Any]:
    """``{feature: list (batch) or float (single row)}`` of ``values`` for a call of ``rows``
    rows whose input features are ``names``; AttributionError when they do not fit."""
    explanation_names = None
    if _is_explanation(values):
        raw_names = getattr(values, "feature_names", None)
        if raw_names is not None and not isinstance(raw_names, str):
            explanation_names = [str(n) for n in raw_names]
        values = values.values
    if isinstance(values, Mapping):
        return _from_mapping(values, rows, batch)
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(values, pd.DataFrame):
        names = [str(c) for c in values.columns]
        values = values.to_numpy(dtype=float)
    matrix = _matrix(values, rows, batch)
    width = len(matrix[0]) if matrix else len(explanation_names or names)
    chosen = explanation_names if explanation_names is not None else list(names)
    if not chosen:
        chosen = [f"x{j}" for j in range(width)]
    if len(chosen) != width:
        raise AttributionError(f"{width} attribution columns for {len(chosen)} features")
    out: dict[str, Any] = {}
    for j, name in enumerate(chosen):
        column = V.float_list([row[j] for row in matrix])
        out[name] = column if batch else column[0]
    return out


def _is_explanation(values: Any) -> bool:
    return hasattr(values, "values") and hasattr(values, "feature_names")


def _as_list(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)
    if tolist is not None and not isinstance(value, (list, tuple)):
        return tolist()
    return value


def _matrix(values: Any, rows: int, batch: bool) -> list[list[Any]]:
    """Rows × features as Python lists (a single row given 1-D becomes one row)."""
    data = _as_list(values)
    if not isinstance(data, (list, tuple)):
        raise AttributionError(f"attributions of type {type(values).__name__} are not understood")
    if not data:
        if rows == 0:
            return []
        raise AttributionError(f"no attribution row for {rows} rows")
    if not isinstance(data[0], (list, tuple)):
        if batch and rows != 1:
            raise AttributionError(f"one attribution row for a batch of {rows} rows")
        data = [data]
    if len(data) != rows:
        raise AttributionError(f"{len(data)} attribution rows for {rows} rows")
    width = len(data[0])
    for row in data:
        if not isinstance(row, (list, tuple)) or len(row) != width:
            raise AttributionError("attribution rows of unequal lengths (a 3-D array?)")
        if row and isinstance(row[0], (list, tuple)):
            raise AttributionError("3-D attributions: explain one output (e.g. the positive class)")
    return [list(r) for r in data]


def _from_mapping(values: Mapping[Any, Any], rows: int, batch: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, column in values.items():
        data = _as_list(column)
        if isinstance(data, (list, tuple)):
            if len(data) != rows:
                raise AttributionError(f"{len(data)} attributions of {key!r} for {rows} rows")
            floats = V.float_list(data)
            out[str(key)] = floats if batch else floats[0]
        else:
            if batch and rows != 1:
                raise AttributionError(f"one attribution of {key!r} for a batch of {rows} rows")
            number = V.float_list([data])[0]
            out[str(key)] = [number] if batch else number
    return out
