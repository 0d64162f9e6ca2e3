"""The query toolkit every analysis writes its SQL with: bound parameters, times as Int64
nanoseconds, and analysis windows as SQL.

Contract:

- every value that reaches a statement is a server-side bound parameter: :class:`Params`
  hands out ``{pN:Type}`` placeholders and collects the values to pass with the statement;
  only generated parameter *names* and SQL written here are formatted into the text;
- times travel as Int64 unix nanoseconds (:func:`nanos`; naive datetimes are UTC) and come
  back as UTC datetimes (:func:`to_time`, microsecond resolution);
- :class:`TimeWindows` are equal, aligned windows ``[origin + k·size, origin + (k+1)·size)``;
  :func:`time_key` is the SQL of a row's window number ``k`` (floor division, also before
  the origin), so one ``GROUP BY`` computes every window of a statement;
- :class:`SlidingWindows` are windows of N consecutive predictions every S predictions
  within a time range; :func:`prediction_filter` is the WHERE clause that selects the
  predictions of either kind of windows in ``ml_predictions``.

Nothing here knows an analysis or a table other than ``ml_predictions``'s ``model``,
``version`` and ``timestamp`` columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.windows import Window, utc

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def nanos(moment: datetime) -> int:
    """Unix nanoseconds of a datetime (naive means UTC)."""
    delta = utc(moment) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def to_time(ns: int) -> datetime:
    """The UTC datetime of unix nanoseconds (microsecond resolution)."""
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).replace(
        microsecond=(ns % 1_000_000_000) // 1000
    )


class Params:
    """Server-side bound parameters: ``add(value, type)`` returns the ``{pN:Type}`` placeholder."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any, type_: str) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"{{{name}:{type_}}}"


@dataclass(frozen=True)
class TimeWindows:
    """Equal, aligned time windows: ``[origin + k·size, origin + (k+1)·size)`` for k in keys."""

    origin_ns: int
    size_ns: int
    keys: tuple[int, ...]

    @classmethod
    def from_windows(cls, windows: Sequence[Window]) -> TimeWindows:
        if not windows:
            raise ConfigError("no window to analyse")
        first = windows[0]
        origin, size = nanos(first.start), nanos(first.end) - nanos(first.start)
        keys = []
        for window in windows:
            start, end = nanos(window.start), nanos(window.end)
            if end - start != size or (start - origin) % size:
                raise ConfigError("analysis windows must have equal sizes and be aligned")
            keys.append((start - origin) // size)
        return cls(origin, size, tuple(sorted(set(keys))))

    @property
    def start_ns(self) -> int:
        return self.origin_ns + self.keys[0] * self.size_ns

    @property
    def end_ns(self) -> int:
        return self.origin_ns + (self.keys[-1] + 1) * self.size_ns

    def bounds(self, key: int) -> tuple[int, int]:
        start = self.origin_ns + key * self.size_ns
        return start, start + self.size_ns


@dataclass(frozen=True)
class SlidingWindows:
    """Windows of ``size`` consecutive predictions every ``step`` within [start_ns, end_ns)."""

    size: int
    step: int
    start_ns: int
    end_ns: int

    def __post_init__(self) -> None:
        if self.size <= 0 or self.step <= 0:
            raise ConfigError("sliding window size and step must be positive")

    @property
    def segment(self) -> str:
        return f"sliding:{self.size}/{self.step}"


Windows = TimeWindows | SlidingWindows


def time_key(windows: TimeWindows, params: Params, column: str = "timestamp") -> str:
    """SQL of the window number of ``column`` (floor division, also before the origin)."""
    offset = f"(toUnixTimestamp64Nano({column}) - {params.add(windows.origin_ns, 'Int64')})"
    size = params.add(windows.size_ns, "Int64")
    return f"intDiv({offset} - positiveModulo({offset}, {size}), {size})"


def prediction_filter(model: str, version: str, windows: Windows, params: Params) -> str:
    """WHERE clause selecting the predictions of ``windows`` in ``ml_predictions``."""
    where = (
        f"model = {params.add(model, 'String')} AND version = {params.add(version, 'String')} "
        f"AND timestamp >= fromUnixTimestamp64Nano({params.add(windows.start_ns, 'Int64')}) "
        f"AND timestamp < fromUnixTimestamp64Nano({params.add(windows.end_ns, 'Int64')})"
    )
    if isinstance(windows, TimeWindows) and len(windows.keys) < (
        (windows.end_ns - windows.start_ns) // windows.size_ns
    ):
        where += (
            f" AND {time_key(windows, params)} IN {params.add(list(windows.keys), 'Array(Int64)')}"
        )
    return where
