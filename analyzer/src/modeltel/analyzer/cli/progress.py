"""Progress on stderr for long CLI work (uploads, multi-window analyses, the demo).

On a terminal the bar redraws in place (``\\r``); otherwise (pipes, CI logs) it prints one
line at each quarter, so logs stay short. ``MODELTEL_NO_PROGRESS=1`` silences it.
Never raises: progress must not break the work it reports.
"""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import TextIO

from modeltel.analyzer.base import settings

WIDTH = 28


class Progress:
    """A bar for ``total`` steps; use as a context manager and call :meth:`advance`."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        unit: str = "",
        stream: TextIO | None = None,
        enabled: bool | None = None,
    ) -> None:
        self.label = label
        self.total = max(int(total), 0)
        self.unit = unit
        self.done = 0
        self.note = ""
        self.stream = stream or sys.stderr
        if enabled is None:
            enabled = not os.environ.get(settings.MODELTEL_NO_PROGRESS)
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self._last_quarter = -1
        self._last_draw = 0.0

    def __enter__(self) -> Progress:
        self._draw(force=True)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.done = max(self.done, self.total)
        self._draw(force=True, final=True)

    def advance(self, steps: int = 1, note: str | None = None) -> None:
        """Count ``steps`` more done; ``note`` replaces the text after the bar."""
        self.done += steps
        if note is not None:
            self.note = note
        self._draw()

    def _line(self) -> str:
        share = self.done / self.total if self.total else 1.0
        share = min(max(share, 0.0), 1.0)
        filled = round(WIDTH * share)
        bar = "█" * filled + "░" * (WIDTH - filled)
        count = f"{self.done}/{self.total}{(' ' + self.unit) if self.unit else ''}"
        elapsed = time.monotonic() - self.started
        note = f"  {self.note}" if self.note else ""
        return f"{self.label:<24} {bar} {share:4.0%}  {count}  {elapsed:4.0f}s{note}"

    def _draw(self, *, force: bool = False, final: bool = False) -> None:
        if not self.enabled:
            return
        try:
            if self.tty:
                now = time.monotonic()
                if not force and now - self._last_draw < 0.1:
                    return
                self._last_draw = now
                self.stream.write("\r\033[K" + self._line() + ("\n" if final else ""))
            else:
                quarter = int(4 * self.done / self.total) if self.total else 4
                if not (final or quarter > self._last_quarter):
                    return
                if final and quarter == self._last_quarter and self.done >= self.total:
                    return
                self._last_quarter = quarter
                self.stream.write(self._line() + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False
