"""Turning feature values, labels and scores into attribute values.

The rules are the attribute contract's (:mod:`modeltel.instrumentation.attributes`,
``docs/attributes.md``): a missing value is ``None`` (scalar attributes are then left out) and
NaN counts as missing while +/-inf is kept; numeric values become floats, so that a feature
array is homogeneous; categorical values, booleans and labels become text by
:func:`~modeltel.instrumentation.attributes.text`.

numpy and pandas are never imported here: their objects are recognised by duck typing.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from modeltel.instrumentation.attributes import _unbox, is_missing, text

NoneType = type(None)
SKIP = object()  # a value that is not a scalar feature (lists, arrays, objects)

_NUMERIC_TYPES = frozenset({float, int, NoneType})
_TEXT_TYPES = frozenset({str, NoneType})


def number(value: Any) -> float | int | None:
    """A numeric value as ``int``/``float`` (``None`` when missing or not a number)."""
    t = type(value)
    if t is float:
        return None if value != value else value
    if t is int:
        return value
    if t is bool or value is None:
        return None
    value = _unbox(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return None if value != value else float(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Decimal):
        return None if value.is_nan() else float(value)
    return None


def feature_scalar(value: Any) -> tuple[Any, bool]:
    """``(attribute value, is categorical)`` of one feature value of a single-row call.

    The value is ``None`` when missing, :data:`SKIP` when it is not a scalar.
    """
    t = type(value)
    if t is float:
        return (None if value != value else value), False
    if t is int:
        return value, False
    if t is str:
        return value, True
    if value is None:
        return None, False
    if t is bool:
        return text(value), True
    value = _unbox(value)
    if isinstance(value, bool):
        return text(value), True
    if isinstance(value, (int, float, Decimal)):
        return number(value), False
    if isinstance(value, str):
        return str(value), True
    if is_missing(value):
        return None, False
    if isinstance(value, (bytes, datetime.datetime, datetime.date, datetime.time)):
        return text(value), True
    return SKIP, False


def float_list(values: Sequence[Any]) -> list[float | None]:
    """Numbers as floats, missing values (None, NaN, pandas NA) as ``None``."""
    out: list[float | None] = []
    append = out.append
    for v in values:
        t = type(v)
        if t is float:
            append(None if v != v else v)
        elif t is int:
            append(float(v))
        elif v is None:
            append(None)
        else:
            n = number(v)
            append(None if n is None else float(n))
    return out


def text_list(values: Sequence[Any]) -> list[str | None]:
    if _TEXT_TYPES.issuperset(map(type, values)):
        return list(values)
    return [text(v) for v in values]


def object_column(values: list[Any], categorical: bool) -> tuple[list[Any], bool]:
    """One feature column given as Python objects: ``(array, is categorical)``.

    Numbers (and missing values) make a float array; anything else makes the column
    categorical and every value text.
    """
    if categorical:
        return text_list(values), True
    types = set(map(type, values))
    if _NUMERIC_TYPES.issuperset(types):
        if int in types:
            return [None if v is None or v != v else float(v) for v in values], False
        return [None if v is None or v != v else v for v in values], False
    if _TEXT_TYPES.issuperset(types):
        return values, True
    scalars = [feature_scalar(v) for v in values]
    if any(cat for _, cat in scalars) or any(s is SKIP for s, _ in scalars):
        return text_list(values), True
    return [None if s is None else float(s) for s, _ in scalars], False


def numpy_module() -> Any:
    """numpy if the application already imported it, else ``None`` (never imports it)."""
    return sys.modules.get("numpy")


def array_float_list(array: Any) -> list[float | None]:
    """A 1-D numpy float array as a list, NaN as ``None``."""
    np = numpy_module()
    values: list[Any] = array.tolist()
    if np is not None and array.dtype.kind == "f":
        bad = np.flatnonzero(np.isnan(array))
        if len(bad):
            for i in bad.tolist():
                values[i] = None
    return values
