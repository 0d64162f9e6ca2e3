"""Attribute values stringified exactly as the collector's ClickHouse exporter does.

The exporter stores every attribute through pdata's ``Value.AsString()``: strings as is,
bools ``true``/``false``, ints in decimal, doubles in ECMAScript style (shortest round-trip
digits; exponent form only below 1e-6 or from 1e21 on, as ``1e-7`` / ``1e+21``), bytes as
standard base64, arrays and maps as compact JSON (map keys sorted, no HTML escaping), and a
NaN/Inf scalar as ``json: unsupported value: NaN``. An array or map holding NaN/Inf cannot be
marshalled and becomes the empty string. Ids are lowercase hex; enums use fixed names.
"""

from __future__ import annotations

import base64
import json
import math
from decimal import Decimal
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

SPAN_KINDS = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
STATUS_CODES = ("Unset", "Ok", "Error")


class _Unmarshallable(Exception):
    """A float that Go's encoding/json refuses (NaN or ±Inf)."""


def go_float(value: float) -> str:
    """Format a double as pdata's ``float64AsString`` does."""
    text = repr(value)
    if "e" not in text and "n" not in text:
        # Python writes positional digits in [1e-4, 1e16), inside Go's [1e-6, 1e21): the
        # shortest round-trip digits agree, only Python's ".0" on integral values differs.
        return text[:-2] if text.endswith(".0") else text
    return _go_float_slow(value)


def _go_float_slow(value: float) -> str:
    if math.isnan(value):
        return "json: unsupported value: NaN"
    if math.isinf(value):
        return "json: unsupported value: " + ("+Inf" if value > 0 else "-Inf")
    text = repr(value)
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        mantissa, exponent = text.split("e")
        if mantissa.endswith(".0"):
            mantissa = mantissa[:-2]
        sign, digits = exponent[0], exponent[1:].lstrip("0") or "0"
        return f"{mantissa}e+{digits.zfill(2)}" if sign == "+" else f"{mantissa}e-{digits}"
    if "e" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return text


def _json_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    if "\u2028" in encoded or "\u2029" in encoded:
        encoded = encoded.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return encoded


def _go_json(value: Any) -> str:
    """Compact JSON of an ``AsRaw()`` value, as Go's encoding/json writes it."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise _Unmarshallable
        return go_float(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, bytes):
        return '"' + base64.b64encode(value).decode("ascii") + '"'
    if isinstance(value, list):
        return "[" + ",".join(_go_json(item) for item in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(_json_string(k) + ":" + _go_json(v) for k, v in items) + "}"
    raise TypeError(f"unexpected value {value!r}")


def as_raw(value: AnyValue) -> Any:
    """The plain Python value of an OTLP ``AnyValue`` (pdata's ``AsRaw``)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "array_value":
        return [as_raw(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: as_raw(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value
    return None


def as_string(value: AnyValue) -> str:
    """``AnyValue`` → the string the exporter stores (pdata ``Value.AsString``)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return go_float(value.double_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    if kind in ("array_value", "kvlist_value"):
        try:
            return _go_json(as_raw(value))
        except _Unmarshallable:
            return ""
    return ""


def attributes_map(attributes: Any) -> dict[str, str]:
    """Repeated ``KeyValue`` → ``{key: AsString(value)}`` (a later duplicate key wins)."""
    return {kv.key: as_string(kv.value) for kv in attributes}


def hex_id(raw: bytes) -> str:
    """Trace/span id bytes → lowercase hex (empty for an unset id)."""
    return raw.hex()


def service_name(resource_attributes: Any) -> str:
    """``service.name`` of a resource, or the empty string."""
    for kv in resource_attributes:
        if kv.key == "service.name":
            return as_string(kv.value)
    return ""


__all__ = [
    "SPAN_KINDS",
    "STATUS_CODES",
    "as_raw",
    "as_string",
    "attributes_map",
    "go_float",
    "hex_id",
    "service_name",
]
