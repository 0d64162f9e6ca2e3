"""The model page's time range in headless Chromium, and the model list saying stale/paused.

A store holds three model versions with real predictions and features: ``shop`` (hourly
traffic for three days, feature ``a`` shifted on the last day), ``nightly`` (one burst a day)
and ``paused`` (traffic stopped at noon, the staleness check alerting since). The drift table
of a range is checked against :meth:`Analyzer.drift` on the same window and, for
``compare=previous``, against scipy's KS test on the two windows' raw values.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import numpy as np
import pytest
from scipy import stats

from modeltel.analyzer.base.config import load_config
from modeltel.analyzer.base.results import make_results, write_results
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.orchestration.analyzer import Analyzer
from modeltel.analyzer.web.sections import num
from support.chromium import chromium_path
from support.drift import module_store
from support.models import upload_matrix, write_matrix
from support.servers import RunningServer, start_server

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="needs chromium (apt-get)")

HOUR = timedelta(hours=1)
END = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
"""``shop``'s traffic ends here; its last prediction is at 22:57 (every 3 minutes)."""
DATA_END = END - timedelta(minutes=2)
"""Where its "last N" ranges end: the minute after its last prediction."""
START = END - 72 * HOUR
PAUSED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
FEATURES = ("a", "b")
PER_HOUR = 20


def _hourly(store: Store, model: str, start: datetime, hours: int, shift_from: datetime) -> None:
    """``PER_HOUR`` predictions an hour; ``a`` moves by +1 from ``shift_from`` on."""
    rng = np.random.default_rng(len(model))
    for k in range(hours):
        begin = start + k * HOUR
        matrix = rng.normal(size=(PER_HOUR, len(FEATURES))).round(4)
        if begin >= shift_from:
            matrix[:, 0] += 1.0
        write_matrix(store, model, "1", matrix, FEATURES, start=begin, id_prefix=f"{k}-")


def _results(model: str, start: datetime, hours: int, **extra: Any) -> list[dict[str, Any]]:
    """Stored hourly drift records (psi 0.01, ok) of both features."""
    return [
        {
            "model": model,
            "version": "1",
            "window_start": start + k * HOUR,
            "window_end": start + (k + 1) * HOUR,
            "kind": "drift",
            "method": "psi",
            "feature": feature,
            "value": 0.01,
            "threshold": 0.2,
            "status": "ok",
            "current_size": PER_HOUR,
            **extra,
        }
        for k in range(hours)
        for feature in FEATURES
    ]


def _service(model: str, start: datetime, hours: int, status: str) -> list[dict[str, Any]]:
    return [
        {
            "model": model,
            "version": "1",
            "window_start": start + k * HOUR,
            "window_end": start + (k + 1) * HOUR,
            "kind": "service",
            "metric": "staleness",
            "value": 60.0,
            "status": status,
        }
        for k in range(hours)
    ]


@pytest.fixture(scope="module")
def site(store_url: str) -> Iterator[RunningServer]:
    """The three models in a store of their own, behind a running server."""
    for store in module_store(store_url):
        rng = np.random.default_rng(5)
        for model in ("shop", "nightly", "paused"):
            reference = rng.normal(size=(600, len(FEATURES))).round(4)
            upload_matrix(store, model, "1", reference, FEATURES)
        _hourly(store, "shop", START, 72, shift_from=END - 24 * HOUR)
        _hourly(store, "paused", PAUSED_AT - 24 * HOUR, 24, shift_from=PAUSED_AT)
        _hourly(store, "noref", END - 4 * HOUR, 4, shift_from=END)
        for day in range(3):  # one burst of 100 a day at 02:00, 10 minutes long
            burst = datetime(2026, 11, 29, 2, 0, tzinfo=UTC) + day * 24 * HOUR
            matrix = rng.normal(size=(100, len(FEATURES))).round(4)
            write_matrix(
                store,
                "nightly",
                "1",
                matrix,
                FEATURES,
                start=burst,
                span=timedelta(minutes=10),
                id_prefix=f"n{day}-",
            )
        records = [
            *_results("shop", START, 72),
            *_service("shop", START, 72, "ok"),
            {
                "model": "shop",
                "version": "1",
                "window_start": END - HOUR,
                "window_end": END,
                "kind": "health",
                "metric": "health_score",
                "value": 91.0,
                "status": "ok",
            },
            *_results("paused", PAUSED_AT - 24 * HOUR, 24),
            *_service("paused", PAUSED_AT - 24 * HOUR, 24, "ok"),
            *_service("paused", PAUSED_AT, 11, "alert"),
        ]
        write_results(store, make_results(records))
        running, stop = start_server(store)
        try:
            yield running
        finally:
            stop()


DRIFT_ROWS = """
Array.from(document.querySelectorAll('table.drift tbody tr')).map(tr =>
  ({feature: tr.cells[0].textContent, method: tr.cells[1].textContent,
    score: tr.cells[2].textContent, sizes: tr.cells[5].textContent}))
"""


