"""The built-in web page in headless Chromium, over a store filled by the demo's story (a real
model served by an instrumented app, drifting traffic, late labels, the real analyses)."""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from modeltel.analyzer.base.results import make_results, write_results
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.demo.scenario import MODEL_NAME
from support.chromium import chromium_path, png_size
from support.servers import RunningServer, story_server

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="needs chromium (apt-get)")


@dataclass
class DemoServer(RunningServer):
    predictions_made: int = 0


@pytest.fixture(scope="module")
def demo(store_url):
    """The demo's story (see ``story_server``)."""
    with story_server(store_url, "web", seed=11) as (running, sim):
        yield DemoServer(**vars(running), predictions_made=sim.stats.predictions)


def latest_window(store: Store, kind: str) -> tuple:
    return store.query_rows(
        "SELECT max(window_end) FROM ml_results FINAL "
        "WHERE model = {m:String} AND kind = {k:String}",
        parameters={"m": MODEL_NAME, "k": kind},
    )[0][0]


def test_api_models_matches_the_store(demo) -> None:
    store = demo.store
    answer = httpx.get(demo.url + "/api/models", timeout=60)
    assert answer.status_code == 200
    (entry,) = answer.json()
    count, last = store.query_rows(
        "SELECT count(), max(timestamp) FROM ml_predictions WHERE model = {m:String}",
        parameters={"m": MODEL_NAME},
    )[0]
    labels = store.query_rows(
        "SELECT uniqExact(prediction_id) FROM ml_labels WHERE model = {m:String}",
        parameters={"m": MODEL_NAME},
    )[0][0]
    end = latest_window(store, "drift")
    drifted = store.query_rows(
        "SELECT uniqExactIf(feature, status = 'drift'), uniqExact(feature) FROM ml_results FINAL "
        "WHERE model = {m:String} AND kind = 'drift' AND window_end = {e:DateTime64(3)} "
        "AND feature IS NOT NULL AND NOT startsWith(feature, 'prediction.')",
        parameters={"m": MODEL_NAME, "e": end},
    )[0]
    health = store.query_rows(
        "SELECT argMax(value, window_end) FROM ml_results FINAL WHERE model = {m:String} "
        "AND kind = 'health' AND metric = 'health_score'",
        parameters={"m": MODEL_NAME},
    )[0][0]
    assert entry["model"] == MODEL_NAME and entry["version"] == "1"
    # the story's traffic follows the clock's hours, so how many there are varies with the time
    assert entry["predictions"] == count == demo.predictions_made > 0
    assert entry["labels"] == labels > 0
    assert entry["last_seen"].startswith(last.isoformat()[:19])
    assert (entry["drifted_features"], entry["features_checked"]) == drifted
    assert entry["drifted_features"] >= 1
    assert entry["health_score"] == pytest.approx(health)
    assert 0 <= entry["health_score"] <= 100


CHART_DATA = """
Array.from(document.querySelectorAll('svg.chart')).map(svg => ({
  label: svg.getAttribute('aria-label'),
  empty: svg.classList.contains('chart-empty'),
  series: Array.from(svg.querySelectorAll('.series')).map(g => ({
    name: g.dataset.series, points: parseInt(g.dataset.points, 10)}))
}))
"""


