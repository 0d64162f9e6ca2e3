"""A report over the analysis loop's results: trailing one-hour windows written every ten
minutes, over traffic that stopped. Verdicts come from the latest window with data, and
"n of m windows" counts periods of time, not overlapping windows."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from modeltel.analyzer.base.results import make_results, write_results
from modeltel.analyzer.base.windows import non_overlapping
from modeltel.analyzer.report import build_report, render_html

T0 = datetime(2026, 5, 1, tzinfo=UTC)
STEP = timedelta(minutes=10)
HOUR = timedelta(hours=1)
TRAFFIC_END = T0 + timedelta(hours=3)


def _loop_records() -> list[dict]:
    """What the loop stores from T0 to T0 + 5 h: 31 windows, the last 13 after traffic."""
    out = []
    for k in range(31):
        start = T0 + k * STEP
        base = {"model": "loan", "version": "1", "window_start": start, "window_end": start + HOUR}
        if start >= TRAFFIC_END:
            out.append(
                {
                    **base,
                    "kind": "drift",
                    "feature": "age",
                    "method": "psi",
                    "status": "no_data",
                    "current_size": 0,
                }
            )
            out.append(
                {
                    **base,
                    "kind": "performance",
                    "metric": "accuracy",
                    "status": "no_data",
                    "threshold": 0.8,
                }
            )
            continue
        drifted = k >= 6
        out.append(
            {
                **base,
                "kind": "drift",
                "feature": "age",
                "method": "psi",
                "value": 0.4 if drifted else 0.05,
                "threshold": 0.2,
                "status": "drift" if drifted else "ok",
                "current_size": 500,
            }
        )
        out.append(
            {
                **base,
                "kind": "drift",
                "feature": "income",
                "method": "psi",
                "value": 0.01,
                "threshold": 0.2,
                "status": "ok",
                "current_size": 500,
            }
        )
        accuracy = 0.7 if k >= 12 else 0.9
        out.append(
            {
                **base,
                "kind": "performance",
                "metric": "accuracy",
                "value": accuracy,
                "threshold": 0.8,
                "status": "alert" if accuracy < 0.8 else "ok",
            }
        )
    return out


def test_non_overlapping_walks_back_from_the_latest_window() -> None:
    spans = {(T0 + k * STEP, T0 + k * STEP + HOUR) for k in range(18)}
    kept = sorted(non_overlapping(spans))
    assert [(s - T0) / STEP for s, _ in kept] == [5, 11, 17]
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(kept))


def test_verdicts_come_from_the_latest_data_and_trends_count_periods(store) -> None:
    write_results(store, make_results(_loop_records()))
    report = build_report(store, "loan", "1")
    last_with_data = T0 + 17 * STEP + HOUR
    assert report.judged_until == last_with_data
    assert report.drifted_now == ["age"]
    assert report.retrain
    texts = [r.text for r in report.recommendations]
    # three hours of traffic are three periods: 0:50-1:50 (ok), 1:50-2:50, 2:50-3:50
    assert any("accuracy fell below 0.8 in 1 of 3 windows" in t for t in texts), texts
    assert report.drift["age"] == (2, 3)
    html = render_html(report)
    assert "verdicts from data up to" in html
    assert last_with_data.strftime("%Y-%m-%d %H:%M UTC") in html
