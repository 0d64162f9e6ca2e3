"""OTLP request bodies → protobuf messages.

Accepts ``application/x-protobuf`` and ``application/json`` (OTLP/JSON: lowerCamelCase or
snake_case keys, trace/span ids as **hex** strings — not protobuf-JSON base64 — int64 as
strings or numbers, enums as integers), optionally ``Content-Encoding: gzip``/``deflate``.
Every failure raises :class:`InputError` (400) or :class:`PayloadTooLargeError` (413) with a
message naming the problem. Nesting beyond what the decoders take (protobuf: 100 messages,
about 47 levels of arrays/kvlists in an attribute) is refused with a message naming the value
depth limit; shallower values are checked per record by :mod:`.rows`.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any, Literal, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from modeltel.analyzer.base.errors import InputError, PayloadTooLargeError
from modeltel.analyzer.base.limits import DEFAULT_LIMITS, Limits

Signal = Literal["traces", "logs", "metrics"]
M = TypeVar("M", bound=Message)

REQUEST_TYPES: dict[str, type[Message]] = {
    "traces": ExportTraceServiceRequest,
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
}
RESPONSE_TYPES: dict[str, type[Message]] = {
    "traces": ExportTraceServiceResponse,
    "logs": ExportLogsServiceResponse,
    "metrics": ExportMetricsServiceResponse,
}

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

# Keys (in either spelling) whose values are hex ids in OTLP/JSON and bytes in protobuf.
_ID_KEYS = {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}
_ID_LENGTHS = {"traceId": 16, "trace_id": 16}


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header (``application/json; charset=…`` → json)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate or identity) without exceeding ``limit`` bytes."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate", "x-gzip"):
        raise InputError(f"unsupported Content-Encoding {encoding!r} (use gzip or identity)")
    wbits = 16 + zlib.MAX_WBITS if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InputError(f"body is not valid {encoding} data: {exc}") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLargeError(f"decompressed body exceeds the limit of {limit} bytes")
    if not inflater.eof:
        raise InputError(f"body is truncated {encoding} data")
    return out


def _hex_to_b64(value: Any, key: str, path: str) -> Any:
    if not isinstance(value, str):
        raise InputError(f"{path}.{key} must be a hex string, got {type(value).__name__}")
    if value == "":
        return ""
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise InputError(f"{path}.{key} is not valid hex: {value[:40]!r}") from None
    expected = _ID_LENGTHS.get(key, 8)
    if len(raw) != expected:
        raise InputError(f"{path}.{key} must be {expected} bytes ({2 * expected} hex digits)")
    return base64.b64encode(raw).decode("ascii")


def _convert_ids(node: Any, path: str = "$") -> Any:
    """Rewrite OTLP/JSON hex ids into the base64 protobuf-JSON expects, recursively."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _ID_KEYS:
                out[key] = _hex_to_b64(value, key, path)
            else:
                out[key] = _convert_ids(value, f"{path}.{key}")
        return out
    if isinstance(node, list):
        return [_convert_ids(item, f"{path}[{i}]") for i, item in enumerate(node)]
    return node


def _too_deep(limits: Limits) -> str:
    return (
        f"it nests deeper than the decoder takes; attribute values may nest at most "
        f"{limits.max_value_depth} arrays/kvlists (MODELTEL_MAX_VALUE_DEPTH)"
    )


def parse_request(
    signal: Signal, body: bytes, content_type: str, limits: Limits = DEFAULT_LIMITS
) -> Message:
    """Decode an OTLP export request of ``signal`` from ``body`` in ``content_type``."""
    message = REQUEST_TYPES[signal]()
    if content_type == PROTOBUF:
        try:
            message.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as exc:
            detail = _too_deep(limits) if "upb_DecodeOptions" in str(exc) else str(exc)
            raise InputError(
                f"body is not a valid OTLP {signal} protobuf message: {detail}"
            ) from exc
        return message
    if content_type == JSON:
        try:
            document = json.loads(body.decode("utf-8-sig"))  # UTF-8, strictly (BOM allowed)
        except RecursionError as exc:
            raise InputError(f"body is not valid JSON: {_too_deep(limits)}") from exc
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"body is not valid JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise InputError("OTLP/JSON body must be a JSON object")
        try:
            json_format.ParseDict(_convert_ids(document), message, ignore_unknown_fields=True)
        except RecursionError as exc:
            raise InputError(
                f"body is not a valid OTLP/JSON {signal} request: {_too_deep(limits)}"
            ) from exc
        except (json_format.ParseError, TypeError, ValueError) as exc:
            text = str(exc)
            if "too deep" in text.lower() or "upb_DecodeOptions" in text or "recursion" in text:
                text = _too_deep(limits)
            raise InputError(f"body is not a valid OTLP/JSON {signal} request: {text}") from exc
        except SystemError as exc:  # upb on a key with an unpaired surrogate ("\ud800")
            raise InputError(
                f"body is not a valid OTLP/JSON {signal} request: a key is not valid Unicode"
            ) from exc
        return message
    raise InputError(f"unsupported media type {content_type!r}")


def encode_response(signal: Signal, content_type: str, rejected: int, message: str) -> bytes:
    """Serialize an export response (with ``partial_success`` when anything was rejected)."""
    response = RESPONSE_TYPES[signal]()
    if rejected:
        field = {
            "traces": "rejected_spans",
            "logs": "rejected_log_records",
            "metrics": "rejected_data_points",
        }[signal]
        setattr(response.partial_success, field, rejected)
        response.partial_success.error_message = message
    if content_type == JSON:
        return json.dumps(json_format.MessageToDict(response)).encode()
    return response.SerializeToString()
