"""Attribute values stringified exactly as the collector's ClickHouse exporter does.

The exporter stores every attribute through pdata's ``Value.AsString()``: strings as is,
bools ``true``/``false``, ints in decimal, doubles in ECMAScript style (shortest round-trip
digits; exponent form only below 1e-6 or from 1e21 on, as ``1e-7`` / ``1e+21``), bytes as
standard base64, arrays and maps as compact JSON (map keys sorted, no HTML escaping), and a
NaN/Inf scalar as ``json: unsupported value: NaN``. An array or map holding NaN/Inf cannot be
marshalled and becomes the empty string. Ids are lowercase hex; enums use fixed names.

Conversions check the value limits of :class:`~modeltel.analyzer.base.limits.Limits` as they
go (string and bytes lengths, key lengths inside kvlists, nesting depth) and raise
:class:`~modeltel.analyzer.base.limits.LimitExceeded` naming the limit.
"""

from __future__ import annotations

import base64
import json
import math
from decimal import Decimal
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from modeltel.analyzer.base.limits import DEFAULT_LIMITS, Limits, exceeded

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


def _name(key: str) -> str:
    return repr(key if len(key) <= 60 else key[:60] + "…")


def check_key(key: str, limits: Limits, what: str = "an attribute") -> None:
    """LimitExceeded when ``key`` has more UTF-8 bytes than ``limits.max_key_bytes``."""
    if len(key) > limits.max_key_bytes // 4:
        size = len(key.encode())
        if size > limits.max_key_bytes:
            raise exceeded(limits, "key_length", f"{what} key {_name(key)} has", size, " bytes")


def check_text(text: str, key: str, limits: Limits) -> None:
    """LimitExceeded when the string value ``text`` of ``key`` is longer than allowed."""
    if len(text) > limits.max_value_bytes // 4:
        size = len(text.encode())
        if size > limits.max_value_bytes:
            raise exceeded(
                limits, "value_length", f"attribute {_name(key)} has a value of", size, " bytes"
            )


def _check_bytes(raw: bytes, key: str, limits: Limits) -> None:
    size = 4 * ((len(raw) + 2) // 3)  # stored as base64
    if size > limits.max_value_bytes:
        raise exceeded(
            limits,
            "value_length",
            f"attribute {_name(key)} has a value of",
            size,
            " bytes (base64)",
        )


def _check_depth(key: str, limits: Limits, depth: int) -> None:
    if depth > limits.max_value_depth:
        raise exceeded(
            limits,
            "value_depth",
            f"attribute {_name(key)} nests arrays/kvlists",
            depth,
            " levels deep",
        )


def as_raw(value: AnyValue, key: str = "", limits: Limits = DEFAULT_LIMITS, depth: int = 0) -> Any:
    """The plain Python value of an OTLP ``AnyValue`` (pdata's ``AsRaw``), within ``limits``
    (``depth``: containers around ``value``)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        text = value.string_value
        check_text(text, key, limits)
        return text
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "array_value":
        _check_depth(key, limits, depth + 1)
        return [as_raw(item, key, limits, depth + 1) for item in value.array_value.values]
    if kind == "kvlist_value":
        _check_depth(key, limits, depth + 1)
        out = {}
        for kv in value.kvlist_value.values:
            check_key(kv.key, limits, "a kvlist")
            out[kv.key] = as_raw(kv.value, key, limits, depth + 1)
        return out
    if kind == "bytes_value":
        _check_bytes(value.bytes_value, key, limits)
        return value.bytes_value
    return None


def as_string(value: AnyValue, key: str = "", limits: Limits = DEFAULT_LIMITS) -> str:
    """``AnyValue`` → the string the exporter stores (pdata ``Value.AsString``), within
    ``limits`` (``key`` names the attribute in the error)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        text = value.string_value
        check_text(text, key, limits)
        return text
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return go_float(value.double_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "bytes_value":
        _check_bytes(value.bytes_value, key, limits)
        return base64.b64encode(value.bytes_value).decode("ascii")
    if kind in ("array_value", "kvlist_value"):
        raw = as_raw(value, key, limits)
        try:
            text = _go_json(raw)
        except _Unmarshallable:
            return ""
        if kind == "kvlist_value":
            check_text(text, key, limits)  # stored as one JSON text, as a string would be
        return text
    return ""


def attributes_map(
    attributes: Any, limits: Limits = DEFAULT_LIMITS, what: str = "record"
) -> dict[str, str]:
    """Repeated ``KeyValue`` → ``{key: AsString(value)}`` (a later duplicate key wins), within
    ``limits``: LimitExceeded names the first one broken (``what`` names the record)."""
    if len(attributes) > limits.max_attributes:
        raise exceeded(limits, "attributes", f"{what} has", len(attributes), " attributes")
    out = {}
    for kv in attributes:
        key = kv.key
        check_key(key, limits)
        out[key] = as_string(kv.value, key, limits)
    return out


def hex_id(raw: bytes) -> str:
    """Trace/span id bytes → lowercase hex (empty for an unset id)."""
    return raw.hex()


def service_name(resource_attributes: Any, limits: Limits = DEFAULT_LIMITS) -> str:
    """``service.name`` of a resource, or the empty string."""
    for kv in resource_attributes:
        if kv.key == "service.name":
            return as_string(kv.value, kv.key, limits)
    return ""


__all__ = [
    "SPAN_KINDS",
    "STATUS_CODES",
    "as_raw",
    "as_string",
    "attributes_map",
    "check_key",
    "check_text",
    "go_float",
    "hex_id",
    "service_name",
]
