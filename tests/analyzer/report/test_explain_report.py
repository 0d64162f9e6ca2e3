"""The health report's "What changed" section and recommendation, over predictions and labels
planted with numpy (``support.explain``) and the real performance analysis of both hours."""

from __future__ import annotations

import shutil
import subprocess
from html import escape
from pathlib import Path

import numpy as np
import pytest

from modeltel.analyzer.orchestration.analyzer import Analyzer
from modeltel.analyzer.orchestration.explain import explain
from modeltel.analyzer.report import build_report, html_to_pdf, render_html
from support.drift import write_production
from support.explain import AFTER, BEFORE, MODEL, plant


def _analysed(store, cause: str):
    hours = plant(store, cause)
    analyzer = Analyzer(store)
    for window in (BEFORE, AFTER):
        analyzer.performance(MODEL, "1", window=window)
    return hours


def _section(html: str) -> str:
    start = html.index("<h2 id='explain'>What changed</h2>")
    return html[start : html.index("<h2>Health score</h2>", start)]


def test_the_report_names_the_clinic_whose_labels_flipped(store) -> None:
    _analysed(store, "flip")
    expected = explain(store, MODEL, "1", BEFORE, AFTER)
    report = build_report(store, MODEL, period="week")
    assert report.end == AFTER.end  # the latest analysed window ends the period
    assert report.explanation is not None
    assert report.explanation.to_dict() == expected.to_dict()
    section = _section(render_html(report))
    assert f"<span class='explain-summary'>{escape(expected.summary())}</span>" in section
    rows = section.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert len(rows) == 5
    assert rows[0].startswith("<td><code>clinic=east</code></td>")
    for row, s in zip(rows, expected.slices, strict=False):
        assert f"<code>{escape(s.name)}</code>" in row
    # the recommendation is the explanation's own sentence, naming the slice
    (said,) = [r for r in report.recommendations if expected.summary() in r.text]
    assert said.severity == "warning"
    assert "of the fall is clinic=east" in said.text
    assert "Look at clinic=east first" in said.text


def test_unchanged_traffic_has_no_recommendation_and_one_line(store) -> None:
    _analysed(store, "none")
    report = build_report(store, MODEL, period="week")
    assert report.explanation is not None and not report.explanation.material
    summary = report.explanation.summary()
    assert summary.startswith("accuracy did not change materially")
    section = _section(render_html(report))
    assert escape(summary) in section and "<table" not in section
    assert not any("did not change" in r.text for r in report.recommendations)
    assert not any("clinic=" in r.text for r in report.recommendations)


def test_without_labels_the_report_says_why(store) -> None:
    rng = np.random.default_rng(3)
    n = 200
    write_production(
        store,
        "unlabelled",
        "1",
        {"clinic": rng.choice(["east", "west"], n).tolist()},
        categorical=["clinic"],
        labels=rng.choice(["urgent", "routine"], n).tolist(),
        start=BEFORE.start,
        step=(AFTER.end - BEFORE.start) / n,
    )
    report = build_report(store, "unlabelled", period="week", end=AFTER.end)
    assert report.explanation is None
    assert "(it needs labels)" in report.explanation_error
    section = _section(render_html(report))
    assert f"<p class='muted explain-reason'>{escape(report.explanation_error)}</p>" in section


@pytest.mark.skipif(
    shutil.which("chromium") is None or shutil.which("pdftotext") is None,
    reason="needs chromium and poppler-utils (apt-get)",
)
def test_the_pdf_has_the_section(store, tmp_path: Path) -> None:
    _analysed(store, "flip")
    html = tmp_path / "report.html"
    html.write_text(render_html(build_report(store, MODEL, period="week")))
    pdf = html_to_pdf(html, tmp_path / "report.pdf")
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "What changed" in text
    assert "clinic=east" in text