def test_model_page_renders_every_chart_with_data(demo, page, tmp_path: Path) -> None:
    page.goto(f"{demo.url}/models/{MODEL_NAME}")
    page.pump(0.5)
    assert page.errors == []
    charts = page.evaluate(CHART_DATA)
    shot = page.screenshot(tmp_path / "model-page.png")
    width, height = png_size(shot)
    assert width == 1280 and height > 2000
    by_label = {c["label"]: c for c in charts}

    # one drift-table row per checked feature, each with both histograms filled
    end = latest_window(demo.store, "drift")
    features = {
        r[0]
        for r in demo.store.query_rows(
            "SELECT DISTINCT feature FROM ml_results FINAL WHERE model = {m:String} AND "
            "kind = 'drift' AND window_end = {e:DateTime64(3)} AND feature IS NOT NULL",
            parameters={"m": MODEL_NAME, "e": end},
        )
    }
    rows = page.evaluate(
        "Array.from(document.querySelectorAll('table.drift tbody tr')).map(tr => "
        "[tr.cells[0].textContent, tr.querySelectorAll('.hist .series').length, "
        "Array.from(tr.querySelectorAll('.hist .series')).map(g => +g.dataset.points)])"
    )
    assert {r[0] for r in rows} == features
    for feature, series, points in rows:
        assert series == 2, feature
        assert min(points) >= 2, feature
    # drift over time, performance, labels, latency, throughput: lines with several points
    for title in (
        "latency percentiles (seconds)",
        "throughput (predictions per second)",
        "share of drifted features",
        "label coverage",
        "health score over time",
    ):
        chart = by_label[title]
        assert not chart["empty"], title
        assert max(s["points"] for s in chart["series"]) >= 6, title
    # drift over time: one small chart per feature (many features), drifted windows marked
    smalls = page.evaluate(
        "Array.from(document.querySelectorAll('.small-multiples svg.chart')).map(svg => ({"
        "label: svg.getAttribute('aria-label'), band: !!svg.querySelector('rect.band'), "
        "marks: svg.querySelectorAll('circle.mark').length, "
        "drifted: +(svg.querySelector('.series') || {dataset: {}}).dataset.drifted || 0, "
        "caption: svg.closest('.small-multiples').previousElementSibling.textContent}))"
    )
    checked = {f for f in features if not f.startswith("prediction.")}
    assert {c["label"] for c in smalls} >= checked - {"clinic"}  # clinic: chi-squared
    assert all(c["band"] for c in smalls)
    assert all(c["marks"] == c["drifted"] for c in smalls)
    drifted_windows = demo.store.query_rows(
        "SELECT count() FROM ml_results FINAL WHERE model = {m:String} AND kind = 'drift' "
        "AND method = 'ks' AND status = 'drift' AND feature IS NOT NULL",
        parameters={"m": MODEL_NAME},
    )[0][0]
    ks = [c for c in smalls if "log scale" in c["caption"] and " ks " in c["caption"]]
    assert sum(c["marks"] for c in ks) == drifted_windows > 0
    captions = page.evaluate(
        "Array.from(document.querySelectorAll('svg.chart')).filter(svg => "
        "!svg.closest('.hist') && !svg.closest('.small-multiples') && "
        "!(svg.closest('figure') || {}).querySelector?.call(svg.closest('figure'), '.caption'))"
        ".map(svg => svg.getAttribute('aria-label'))"
    )
    assert captions == [], f"charts without a caption: {captions}"
    accuracy = by_label["accuracy"]
    names = {s["name"] for s in accuracy["series"]}
    assert names == {"accuracy (realized)", "accuracy (estimated)"}
    assert all(s["points"] >= 3 for s in accuracy["series"])


def test_page_refreshes_itself_in_place(demo, page) -> None:
    page.goto(f"{demo.url}/models/{MODEL_NAME}?refresh=2")
    before = page.evaluate("document.querySelector('.health.big').textContent")
    end = latest_window(demo.store, "health")
    write_results(
        demo.store,
        make_results(
            [
                {
                    "model": MODEL_NAME,
                    "version": "1",
                    "window_start": end,
                    "window_end": end + timedelta(hours=6),
                    "kind": "health",
                    "metric": "health_score",
                    "value": 7.0,
                    "threshold": 50.0,
                    "status": "alert",
                }
            ]
        ),
    )
    deadline = time.monotonic() + 60  # a ceiling for a busy machine; the loop ends when it holds
    after = before
    while time.monotonic() < deadline and after == before:
        page.pump(0.5)
        after = page.evaluate("document.querySelector('.health.big').textContent")
    assert before != "7"
    assert after == "7"
    assert "updated" in page.evaluate("document.getElementById('refreshed').textContent")
    assert page.errors == []


