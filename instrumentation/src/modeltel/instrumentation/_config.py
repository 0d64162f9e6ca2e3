"""Settings of a monitor: argument > ``MODELTEL_*`` environment variable > default.

An explicit argument that makes no sense raises :class:`ValueError` when the monitor is
created (a programming error, found at start-up); a bad environment value is logged as a
warning and replaced by the default (a deployment slip must not stop the serving app).
The capture settings are the exception: :func:`~modeltel.instrumentation.capture.resolve_capture`
raises for a bad variable too, since the default would record what they keep out.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from dataclasses import dataclass

from modeltel.instrumentation import environment_variables as env

logger = logging.getLogger("modeltel.instrumentation")

_reported: set[tuple[object, ...]] = set()
_reported_lock = threading.Lock()


def report_once(key: tuple[object, ...], message: str, *args: object, exc: bool = True) -> None:
    """Log ``message`` the first time ``key`` is seen (with the traceback when ``exc``).

    Used for failures inside modeltel: they are logged once per site and the prediction goes
    on. Never raises.
    """
    try:
        with _reported_lock:
            if key in _reported:
                return
            if len(_reported) < 10_000:
                _reported.add(key)
        logger.warning(message, *args, exc_info=exc)
    except Exception:  # pragma: no cover - logging itself broken
        pass


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings shared by every call of one monitor."""

    sample_rate: float
    max_batch_span_rows: int
    batch_overflow: str
    attribution_rate: float = env.DEFAULT_ATTRIBUTION_RATE


def _env(name: str) -> str | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    return raw.strip()


def _check_rate(value: float) -> bool:
    return not math.isnan(value) and 0.0 <= value <= 1.0


def _resolve_rate(value: float | None, argument: str, variable: str, default: float) -> float:
    if value is not None:
        rate = float(value)
        if not _check_rate(rate):
            raise ValueError(f"{argument} must be between 0 and 1, got {value!r}")
        return rate
    raw = _env(variable)
    if raw is None:
        return default
    try:
        rate = float(raw)
    except ValueError:
        rate = math.nan
    if not _check_rate(rate):
        logger.warning("%s=%r is not a number between 0 and 1; using %s", variable, raw, default)
        return default
    return rate


def resolve_sample_rate(value: float | None) -> float:
    return _resolve_rate(value, "sample_rate", env.MODELTEL_SAMPLE_RATE, env.DEFAULT_SAMPLE_RATE)


def resolve_attribution_rate(value: float | None) -> float:
    return _resolve_rate(
        value, "attribution_rate", env.MODELTEL_ATTRIBUTION_RATE, env.DEFAULT_ATTRIBUTION_RATE
    )


def resolve_max_batch_span_rows(value: int | None) -> int:
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"max_batch_span_rows must be a positive integer, got {value!r}")
        return value
    raw = _env(env.MODELTEL_MAX_BATCH_SPAN_ROWS)
    if raw is None:
        return env.DEFAULT_MAX_BATCH_SPAN_ROWS
    try:
        rows = int(raw)
    except ValueError:
        rows = 0
    if rows < 1:
        logger.warning(
            "%s=%r is not a positive integer; using %s",
            env.MODELTEL_MAX_BATCH_SPAN_ROWS,
            raw,
            env.DEFAULT_MAX_BATCH_SPAN_ROWS,
        )
        return env.DEFAULT_MAX_BATCH_SPAN_ROWS
    return rows


def resolve_batch_overflow(value: str | None) -> str:
    if value is not None:
        if value not in env.BATCH_OVERFLOW_CHOICES:
            raise ValueError(
                f"batch_overflow must be one of {env.BATCH_OVERFLOW_CHOICES}, got {value!r}"
            )
        return value
    raw = _env(env.MODELTEL_BATCH_OVERFLOW)
    if raw is None:
        return env.DEFAULT_BATCH_OVERFLOW
    if raw.lower() not in env.BATCH_OVERFLOW_CHOICES:
        logger.warning(
            "%s=%r is not one of %s; using %r",
            env.MODELTEL_BATCH_OVERFLOW,
            raw,
            "/".join(env.BATCH_OVERFLOW_CHOICES),
            env.DEFAULT_BATCH_OVERFLOW,
        )
        return env.DEFAULT_BATCH_OVERFLOW
    return raw.lower()


def resolve_version(value: object | None) -> str:
    if value is not None:
        text = str(value)
        if text:
            return text
    return _env(env.MODELTEL_MODEL_VERSION) or env.DEFAULT_MODEL_VERSION


def resolve_settings(
    sample_rate: float | None,
    max_batch_span_rows: int | None,
    batch_overflow: str | None,
    attribution_rate: float | None = None,
) -> Settings:
    return Settings(
        sample_rate=resolve_sample_rate(sample_rate),
        max_batch_span_rows=resolve_max_batch_span_rows(max_batch_span_rows),
        batch_overflow=resolve_batch_overflow(batch_overflow),
        attribution_rate=resolve_attribution_rate(attribution_rate),
    )
