"""The custom-metric and fairness sections of the model page, in headless Chromium through the
real server, over predictions and labels planted with numpy and the real analyses."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modeltel.analyzer.inputs.labels import upload_labels
from modeltel.analyzer.orchestration.analyzer import Analyzer
from modeltel.analyzer.web.sections import num
from support.chromium import Browser, chromium_path
from support.drift import write_production

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="needs chromium (apt-get)")

MODEL = "loans"
DAY0 = datetime(2026, 3, 2, tzinfo=UTC)
N = 400
CONFIG = {
    "custom_metrics": {
        "approval_rate": {
            "sql": "avg(prediction_label = 'approve')",
            "thresholds": {"min": 0.3},
            "description": "share of applications approved",
        },
        "mean_amount": {"sql": "avg(feature('amount'))"},
    },
    "fairness": {
        "protected": ["gender", "age"],
        "bins": {"age": [0, 30, 50, 120]},
        "favorable": "approve",
        "reference_group": {"gender": "m"},
        "min_group_size": 30,
    },
}


@dataclass
class Day:
    """One day's planted predictions: group, decision (approve?), truth (approve?), amount."""

    gender: np.ndarray
    approve: np.ndarray
    truth: np.ndarray
    amount: np.ndarray

    def rates(self, group: str) -> dict[str, float]:
        g = self.gender == group
        return {
            "n": int(g.sum()),
            "selection_rate": self.approve[g].mean(),
            "true_positive_rate": self.approve[g & self.truth].mean(),
            "false_positive_rate": self.approve[g & ~self.truth].mean(),
            "accuracy": (self.approve == self.truth)[g].mean(),
        }


def plant(store, rng: np.random.Generator, day: int, rate_f: float, rate_m: float) -> Day:
    """N predictions on ``DAY0 + day`` (10 of a group too small to judge, ``x``), labelled."""
    gender = rng.choice(["f", "m"], N)
    gender[:10] = "x"
    approve = rng.random(N) < np.where(gender == "f", rate_f, rate_m)
    truth = np.where(rng.random(N) < 0.8, approve, ~approve)
    amount = rng.gamma(2.0, 40.0, N)
    ids = write_production(
        store,
        MODEL,
        "1",
        {"gender": gender.tolist(), "age": rng.uniform(18, 90, N).tolist(), "amount": amount},
        categorical=["gender"],
        labels=np.where(approve, "approve", "deny").tolist(),
        start=DAY0 + timedelta(days=day, minutes=1),
        step=timedelta(minutes=3),
        id_prefix=f"d{day}-",
    )
    labels = pd.DataFrame({"prediction_id": ids, "label": np.where(truth, "approve", "deny")})
    upload_labels(store, MODEL, labels)
    return Day(gender, approve, truth, amount)


def analyse(store) -> Day:
    """A fair first day, a second where f is approved at half m's rate; both analyses run."""
    rng = np.random.default_rng(7)
    plant(store, rng, 0, 0.55, 0.55)
    latest = plant(store, rng, 1, 0.12, 0.28)
    analyzer = Analyzer(store, CONFIG)
    for kind in ("custom", "fairness"):
        analyzer.run(kind, MODEL, start=DAY0, end=DAY0 + timedelta(days=2), window="1d")
    return latest


@pytest.fixture
def planted(server) -> Day:
    return analyse(server.store)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with Browser(tmp_path_factory.mktemp("chromium-profile")) as b:
        yield b


@pytest.fixture
def page(browser):
    tab = browser.new_page()
    try:
        yield tab
    finally:
        tab.close()


ROWS = """(selector) => Array.from(document.querySelector(selector).tBodies[0].rows).map(
  tr => Array.from(tr.cells).map(td => td.textContent))"""
CHARTS = """Array.from(document.querySelectorAll('svg.chart')).map(svg => ({
  label: svg.getAttribute('aria-label'),
  threshold: (svg.querySelector('line.threshold') || {}).nextSibling?.textContent || null,
  caption: (svg.parentElement.querySelector('p.caption') || {}).textContent || null,
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
    f, m = planted.rates("f"), planted.rates("m")
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