def test_sql_box_runs_a_query(demo, page) -> None:
    page.goto(f"{demo.url}/?refresh=0")
    page.evaluate(
        "document.querySelector('#sql-form textarea').value = "
        '"SELECT count() AS n FROM ml_predictions";'
        "document.querySelector('#sql-form button').click(); true"
    )
    deadline = time.monotonic() + 60  # a ceiling for a busy machine; the loop ends when it holds
    cells: list = []
    while time.monotonic() < deadline and not cells:
        page.pump(0.3)
        cells = page.evaluate(
            "Array.from(document.querySelectorAll('#sql-output td')).map(td => td.textContent)"
        )
    count = demo.store.query_rows("SELECT count() FROM ml_predictions")[0][0]
    assert cells == [str(count)]
    page.evaluate(
        "document.querySelector('#sql-form textarea').value = 'DROP TABLE ml_labels';"
        "document.querySelector('#sql-form button').click(); true"
    )
    message = ""
    while time.monotonic() < deadline + 20 and not message:
        page.pump(0.3)
        message = page.evaluate(
            "(document.querySelector('#sql-output .error') || {}).textContent || ''"
        )
    assert "read-only" in message
    # the refused query shows as a 400 in the network log, which is the point; nothing else
    assert [e for e in page.errors if "400" not in e] == []


def test_index_lists_the_model_with_its_health(demo, page) -> None:
    page.goto(demo.url + "/")
    assert page.errors == []
    links = page.evaluate(
        "Array.from(document.querySelectorAll('table.models a')).map(a => a.getAttribute('href'))"
    )
    assert links == [f"/models/{MODEL_NAME}?version=1"]
    shown = page.evaluate("document.querySelector('table.models .health').textContent")
    score = httpx.get(demo.url + "/api/models", timeout=60).json()[0]["health_score"]
    assert shown == f"{score:.0f}"


def test_unknown_pages_answer_404_with_a_sentence(demo) -> None:
    missing = httpx.get(demo.url + "/models/nope", timeout=60)
    assert missing.status_code == 404
    assert "no model named 'nope'" in html.unescape(missing.text)
    assert httpx.get(demo.url + "/static/evil.js", timeout=60).status_code == 404
    version = httpx.get(f"{demo.url}/models/{MODEL_NAME}?version=9", timeout=60)
    assert version.status_code == 404 and "has no version '9'" in html.unescape(version.text)


def test_readme_sql_examples_run_on_the_demo_data(demo, repo_root) -> None:
    readme = (repo_root / "README.md").read_text()
    queries = re.findall(r"```sql\n(.*?)```", readme, re.S)
    assert len(queries) >= 8
    for query in queries:
        answer = httpx.post(demo.url + "/api/sql", json={"query": query}, timeout=60)
        assert answer.status_code == 200, (query, answer.text)
        body = answer.json()
        assert body["row_count"] > 0, query
        assert all(any(v is not None for v in row) for row in body["rows"]), query


def test_a_fresh_server_explains_how_to_start(server, page) -> None:
    assert httpx.get(server.url + "/api/models", timeout=60).json() == []
    page.goto(server.url + "/")
    assert page.errors == []
    text = page.evaluate("document.querySelector('main').innerText")
    assert "No models yet" in text and "modeltel demo" in text
    # predictions but no analysis yet: the page still renders, saying what is missing
    server.store.insert(
        "ml_predictions",
        [["churn", "3", datetime(2026, 4, 1, tzinfo=UTC), "p1", "classification", "yes", 0.0]],
        ["model", "version", "timestamp", "prediction_id", "task", "prediction_label", "latency_s"],
    )
    page.goto(server.url + "/models/churn")
    assert page.errors == []
    text = page.evaluate("document.querySelector('main').innerText")
    assert "No drift results yet" in text and "No data-quality results yet" in text
    empty = page.evaluate("document.querySelectorAll('svg.chart-empty').length")
    drawn = page.evaluate("document.querySelectorAll('svg .series').length")
    assert empty >= 5 and drawn == 0
