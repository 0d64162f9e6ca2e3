"""Simulated time for the demo: days of traffic replayed in seconds.

The serving app and its instrumentation run for real; only the clock of the exported
telemetry moves. :class:`SimulatedClock` holds "the simulated now"; :class:`TimeShiftProcessor`
sits in front of the real span processor and hands it a copy of each ended span whose
start, end and event times are moved by the clock's offset (the span's duration, i.e. the
measured latency, is kept). Labels carry their simulated arrival time through
``log_labels(timestamp=…)``.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor


class SimulatedClock:
    """Real time → simulated time. :meth:`set` anchors "now" at a simulated moment."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset_ns = 0

    def set(self, moment: datetime) -> None:
        """From now on, the present is ``moment`` (a UTC datetime)."""
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        with self._lock:
            self._offset_ns = int(moment.timestamp() * 1e9) - time.time_ns()

    def offset_ns(self) -> int:
        with self._lock:
            return self._offset_ns

    def now(self) -> datetime:
        return datetime.fromtimestamp((time.time_ns() + self.offset_ns()) / 1e9, UTC)


def shifted(span: ReadableSpan, offset_ns: int) -> ReadableSpan:
    """A copy of ``span`` moved by ``offset_ns`` (start, end and events)."""

    def move(value: int | None) -> int | None:
        return None if value is None else value + offset_ns

    events = [Event(e.name, e.attributes, timestamp=move(e.timestamp)) for e in (span.events or ())]
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=move(span.start_time),
        end_time=move(span.end_time),
        instrumentation_scope=span.instrumentation_scope,
    )


class TimeShiftProcessor(SpanProcessor):
    """Passes every ended span to ``inner``, moved to the simulated clock's time."""

    def __init__(self, inner: SpanProcessor, clock: SimulatedClock) -> None:
        self.inner = inner
        self.clock = clock

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.inner.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        self.inner.on_end(shifted(span, self.clock.offset_ns()))

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)
