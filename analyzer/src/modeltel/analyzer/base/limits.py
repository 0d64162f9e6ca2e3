"""Bounds on what one OTLP payload may declare or imply, and the tally of what broke them.

:class:`Limits` holds every size the receiver checks on the decoded protobuf, before a span is
converted or exploded into rows (defaults in ``docs/limits.md``; each has a ``MODELTEL_*``
variable, see :mod:`modeltel.analyzer.base.settings`):

- ``max_span_rows``: predictions one span may carry (its ``ml.prediction.id`` array, or the
  values of a batch declared by ``ml.batch.size`` alone; longer value arrays are cut to the
  rows, and arrays are otherwise bounded by the body size);
- ``max_projected_rows``: rows one span, and all the spans of one request together, may write
  into ``ml_predictions`` + ``ml_features`` + ``ml_attributions``;
- ``max_attributes``: attributes of one span, resource, scope, event, link, log record or data
  point;
- ``max_key_bytes`` / ``max_value_bytes``: UTF-8 bytes of an attribute key, and of a string
  value (a scalar, an array element, or the JSON text of a kvlist; bytes count as base64);
- ``max_value_depth``: arrays/kvlists nested inside one attribute value.

A record that breaks an attribute limit is refused whole (not stored); a prediction span that
breaks a row limit is stored in ``otel_traces`` but not projected. :class:`LimitExceeded`
carries the reason; :class:`Rejections` counts refused records per reason and words the
partial-success message. The materialized views apply the row, attribute-count, key and
scalar-value limits to rows other writers put in ``otel_traces``
(:mod:`modeltel.analyzer.base.schema.ingest_limits`).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, fields

from modeltel.analyzer.base import settings
from modeltel.analyzer.base.errors import ConfigError

# reason → (limit field, variable); reasons are the ``reason`` label of the rejected counters.
REASONS: dict[str, tuple[str, str]] = {
    "attributes": ("max_attributes", settings.MODELTEL_MAX_SPAN_ATTRIBUTES),
    "key_length": ("max_key_bytes", settings.MODELTEL_MAX_ATTRIBUTE_KEY_BYTES),
    "value_length": ("max_value_bytes", settings.MODELTEL_MAX_ATTRIBUTE_VALUE_BYTES),
    "value_depth": ("max_value_depth", settings.MODELTEL_MAX_VALUE_DEPTH),
    "span_rows": ("max_span_rows", settings.MODELTEL_MAX_SPAN_ROWS),
    "projected_rows": ("max_projected_rows", settings.MODELTEL_MAX_PROJECTED_ROWS),
    "request_rows": ("max_projected_rows", settings.MODELTEL_MAX_PROJECTED_ROWS),
}
SKIPPED_REASONS = ("span_rows", "projected_rows", "request_rows")
"""Reasons for which the span is stored in ``otel_traces`` but not projected."""
BATCH_SIZE_MISMATCH = "batch_size_mismatch"
"""Data-quality fact (not a rejection): ``ml.batch.size`` differs from the rows present."""


@dataclass(frozen=True)
class Limits:
    """The receiver's size limits; every value is a positive whole number."""

    max_span_rows: int = 100_000
    max_projected_rows: int = 2_000_000
    max_attributes: int = 4_096
    max_key_bytes: int = 1_024
    max_value_bytes: int = 1 << 20
    max_value_depth: int = 16

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"limit {item.name} must be a whole number ≥ 1, got {value!r}")

    @classmethod
    def from_settings(cls, **overrides: int) -> Limits:
        """Arguments > ``MODELTEL_*`` variables > defaults (ConfigError naming a bad one)."""
        values: dict[str, int] = {}
        for name, variable in _VARIABLES.items():
            if name in overrides:
                values[name] = overrides[name]
                continue
            raw = os.environ.get(variable, "").strip().replace("_", "")
            if not raw:
                continue
            if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
                raise ConfigError(f"{variable}={raw!r} is not a whole number ≥ 1")
            values[name] = int(raw)
        return cls(**values)

    def variable(self, reason: str) -> str:
        """The ``MODELTEL_*`` variable of the limit behind ``reason``."""
        return REASONS[reason][1]

    def value(self, reason: str) -> int:
        """The limit behind ``reason``."""
        return int(getattr(self, REASONS[reason][0]))


_VARIABLES = {
    "max_span_rows": settings.MODELTEL_MAX_SPAN_ROWS,
    "max_projected_rows": settings.MODELTEL_MAX_PROJECTED_ROWS,
    "max_attributes": settings.MODELTEL_MAX_SPAN_ATTRIBUTES,
    "max_key_bytes": settings.MODELTEL_MAX_ATTRIBUTE_KEY_BYTES,
    "max_value_bytes": settings.MODELTEL_MAX_ATTRIBUTE_VALUE_BYTES,
    "max_value_depth": settings.MODELTEL_MAX_VALUE_DEPTH,
}
DEFAULT_LIMITS = Limits()


class LimitExceeded(Exception):
    """A record breaks the limit behind ``reason``; ``message`` names it and its value."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def exceeded(limits: Limits, reason: str, what: str, size: int, unit: str = "") -> LimitExceeded:
    """``LimitExceeded`` worded ``{what} {size}{unit}, more than the limit of … (VARIABLE)``."""
    limit = limits.value(reason)
    return LimitExceeded(
        reason,
        f"{what} {size:,}{unit}, more than the limit of {limit:,} ({limits.variable(reason)})",
    )


class Rejections:
    """Records refused (or stored but not projected) by one conversion, per reason."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._messages: dict[str, str] = {}

    def add(self, reason: str, message: str, count: int = 1) -> None:
        if count <= 0:
            return
        self.counts[reason] += count
        self._messages.setdefault(reason, message)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def message(self, noun: str = "spans") -> str:
        """One sentence per reason, the first record's message with the count of its kind."""
        parts = []
        for reason, count in self.counts.items():
            head = f"{count} {noun if count != 1 else noun.rstrip('s')}"
            parts.append(f"{head}: {self._messages[reason]}")
        return "; ".join(parts)


__all__ = [
    "BATCH_SIZE_MISMATCH",
    "DEFAULT_LIMITS",
    "REASONS",
    "SKIPPED_REASONS",
    "LimitExceeded",
    "Limits",
    "Rejections",
    "exceeded",
]
