"""Model health reports: HTML from the real analyses of the demo's story, PDF printed by
headless Chromium and rendered back to images with pdftoppm, recommendations from records."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from modeltel.analyzer.base.results import make_results, write_results
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.demo.scenario import DRIFTED, MODEL_NAME
from modeltel.analyzer.report import build_report, recommendations, render_html
from modeltel.analyzer.web.data import model_view
from support.servers import story_server

needs_renderers = pytest.mark.skipif(
    shutil.which("chromium") is None or shutil.which("pdftoppm") is None,
    reason="needs chromium and poppler-utils (apt-get)",
)


@pytest.fixture(scope="module")
def demo(store_url):
    """The demo's story (see ``story_server``)."""
    with story_server(store_url, "report", seed=5) as (running, _):
        yield running


def drifted_now(store: Store) -> set[str]:
    rows = store.query_rows(
        "SELECT feature FROM ml_results FINAL WHERE model = {m:String} AND kind = 'drift' "
        "AND status = 'drift' AND feature IS NOT NULL AND NOT startsWith(feature, 'prediction.') "
        "AND window_end = (SELECT max(window_end) FROM ml_results WHERE model = {m:String} "
        "AND kind = 'drift')",
        parameters={"m": MODEL_NAME},
    )
    return {r[0] for r in rows}


def test_html_is_self_contained_and_tells_the_story(demo) -> None:
    answer = httpx.get(
        f"{demo.url}/models/{MODEL_NAME}/report", params={"period": "week"}, timeout=60
    )
    assert answer.status_code == 200
    html = answer.text
    assert "<script" not in html
    assert re.findall(r"<link[^>]*>", html) == ["<link rel='icon' href='data:,'>"]
    assert not re.search(r"""(src|href)=["']?(https?:|file:)?//""", html)
    for heading in (
        "Recommendations",
        "Health score",
        "Drifted features",
        "Performance trend",
        "Service health",
        "Data quality",
    ):
        assert f"<h2>{heading}</h2>" in html
    assert "score = 100 × (1 − Σ wᵢ·bᵢ / Σ wᵢ)" in html
    charts = re.findall(r"data-points='(\d+)'", html)
    assert len(charts) >= 10 and sum(map(int, charts)) > 100
    drifted = drifted_now(demo.store)
    assert drifted & set(DRIFTED), drifted
    table = html[html.index("<h2>Drifted features</h2>") : html.index("<h2>Performance trend")]
    for feature in drifted:
        assert f"<code>{feature}</code>" in table


def test_health_points_add_up_to_the_score(demo) -> None:
    report = build_report(demo.store, MODEL_NAME, period="week")
    html = render_html(report)
    assert report.health.score is not None
    section = html[html.index("<h2>Health score</h2>") : html.index("<h2>Drifted features")]
    lost = [float(x) for x in re.findall(r"<td>−([\d.]+)</td>", section)]
    assert 100 - sum(lost) == pytest.approx(report.health.score, abs=0.2)
    assert f">{report.health.score:.0f}</span>" in html


def test_recommendations_name_what_drifted(demo) -> None:
    report = build_report(demo.store, MODEL_NAME, period="week")
    texts = [r.text for r in report.recommendations]
    drifted = drifted_now(demo.store)
    first = report.recommendations[0]
    assert first.severity in ("retrain", "warning", "alert"), texts
    mentioned = {f for f in drifted if any(f in t for t in texts)}
    assert mentioned, texts


def test_size_does_not_grow_with_the_number_of_predictions(demo) -> None:
    store = demo.store
    before = render_html(build_report(store, MODEL_NAME, period="week"))
    middle = store.query_rows(
        "SELECT fromUnixTimestamp64Nano(toInt64((toUnixTimestamp64Nano(min(timestamp)) "
        "+ toUnixTimestamp64Nano(max(timestamp))) / 2)) FROM ml_predictions"
    )[0][0]
    rows = [
        [MODEL_NAME, "1", middle, f"bulk-{i}", "classification", "benign", 0.1, 0.002, 1, 0, 0]
        for i in range(20_000)
    ]
    store.insert(
        "ml_predictions",
        rows,
        [
            "model",
            "version",
            "timestamp",
            "prediction_id",
            "task",
            "prediction_label",
            "prediction_score",
            "latency_s",
            "batch_size",
            "row_index",
            "is_error",
        ],
    )
    after = render_html(build_report(store, MODEL_NAME, period="week"))
    assert len(before) < 400_000
    assert abs(len(after) - len(before)) < 0.01 * len(before)


def modeltel(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "MODELTEL_NO_PROGRESS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "modeltel.analyzer.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=cwd,
    )


