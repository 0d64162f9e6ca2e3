"""Analyse the replayed days window by window, as the server's loop would have done live."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from modeltel.analyzer.base.config import load_config
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.cli.progress import Progress
from modeltel.analyzer.orchestration.loop import AnalysisLoop


def window_ends(start: datetime, end: datetime, window_hours: int) -> list[datetime]:
    """Ends of the consecutive windows that cover ``[start, end)``, the last ending at
    ``end``, oldest first.

    They are counted back from the story's end, not aligned to the clock: aligned windows
    left a last window holding only the hour or so of the story past the latest boundary,
    too little data to show what happened.
    """
    step = timedelta(hours=window_hours)
    ends = []
    moment = end
    while moment > start:
        ends.append(moment)
        moment -= step
    return ends[::-1]


def analyse_history(
    store: Store,
    publisher: Any,
    start: datetime,
    end: datetime,
    window_hours: int,
    config: dict[str, Any] | None = None,
    progress: bool = True,
) -> list[str]:
    """Run one analysis cycle per aligned window covering ``[start, end)``; return what
    failed.

    Afterwards ``publisher`` (the server's ``/metrics``) is refreshed so the gauges show the
    latest window.
    """
    step = timedelta(hours=window_hours)
    loop = AnalysisLoop(
        store,
        config if config is not None else load_config(),
        every=0,  # no flooring: each cycle's window ends exactly at the ``now`` it is given
        window_s=step.total_seconds(),
    )
    ends = window_ends(start, end, window_hours)
    failures: list[str] = []
    with Progress(
        "  analysis", len(ends), unit="windows", enabled=None if progress else False
    ) as bar:
        for window_end in ends:
            report = loop.run_once(now=window_end.timestamp())
            failures.extend(
                f"{f.analysis} of {f.model}/{f.version} failed: {f.error}" for f in report.failures
            )
            failed = f", {len(failures)} failed" if failures else ""
            bar.advance(note=f"{window_end:%b %d %H:%M}{failed}")
    if publisher is not None:
        publisher.refresh(now=time.time())
    return failures
