"""Facts of a prediction span that both projections (the exporter's strings and the receiver's
typed columns) compute with the same SQL, which never throws.

``error_type``: a failed call's ``error.type`` (the exception's class name), cut to
:data:`MAX_ERROR_TYPE_CHARS`; empty when the span has none.

``weight``, how many predictions a recorded one stands for = the span's ``ml.sampling.weight`` (written by the instrumentation: the inverse of
the share of calls recorded and of a large batch's rows kept; 1 when absent, not a number, not
finite or below 1) × the adjusted count of its W3C ``tracestate`` (OpenTelemetry's consistent
probability sampling, ``ot=th:<hex>``, as the SDK samplers and the Collector's probabilistic
sampler write it: a threshold T of 56 bits keeps a span with probability (2^56 − T) / 2^56,
so it stands for 2^56 / (2^56 − T) spans).
"""

from __future__ import annotations

from modeltel.analyzer.base.schema.layout import sql_name
from modeltel.instrumentation.attributes import ERROR_TYPE, ML_SAMPLING_WEIGHT

MAX_ERROR_TYPE_CHARS = 200
ERROR_TYPE_SQL = f"substring(SpanAttributes[{sql_name(ERROR_TYPE)}], 1, {MAX_ERROR_TYPE_CHARS})"

MAX_WEIGHT = 1e15
"""Largest weight kept (a larger declared one is cut to it)."""

_THRESHOLD = r"'(?:^|,)\\s*ot=(?:[^,]*;)?th:([0-9a-f]+)(?:;|,|$)'"
"""The ``th`` sub-key of the ``ot`` tracestate entry (1 to 14 hex digits, trailing zeros
dropped; a longer one is not valid and counts 1). No braces: view queries are templates."""


def weight_sql(attributes: str = "SpanAttributes", trace_state: str = "TraceState") -> str:
    """The SQL expression of a span's prediction weight (Float64, ≥ 1)."""
    declared = f"toFloat64OrNull({attributes}[{sql_name(ML_SAMPLING_WEIGHT)}])"
    own = (
        f"if(isFinite(ifNull({declared}, nan)) AND {declared} >= 1, "
        f"least({declared}, {MAX_WEIGHT!r}), 1.0)"
    )
    digits = f"extract({trace_state}, {_THRESHOLD})"
    threshold = (
        f"reinterpretAsUInt64(reverse(unhex(leftPad(rightPad({digits}, 14, '0'), 16, '0'))))"
    )
    adjusted = (
        f"if(length({digits}) NOT BETWEEN 1 AND 14, 1.0, "
        f"exp2(56) / toFloat64(bitShiftLeft(toUInt64(1), 56) - {threshold}))"
    )
    return f"least({own} * {adjusted}, {MAX_WEIGHT!r})"