@needs_renderers
def test_cli_writes_html_and_a_pdf_with_pages(demo, tmp_path: Path) -> None:
    html, pdf = tmp_path / "out" / "week.html", tmp_path / "week.pdf"
    done = modeltel(
        "report", MODEL_NAME, "--server", demo.url, "--out", str(html), "--pdf", str(pdf)
    )
    assert done.returncode == 0, done.stderr
    assert f"wrote {html}" in done.stdout and f"wrote {pdf}" in done.stdout
    assert html.read_text().startswith("<!doctype html>")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 3
    for png in pages:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (width, height) == (331, 468)  # A4 at 40 dpi
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    for words in ("Recommendations", "Health score", MODEL_NAME, "Drifted features"):
        assert words in text


def test_cli_errors_are_one_sentence(demo, tmp_path: Path) -> None:
    missing = modeltel("report", "nope", "--server", demo.url, cwd=tmp_path)
    assert missing.returncode == 4
    assert missing.stderr.strip().splitlines()[-1] == (
        "modeltel: error: no model named 'nope' has predictions, references or results"
    )
    bad_end = modeltel("report", MODEL_NAME, "--server", demo.url, "--end", "soon", cwd=tmp_path)
    assert bad_end.returncode == 2
    assert "--end 'soon' is not an ISO date" in bad_end.stderr
    assert not list(tmp_path.glob("*.html"))


def _records(windows: list[datetime], rows: list[dict]) -> list[dict]:
    out = []
    for start in windows:
        for row in rows:
            record = {
                "model": "churn",
                "version": "3",
                "window_start": start,
                "window_end": start + timedelta(days=1),
                **row,
            }
            if callable(record.get("value")):
                record["value"] = record["value"](start)
            if callable(record.get("status")):
                record["status"] = record["status"](start)
            out.append(record)
    return out


def test_recommendation_rules_on_known_records(store) -> None:
    days = [datetime(2026, 5, d, tzinfo=UTC) for d in (1, 2, 3, 4)]
    late = days[1:]

    def drift_status(feature: str):
        return lambda start: "drift" if start in late and feature != "tenure" else "ok"

    def accuracy(start: datetime) -> float:
        return {1: 0.91, 2: 0.78, 3: 0.74, 4: 0.7}[start.day]

    rows = [
        {
            "kind": "drift",
            "feature": f,
            "method": "psi",
            "value": 0.3,
            "threshold": 0.2,
            "status": drift_status(f),
        }
        for f in ("age", "income", "tenure")
    ]
    rows += [
        {
            "kind": "performance",
            "metric": "accuracy",
            "value": accuracy,
            "threshold": 0.8,
            "status": lambda s: "ok" if accuracy(s) >= 0.8 else "alert",
        },
        {"kind": "performance", "metric": "label_coverage", "value": 0.3, "status": "info"},
        {
            "kind": "quality",
            "feature": "income",
            "metric": "missing_ratio",
            "value": 0.12,
            "threshold": 0.05,
            "status": "alert",
        },
        {
            "kind": "service",
            "metric": "latency_p95",
            "value": lambda s: 0.4 if s.day == 4 else 0.05,
            "threshold": 0.25,
            "status": lambda s: "alert" if s.day == 4 else "ok",
        },
    ]
    write_results(store, make_results(_records(days, rows)))
    texts = [(r.severity, r.text) for r in recommendations(model_view(store, "churn", "3"))]
    assert texts[0] == (
        "retrain",
        "Retrain: 2 features drifted (age, income); accuracy fell below 0.8 in 3 of 4 windows "
        "(latest 0.7).",
    )
    assert (
        "alert",
        "Fix upstream data: income is missing in 12.0% of rows (threshold 5.0%).",
    ) in texts
    assert any(
        s == "warning" and t.startswith("Only 30.0% of the latest predictions") for s, t in texts
    )
    assert (
        "alert",
        "Latency p95 exceeded its threshold in 1 of 4 windows (worst 400 ms).",
    ) in texts


def test_nothing_wrong_means_no_action(store) -> None:
    days = [datetime(2026, 5, d, tzinfo=UTC) for d in (1, 2)]
    rows = [
        {
            "kind": "drift",
            "feature": "age",
            "method": "psi",
            "value": 0.01,
            "threshold": 0.2,
            "status": "ok",
        },
        {"kind": "performance", "metric": "f1", "value": 0.9, "threshold": 0.8, "status": "ok"},
    ]
    write_results(store, make_results(_records(days, rows)))
    (only,) = recommendations(model_view(store, "churn", "3"))
    assert only.severity == "ok" and only.text.startswith("No action needed")