def _line(page: Any) -> str:
    return str(page.evaluate("document.getElementById('range-line').textContent"))


def _analyzed(store: Store, model: str, window: Window, **options: Any) -> dict[str, Any]:
    frame = Analyzer(store, load_config()).drift(model, "1", window=window, write=False, **options)
    return {r["feature"]: r for r in frame.to_dict("records") if r["feature"] in FEATURES}


def test_the_controls_render_and_a_click_changes_the_window(site, page) -> None:
    page.goto(f"{site.url}/models/shop?version=1")
    page.pump(0.3)
    assert page.errors == []
    links = page.evaluate(
        "Array.from(document.querySelectorAll('#time-range a')).map(a => a.textContent)"
    )
    assert links[:6] == [
        "latest windows",
        "last 1 h",
        "last 6 h",
        "last 24 h",
        "last 7 d",
        "last 30 d",
    ]
    assert "vs the previous window" in links
    assert (
        page.evaluate("document.querySelectorAll('#range-form input[type=datetime-local]').length")
        == 2
    )
    assert _line(page).startswith("latest analysed windows")

    page.navigate_by("document.querySelector(\"#time-range a[data-range='24h']\").click()")
    assert "last 24 h of data, up to 2026-12-01 22:58 UTC" in _line(page)
    assert parse_qs(urlparse(page.evaluate("window.location.href")).query) == {
        "version": ["1"],
        "range": ["24h"],
    }
    assert page.errors == []


def test_the_drift_table_is_computed_for_the_range(site, page) -> None:
    page.goto(f"{site.url}/models/shop?version=1&range=24h")
    page.pump(0.3)
    assert page.errors == []
    rows = {r["feature"]: r for r in page.evaluate(DRIFT_ROWS)}
    expected = _analyzed(site.store, "shop", Window(DATA_END - 24 * HOUR, DATA_END))
    assert set(rows) >= set(FEATURES)
    for feature in FEATURES:
        assert rows[feature]["method"] == expected[feature]["method"] == "ks"
        assert rows[feature]["score"] == f"p = {num(expected[feature]['value'])}"
        assert rows[feature]["sizes"] == f"600 / {24 * PER_HOUR}"
    # the shifted feature drifted over the range; the stored hourly psi records said ok
    assert expected["a"]["status"] == "drift" and expected["b"]["status"] == "ok"


def test_compare_previous_measures_against_the_window_before(site, page) -> None:
    url = f"{site.url}/models/shop?version=1&range=24h&compare=previous"
    page.goto(url)
    page.pump(0.3)
    assert page.errors == []
    line = _line(page)
    assert "vs the previous window, 2026-11-29 22:58 UTC – 2026-11-30 22:58 UTC" in line
    rows = {r["feature"]: r for r in page.evaluate(DRIFT_ROWS)}
    for feature in FEATURES:
        values = site.store.query_rows(
            "SELECT timestamp >= {split:DateTime64(9)}, value_num FROM ml_features "
            "WHERE model = 'shop' AND feature = {f:String} AND timestamp >= {lo:DateTime64(9)}",
            parameters={"f": feature, "split": DATA_END - 24 * HOUR, "lo": DATA_END - 48 * HOUR},
        )
        current = [v for late, v in values if late]
        previous = [v for late, v in values if not late]
        assert len(current) == len(previous) == 24 * PER_HOUR
        expected = stats.ks_2samp(previous, current).pvalue
        assert rows[feature]["method"] == "ks"
        assert rows[feature]["score"] == f"p = {num(expected)}"
        assert rows[feature]["sizes"] == f"{24 * PER_HOUR} / {24 * PER_HOUR}"
        # a moved on the last day, b did not
        assert (expected < 1e-6) if feature == "a" else (expected > 1e-3)
    # the comparison links keep the range, so the state stays in the URL
    href = page.evaluate("document.querySelector(\"#time-range a[data-compare='reference']\").href")
    assert parse_qs(urlparse(href).query) == {"version": ["1"], "range": ["24h"]}


def test_the_form_asks_for_a_custom_range(site, page) -> None:
    page.goto(f"{site.url}/models/shop?version=1")
    page.pump(0.3)
    page.navigate_by(
        "(() => { const f = document.getElementById('range-form');"
        " f.elements['range'].value = 'custom';"
        " f.elements['from'].value = '2026-12-01T00:00';"
        " f.elements['to'].value = '2026-12-01T06:00'; f.submit(); })()"
    )
    query = parse_qs(urlparse(page.evaluate("window.location.href")).query)
    assert query["from"] == ["2026-12-01T00:00"] and query["to"] == ["2026-12-01T06:00"]
    assert _line(page).startswith("from 2026-12-01 00:00 UTC to 2026-12-01 06:00 UTC")
    rows = {r["feature"]: r for r in page.evaluate(DRIFT_ROWS)}
    assert rows["a"]["sizes"] == f"600 / {6 * PER_HOUR}"
    assert page.errors == []


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ("range=2h", "range='2h' is not known: use one of 1h, 6h, 24h, 7d, 30d"),
        ("compare=last", "compare='last' is not known: use one of reference, previous"),
        ("from=2026-12-02T00:00&to=2026-12-01T00:00", "from (2026-12-02T00:00) must be before to"),
        ("from=yesterday&to=2026-12-01T00:00", "from='yesterday' is not a date"),
        ("from=2026-12-01T00:00", "to is missing"),
    ],
)
def test_bad_parameters_answer_400_with_a_sentence(site, query: str, sentence: str) -> None:
    answer = httpx.get(f"{site.url}/models/shop?version=1&{query}", timeout=60)
    assert answer.status_code == 400
    text = re.sub(r"&#x27;", "'", answer.text)
    assert "<h1>400</h1>" in text
    assert sentence in text


