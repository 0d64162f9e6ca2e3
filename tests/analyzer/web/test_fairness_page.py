"""The custom-metric and fairness sections of the model page, in headless Chromium through the
real server, over predictions and labels planted with numpy and the real analyses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modeltel.analyzer.web.sections import num
from support.chromium import chromium_path
from support.fairness import MODEL, Day, plant_and_analyse

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="needs chromium (apt-get)")


@pytest.fixture
def planted(server) -> Day:
    return plant_and_analyse(server.store, seed=7)[-1]


ROWS = """(selector) => Array.from(document.querySelector(selector).tBodies[0].rows).map(
  tr => Array.from(tr.cells).map(td => td.textContent))"""
CHARTS = """Array.from(document.querySelectorAll('svg.chart')).map(svg => ({
  label: svg.getAttribute('aria-label'),
  threshold: (svg.querySelector('line.threshold') || {}).nextSibling?.textContent || null,
  caption: (svg.parentElement.querySelector('.caption') || {}).textContent || null,
  series: Array.from(svg.querySelectorAll('.series')).map(g => [g.dataset.series,
    +g.dataset.points])}))"""


def rows(page, selector: str) -> list[list[str]]:
    """The cells of the first table ``selector`` matches."""
    return page.evaluate(f"({ROWS})({selector!r})")


def test_page_shows_custom_metrics_and_fairness(server, planted: Day, page, tmp_path) -> None:
    page.goto(f"{server.url}/models/{MODEL}?refresh=0")
    page.pump(0.5)
    assert page.errors == []
    if os.environ.get("MODELTEL_TEST_SCREENSHOTS"):
        page.screenshot(Path(os.environ["MODELTEL_TEST_SCREENSHOTS"]) / "fairness-page.png")
    f, m = planted.group_rates("gender", "f"), planted.group_rates("gender", "m")
    approval = planted.approve.mean()

    # custom metrics of the latest window: value, bounds, status, description
    custom = {r[0]: r for r in rows(page, "table.custom")}
    assert custom["approval_rate"] == [
        "approval_rate",
        num(approval),
        "≥ 0.3",
        "alert" if approval < 0.3 else "ok",
        "share of applications approved",
    ]
    assert custom["mean_amount"][1:4] == [num(planted.amount.mean()), "—", "info"]
    # and per gender (custom_metrics.segment_by), largest segment first
    per_segment = rows(page, "table.custom-segments")
    gender = planted.groups["gender"]
    expected = []
    for group in sorted(sorted(set(gender)), key=lambda g: -(gender == g).sum()):
        share = planted.approve[gender == group].mean()
        status = "alert" if share < 0.3 else "ok"
        amount = num(planted.amount[gender == group].mean())
        expected.append(
            [
                f"gender={group}",
                f"{(gender == group).sum():,}",
                f"{num(share)} {status}",
                f"{amount} info",
            ]
        )
    assert per_segment == expected

    # the gender summaries and groups, the small group left out with its reason
    summary = {r[0]: r[1:4] for r in rows(page, "#fairness-gender ~ table.fairness-summary")}
    low, high = sorted([f["selection_rate"], m["selection_rate"]])
    tpr_gap = abs(f["true_positive_rate"] - m["true_positive_rate"])
    fpr_gap = abs(f["false_positive_rate"] - m["false_positive_rate"])
    assert summary["disparate impact ratio"] == [num(low / high), "< 0.8", "alert"]
    assert summary["statistical parity difference"] == [num(high - low), "> 0.1", "alert"]
    assert summary["equal opportunity difference"][:2] == [num(tpr_gap), "> 0.1"]
    assert summary["equalized odds difference"][:2] == [num(max(tpr_gap, fpr_gap)), "> 0.1"]
    groups = {r[0]: r[1:] for r in rows(page, "#fairness-gender ~ table.fairness-groups")}
    assert set(groups) == {"f", "m (reference)"}
    for name, rates in (("f", f), ("m (reference)", m)):
        assert groups[name] == [
            num(rates["n"]),
            num(rates["n"]),  # every prediction is labelled
            *(
                num(rates[k])
                for k in ("selection_rate", "true_positive_rate", "false_positive_rate")
            ),
            num(rates["accuracy"]),
            num(rates["selection_rate"] - m["selection_rate"]),
            num(rates["selection_rate"] / m["selection_rate"]),
        ]
    left_out = page.evaluate(
        "document.querySelector('#fairness-gender ~ ul.fairness-left-out').textContent"
    )
    assert left_out == "x: 10 predictions, fewer than min_group_size 30"
    age_groups = {r[0] for r in rows(page, "#fairness-age ~ table.fairness-groups")}
    assert age_groups == {"[0, 30)", "[30, 50)", "[50, 120]"}

    # the trends: one point per window, thresholds drawn, every chart captioned
    charts = {c["label"]: c for c in page.evaluate(CHARTS)}
    assert charts["approval_rate"]["series"] == [["approval_rate", 2]]
    assert charts["approval_rate"]["threshold"] == "threshold 0.3"
    assert charts["mean_amount"]["series"] == [["mean_amount", 2]]
    gaps = charts["gender: gaps between groups"]
    assert [s[1] for s in gaps["series"]] == [2, 2, 2]
    assert gaps["threshold"] == "threshold 0.1"
    assert charts["gender: disparate impact ratio"]["threshold"] == "threshold 0.8"
    assert charts["age: disparate impact ratio"]["series"] == [["disparate impact ratio", 2]]
    for label in (
        "approval_rate",
        "mean_amount",
        "gender: gaps between groups",
        "age: disparate impact ratio",
    ):
        assert charts[label]["caption"], label
