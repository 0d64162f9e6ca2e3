"""The segment selector of the model page, in headless Chromium through the real server, over
predictions planted with numpy and performance analysed per region
(``performance.segment_by``)."""

from __future__ import annotations

import html

import httpx
import numpy as np
import pandas as pd
import pytest

from modeltel.analyzer.inputs.labels import upload_labels
from modeltel.analyzer.orchestration.analyzer import Analyzer
from modeltel.analyzer.web.sections import num
from support.chromium import chromium_path
from support.perfdata import HOUR, at, insert_features, insert_predictions

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="needs chromium (apt-get)")

ERRORS = {"north": 0.1, "south": 0.4, "east": 0.25}
"""The share of wrong predictions per region."""
SIZES = {"north": 800, "south": 600, "east": 300}
CONFIG = {"performance": {"segment_by": ["region"], "thresholds": {"accuracy": 0.7}}}


def plant(store, model: str, *, regions: bool, seed: int = 3) -> None:
    """One hour of a binary classifier's predictions, all labelled, wrong at the rate of their
    region; the region is a feature when ``regions``."""
    rng = np.random.default_rng(seed)
    region = np.array([r for r, n in SIZES.items() for _ in range(n)])
    rng.shuffle(region)
    n = len(region)
    ids = [f"{model}-{i}" for i in range(n)]
    times = [at(i * 3000 / n) for i in range(n)]
    y = (rng.random(n) < 0.5).astype(int)
    wrong = rng.random(n) < np.array([ERRORS[r] for r in region])
    predicted = np.where(wrong, 1 - y, y)
    scores = np.where(predicted == 1, 0.8, 0.2)
    insert_predictions(store, model, ids, times, labels=[str(p) for p in predicted], scores=scores)
    if regions:
        insert_features(store, model, "region", ids, times, texts=list(region), categorical=True)
    upload_labels(store, model, pd.DataFrame({"prediction_id": ids, "label": y}))


def stored_accuracy(store, model: str) -> dict[str, float]:
    """The stored realized accuracy per segment ("" overall)."""
    rows = store.query_rows(
        "SELECT segment, value FROM ml_results FINAL WHERE model = {m:String} "
        "AND kind = 'performance' AND metric = 'accuracy' AND source = 'realized'",
        parameters={"m": model},
    )
    return {str(segment): float(value) for segment, value in rows}


SELECT = """(() => { const s = document.querySelector('#segment-form select');
  return s ? {value: s.value, options: Array.from(s.options).map(o => o.value)} : null; })()"""
FACT = """(() => { let e = document.getElementById('performance');
  while (e && !(e.classList && e.classList.contains('facts'))) { e = e.nextElementSibling; }
  const found = Array.from(e.querySelectorAll('.fact')).find(
    f => f.querySelector('.fact-name').textContent === 'accuracy (realized)');
  return found.querySelector('.fact-value').textContent; })()"""
NOTES = """Array.from(document.querySelectorAll('.segment-note')).map(
  p => [p.previousElementSibling.id, p.textContent])"""


def choose(page, segment: str) -> None:
    """Pick ``segment`` in the selector as a person would: the page of that segment loads."""
    page.navigate_by(
        "(() => { const s = document.querySelector('#segment-form select'); "
        f"s.value = {segment!r}; s.dispatchEvent(new Event('change', {{bubbles: true}})); }})()"
    )


def test_the_selector_shows_each_segments_accuracy(server, page) -> None:
    plant(server.store, "churn", regions=True)
    analyzer = Analyzer(server.store, CONFIG)
    analyzer.performance("churn", "1", window=HOUR)
    analyzer.service("churn", "1", window=HOUR)  # not split by region
    stored = stored_accuracy(server.store, "churn")
    assert set(stored) == {"", "region=north", "region=south", "region=east"}

    page.goto(f"{server.url}/models/churn?refresh=0")
    assert page.errors == []
    # every segment of the latest window, largest first (one dimension)
    assert page.evaluate(SELECT) == {
        "value": "",
        "options": ["", "region=north", "region=south", "region=east"],
    }
    assert page.evaluate(FACT) == num(stored[""])
    assert page.evaluate(NOTES) == []

    for segment in ("region=south", "region=north"):
        choose(page, segment)
        assert page.errors == []
        assert page.evaluate("location.search").endswith("segment=" + segment.replace("=", "%3D"))
        assert page.evaluate(SELECT)["value"] == segment
        assert page.evaluate(FACT) == num(stored[segment]) != num(stored[""])
        # the kinds not split by region say they show all traffic
        assert page.evaluate(NOTES) == [["service", f"not split by {segment}: all traffic"]]
        line = page.evaluate("document.getElementById('segment-line').textContent")
        assert line.startswith(f"segment {segment}: performance")

    # the time range keeps the segment, and the segment the time range
    link = "document.querySelector('a[data-range=\"24h\"]').getAttribute('href')"
    assert "segment=region%3Dnorth" in page.evaluate(link)
    page.goto(f"{server.url}/models/churn?refresh=0&range=24h&segment=region%3Dsouth")
    assert page.evaluate(SELECT)["value"] == "region=south"
    assert page.evaluate(FACT) == num(stored["region=south"])
    hidden = "document.querySelector('#segment-form input[name=range]').value"
    assert page.evaluate(hidden) == "24h"

    choose(page, "")
    assert page.evaluate(SELECT)["value"] == ""
    assert page.evaluate("new URLSearchParams(location.search).get('range')") == "24h"
    assert page.evaluate(FACT) == num(stored[""])


def test_no_selector_without_segments_and_a_bad_segment_answers_400(server, page) -> None:
    plant(server.store, "plain", regions=False)
    Analyzer(server.store).performance("plain", "1", window=HOUR)
    assert set(stored_accuracy(server.store, "plain")) == {""}
    page.goto(f"{server.url}/models/plain?refresh=0")
    assert page.errors == []
    assert page.evaluate(SELECT) is None
    assert page.evaluate(FACT) == num(stored_accuracy(server.store, "plain")[""])

    page.goto(f"{server.url}/models/plain?refresh=0&segment=region%3Dnorth")
    notice = page.evaluate("document.querySelector('#segments .notice').textContent")
    assert "region=north" in notice and "all traffic" in notice
    assert page.evaluate(FACT) == num(stored_accuracy(server.store, "plain")[""])

    bad = httpx.get(f"{server.url}/models/plain", params={"segment": "north"}, timeout=60)
    assert bad.status_code == 400 and "segment='north'" in html.unescape(bad.text)
