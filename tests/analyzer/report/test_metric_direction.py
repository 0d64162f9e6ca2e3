"""Which way is better comes from the performance catalogue: a fall of a higher-is-better
multiclass metric (``precision_weighted``) reads as a fall in the report — its
recommendation, its trend — and on the model page, whose chart keeps it within [0, 1]."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from modeltel.analyzer.base.results import make_results, write_results
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.report import build_report, recommendations, render_html
from modeltel.analyzer.web.data import model_view
from modeltel.analyzer.web.page import model_page

DAYS = [datetime(2026, 5, d, tzinfo=UTC) for d in (1, 2, 3)]
FALLING = {1: 0.30, 2: 0.20, 3: 0.10}
THRESHOLD = 0.25


def _history(store: Store) -> None:
    records = []
    for start in DAYS:
        value = FALLING[start.day]
        for metric in ("accuracy", "precision_weighted"):
            records.append(
                {
                    "model": "triage",
                    "version": "2",
                    "window_start": start,
                    "window_end": start + timedelta(days=1),
                    "kind": "performance",
                    "metric": metric,
                    "value": value if metric == "precision_weighted" else 0.9,
                    "threshold": THRESHOLD if metric == "precision_weighted" else None,
                    "status": ("ok" if value >= THRESHOLD else "alert")
                    if metric == "precision_weighted"
                    else "info",
                }
            )
    write_results(store, make_results(records))


def test_a_fall_of_precision_weighted_reads_as_a_fall(store: Store) -> None:
    _history(store)
    texts = [r.text for r in recommendations(model_view(store, "triage", "2"))]
    assert (
        "Check the model: precision_weighted fell below 0.25 in 2 of 3 windows (latest 0.1)."
        in texts
    ), texts

    html = render_html(build_report(store, "triage", "2", end=DAYS[-1] + timedelta(days=1)))
    row = re.search(r"<tr><td>precision_weighted</td><td>realized</td>(.*?)</tr>", html)
    assert row is not None, "the performance trend has no precision_weighted row"
    assert row.group(1).endswith("<td>worse</td>")

    page = model_page(model_view(store, "triage", "2", with_histograms=False))
    assert "<div class='fact-value'>0.1, fell from 0.3 (worse)</div>" in page
    chart = re.search(r"<svg[^>]*aria-label='precision_weighted'.*?</svg>", page, re.S)
    assert chart is not None, "the page has no precision_weighted chart"
    y_axis = r"<text x='46' y='[\d.]+' text-anchor='end' fill='#6b7280'>([^<]+)</text>"
    ticks = re.findall(y_axis, chart.group(0))
    assert ticks[0] == "0" and ticks[-1] == "1", ticks  # bounded to [0, 1], not to the data
