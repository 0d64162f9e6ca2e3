"""Analysis windows: half-open time ranges ``[start, end)`` over prediction timestamps.

Fixed windows are aligned to multiples of their size since the Unix epoch (an hourly window
starts on the hour), like ClickHouse's ``toStartOfInterval``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from modeltel.analyzer.base.errors import ConfigError


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in UTC (naive datetimes are read as UTC)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ConfigError(f"window end {self.end} is not after its start {self.start}")

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def floor_time(moment: datetime, size_seconds: float) -> datetime:
    """Start of the fixed window of ``size_seconds`` that contains ``moment``."""
    moment = utc(moment)
    epoch = moment.timestamp()
    return datetime.fromtimestamp(epoch - (epoch % size_seconds), UTC)


def fixed_windows(start: datetime, end: datetime, size_seconds: float) -> list[Window]:
    """Aligned windows of ``size_seconds`` covering ``[start, end)``, oldest first."""
    if size_seconds <= 0:
        raise ConfigError("window size must be positive")
    step = timedelta(seconds=size_seconds)
    cursor = floor_time(start, size_seconds)
    end = utc(end)
    windows = []
    while cursor < end:
        windows.append(Window(cursor, cursor + step))
        cursor += step
    return windows


def trailing_window(now: datetime, size_seconds: float) -> Window:
    """The window of ``size_seconds`` that ends at ``now``."""
    now = utc(now)
    return Window(now - timedelta(seconds=size_seconds), now)


def non_overlapping(spans: set[tuple[datetime, datetime]]) -> set[tuple[datetime, datetime]]:
    """The (start, end) spans kept walking back from the latest end: each ends no later than
    the start of the one kept after it (so they are distinct periods of time)."""
    kept: set[tuple[datetime, datetime]] = set()
    boundary: datetime | None = None
    for start, end in sorted(spans, key=lambda s: (s[1], s[0]), reverse=True):
        if boundary is None or end <= boundary:
            kept.add((start, end))
            boundary = start
    return kept
