"""Which stored windows a report judges and counts.

The analysis loop writes a trailing window every cycle (by default one hour, every minute), so
a period's results overlap and, once traffic pauses, end in windows without data. A report:

- judges each kind by its latest window **with data** (a window in which some record of the
  kind is not ``no_data``), so a pause does not read as "nothing drifted";
- counts trends ("3 of 7 windows") over **non-overlapping** windows with data: walking back
  from the latest, a window is kept when it ends no later than the last kept one starts, so
  "n of m windows" means n of m periods of time.

A kind with no window with data keeps its latest window, so its "no data" still shows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from modeltel.analyzer.base.results import Status
from modeltel.analyzer.base.windows import non_overlapping
from modeltel.analyzer.web.data import ModelView, latest_windows

Span = tuple[datetime, datetime]


def _span(record: dict[str, Any]) -> Span | None:
    start, end = record.get("window_start"), record.get("window_end")
    return (start, end) if start is not None and end is not None else None


def report_view(view: ModelView) -> ModelView:
    """``view`` with, per kind, only the records of non-overlapping windows with data, and
    ``latest`` the latest of those (see the module docstring)."""
    by_kind: dict[str, dict[Span, list[dict[str, Any]]]] = {}
    undated: list[dict[str, Any]] = []
    for record in view.records:
        span = _span(record)
        if span is None:
            undated.append(record)
        else:
            by_kind.setdefault(str(record["kind"]), {}).setdefault(span, []).append(record)
    records = list(undated)
    for windows in by_kind.values():
        with_data = {
            span for span, rs in windows.items() if any(r["status"] != Status.NO_DATA for r in rs)
        }
        kept = non_overlapping(with_data) if with_data else {max(windows, key=lambda s: s[1])}
        records += [r for span in kept for r in windows[span]]
    records.sort(key=lambda r: (r.get("window_start") is not None, r.get("window_start")))
    return replace(view, records=records, latest=latest_windows(records))


def judged_until(view: ModelView) -> datetime | None:
    """The end of the latest window any verdict of ``view`` comes from."""
    ends = [r["window_end"] for rs in view.latest.values() for r in rs if r.get("window_end")]
    return max(ends) if ends else None
