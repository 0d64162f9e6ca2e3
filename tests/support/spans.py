"""OTLP protobuf values for hand-built spans."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue


def value(v: Any) -> AnyValue:
    """``v`` as an OTLP AnyValue: None is the empty value, bool/int/float/str their own kind,
    an AnyValue itself, any other iterable an array of its items' values."""
    if v is None:
        return AnyValue()
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    if isinstance(v, str):
        return AnyValue(string_value=v)
    if isinstance(v, AnyValue):
        return v
    return AnyValue(array_value=ArrayValue(values=[value(x) for x in v]))
