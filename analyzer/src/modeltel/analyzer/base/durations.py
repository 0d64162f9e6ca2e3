"""Durations written the Prometheus way: ``90s``, ``5m``, ``1h``, ``7d``, ``1w``, ``1h30m``."""

from __future__ import annotations

import math
import re

from modeltel.analyzer.base.errors import ConfigError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
MAX_SECONDS = 100 * 365 * 86400.0
"""Longest duration accepted (100 years): beyond it, time arithmetic overflows."""


def parse_duration(text: str, *, name: str = "duration") -> float:
    """Seconds in ``text``; a bare number means seconds. Raises ConfigError naming ``name``."""
    raw = str(text).strip().lower()
    if not raw:
        raise ConfigError(f"{name} is empty; write e.g. 60s, 5m, 1h or 7d")
    try:
        seconds = float(raw)
    except ValueError:
        pos = 0
        seconds = 0.0
        for match in _PART.finditer(raw):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(raw) or pos == 0:
            raise ConfigError(
                f"{name} {text!r} is not a duration; write e.g. 60s, 5m, 1h, 7d or 1h30m"
            ) from None
    if not math.isfinite(seconds):
        raise ConfigError(f"{name} {text!r} is not a finite duration; write e.g. 60s, 5m or 1h")
    if seconds < 0:
        raise ConfigError(f"{name} {text!r} must not be negative")
    if seconds > MAX_SECONDS:
        raise ConfigError(f"{name} {text!r} is longer than 100 years")
    return seconds