def test_a_daily_batch_and_a_paused_model_show_their_last_data(site, page) -> None:
    page.goto(f"{site.url}/models/nightly?version=1&range=24h")
    page.pump(0.3)
    assert page.errors == []
    assert "last 24 h of data, up to 2026-12-01 02:10 UTC" in _line(page)
    rows = {r["feature"]: r for r in page.evaluate(DRIFT_ROWS)}
    assert rows["a"]["sizes"] == "600 / 100"

    page.goto(f"{site.url}/models/paused?version=1&range=24h")
    page.pump(0.3)
    assert page.errors == []
    assert "last 24 h of data, up to 2026-12-01 11:58 UTC" in _line(page)
    rows = {r["feature"]: r for r in page.evaluate(DRIFT_ROWS)}
    assert rows["b"]["sizes"] == f"600 / {24 * PER_HOUR}"


def test_the_model_list_says_stale_and_paused(site, page) -> None:
    entries = {m["model"]: m for m in httpx.get(f"{site.url}/api/models", timeout=60).json()}
    paused, shop = entries["paused"], entries["shop"]
    assert paused["stale"] is True and shop["stale"] is False
    assert paused["no_predictions_since"].startswith("2026-12-01T11:57:00")
    assert shop["no_predictions_since"] is None
    assert shop["health_window_end"].startswith("2026-12-01T23:00:00")
    assert shop["health_score"] == 91.0

    page.goto(f"{site.url}/")
    page.pump(0.3)
    assert page.errors == []
    cells = page.evaluate(
        "Object.fromEntries(Array.from(document.querySelectorAll('table.models tbody tr'))"
        ".map(tr => [tr.cells[0].textContent, [tr.cells[3].textContent,"
        " tr.cells[8].textContent]]))"
    )
    health, last = cells["shop"]
    assert "as of 2026-12-01 23:00 UTC" in health and "stale" not in last
    health, last = cells["paused"]
    assert re.search(r"ago stale", last) and "no predictions since 2026-12-01 11:57 UTC" in last


def test_modeltel_models_prints_stale_and_the_pause(site, capsys) -> None:
    from modeltel.analyzer.cli import main

    assert main(["models", "--server", site.url]) == 0
    out = capsys.readouterr().out
    (paused_row,) = [line for line in out.splitlines() if line.startswith("paused  ")]
    (shop_row,) = [line for line in out.splitlines() if line.startswith("shop  ")]
    assert "(stale)" in paused_row and "(stale)" not in shop_row
    assert re.search(r"^paused 1: no predictions since 2026-12-01 11:57 UTC \(.+ ago\)$", out, re.M)
    assert "shop 1: no predictions" not in out


def test_the_self_refresh_keeps_the_range(site, page) -> None:
    page.goto(f"{site.url}/models/shop?version=1&range=6h&compare=previous&refresh=2")
    page.pump(0.3)
    page.evaluate("document.getElementById('range-line').dataset.before = 'refresh'")
    for _ in range(60):  # until the script has replaced the content once
        page.pump(0.25)
        if page.evaluate("document.getElementById('range-line').dataset.before") is None:
            break
    assert page.evaluate("document.getElementById('range-line').dataset.before") is None
    assert "last 6 h of data, up to 2026-12-01 22:58 UTC" in _line(page)
    assert "vs the previous window" in _line(page)
    assert page.errors == []


def test_without_a_reference_the_range_says_so_and_previous_still_works(site, page) -> None:
    page.goto(f"{site.url}/models/noref?version=1&range=1h")
    page.pump(0.3)
    assert page.errors == []
    notice = page.evaluate("document.querySelector('#time-range .notice').textContent")
    assert notice.startswith("drift not computed for this range: model 'noref' has no reference")
    assert page.evaluate(DRIFT_ROWS) == []

    page.goto(f"{site.url}/models/noref?version=1&range=1h&compare=previous")
    page.pump(0.3)
    assert page.errors == []
    assert page.evaluate("document.querySelector('#time-range .notice')") is None
    rows = {r["feature"]: r for r in page.evaluate(DRIFT_ROWS)}
    assert rows["a"]["sizes"] == f"{PER_HOUR} / {PER_HOUR}"
