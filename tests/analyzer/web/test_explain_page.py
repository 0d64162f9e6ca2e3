"""The model page's "What changed" section in headless Chromium through the real server: the
sentence and the slices explaining the latest hour's accuracy against the hour before, over
predictions and labels planted with numpy (``support.explain``)."""

from __future__ import annotations

import numpy as np
import pytest

from modeltel.analyzer.orchestration.explain import explain
from modeltel.analyzer.web.sections import num, pct
from support.chromium import chromium_path
from support.drift import write_production
from support.explain import AFTER, BEFORE, MODEL, plant

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="needs chromium (apt-get)")

SECTION = """(() => {
  const heading = document.getElementById('explain');
  if (!heading) return null;
  const out = {summary: null, reason: null, rows: []};
  for (let el = heading.nextElementSibling; el && el.tagName !== 'H2';
       el = el.nextElementSibling) {
    const summary = el.querySelector('.explain-summary');
    if (summary) out.summary = summary.textContent;
    if (el.classList.contains('explain-reason')) out.reason = el.textContent;
    if (el.matches('table.explain')) out.rows = Array.from(el.tBodies[0].rows).map(
      tr => Array.from(tr.cells).map(td => td.textContent));
  }
  return out;
})()"""


def _section(page, url: str) -> dict:
    page.goto(url)
    page.pump(0.3)
    assert page.errors == []
    found = page.evaluate(SECTION)
    assert found is not None, "the page has no What changed section"
    return found


def test_flipped_labels_of_one_clinic_are_named_on_the_page(server, page) -> None:
    before, after = plant(server.store, "flip")
    expected = explain(server.store, MODEL, "1", BEFORE, AFTER)
    shown = _section(page, f"{server.url}/models/{MODEL}?refresh=0")
    assert shown["summary"] == expected.summary()
    assert "of the fall is clinic=east" in shown["summary"]
    assert len(shown["rows"]) == 5
    east = shown["rows"][0]
    assert east[0] == "clinic=east"
    b, a = before.frame, after.frame
    in_before, in_after = b.clinic == "east", a.clinic == "east"
    assert east[1] == f"{pct(in_before.mean())} → {pct(in_after.mean())}"
    assert east[2] == f"{num(before.accuracy(in_before))} → {num(after.accuracy(in_after))}"
    labelled = f"{int((in_before & b.truth.notna()).sum()):,} → "
    assert east[3] == labelled + f"{int((in_after & a.truth.notna()).sum()):,}"
    top = expected.slices[0]
    assert east[4] == pct(top.part.contribution / expected.change)
    assert east[5] == pct(top.part.rate / expected.change)
    assert east[6] == pct(top.part.mix / expected.change)
    # east's accuracy fell inside it: the change is one of rate, not of its share
    rate, mix = (float(cell.rstrip("%")) for cell in east[5:7])
    assert rate > 80 and abs(rate) > 5 * abs(mix)
    # a range of the page explains the latest hour of that range too
    ranged = _section(page, f"{server.url}/models/{MODEL}?refresh=0&range=24h")
    assert ranged["summary"] == expected.summary()


def test_unchanged_traffic_is_one_line(server, page) -> None:
    plant(server.store, "none")
    expected = explain(server.store, MODEL, "1", BEFORE, AFTER)
    shown = _section(page, f"{server.url}/models/{MODEL}?refresh=0")
    assert shown["summary"] == expected.summary()
    assert shown["summary"].startswith("accuracy did not change materially")
    assert shown["rows"] == []


def test_without_labels_the_section_says_why(server, page) -> None:
    rng = np.random.default_rng(3)
    n = 200
    write_production(
        server.store,
        "unlabelled",
        "1",
        {"clinic": rng.choice(["east", "west"], n).tolist(), "age": rng.uniform(20, 80, n)},
        categorical=["clinic"],
        labels=rng.choice(["urgent", "routine"], n).tolist(),
        start=BEFORE.start,
        step=(AFTER.end - BEFORE.start) / n,
    )
    shown = _section(page, f"{server.url}/models/unlabelled?refresh=0")
    assert shown["summary"] is None and shown["rows"] == []
    assert "has no prediction counted by accuracy" in shown["reason"]
    assert "(it needs labels)" in shown["reason"]
