"""The report's "Segments" section (HTML and PDF), over predictions planted with numpy and
performance analysed per region (``performance.segment_by``): one region is bad."""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

from modeltel.analyzer.inputs.labels import upload_labels
from modeltel.analyzer.orchestration.analyzer import Analyzer
from modeltel.analyzer.report import build_report, html_to_pdf, render_html
from modeltel.analyzer.web.sections import num
from support.perfdata import HOUR, at, insert_features, insert_predictions

ERRORS = {"north": 0.1, "south": 0.45, "east": 0.22}
"""The share of wrong predictions per region: south is below the accuracy threshold."""
SIZES = {"north": 700, "south": 400, "east": 500}
CONFIG = {"performance": {"segment_by": ["region"], "thresholds": {"accuracy": 0.7}}}


def plant(store, model: str = "churn", seed: int = 5) -> None:
    """One hour of a binary classifier's predictions with a region each, all labelled, wrong
    at the rate of their region."""
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
    insert_features(store, model, "region", ids, times, texts=list(region), categorical=True)
    upload_labels(store, model, pd.DataFrame({"prediction_id": ids, "label": y}))


def stored(store, metric: str) -> dict[str, tuple[float, str, int]]:
    """Per segment, the stored realized (value, status, size) of ``metric``."""
    rows = store.query_rows(
        "SELECT segment, value, status, current_size FROM ml_results FINAL "
        "WHERE kind = 'performance' AND metric = {m:String} AND source = 'realized' "
        "AND segment != ''",
        parameters={"m": metric},
    )
    return {str(s): (float(v), str(st), int(n)) for s, v, st, n in rows}


def segment_rows(document: str, kind: str) -> tuple[list[str], list[tuple[bool, list[str]]]]:
    """The headers and (marked, cell texts) rows of the report's segment table of ``kind``."""
    found = re.search(rf"<table class='segments segments-{kind}'>(.*?)</table>", document)
    assert found, f"no segment table of {kind}"
    text = found.group(1)

    def clean(cell: str) -> str:
        return html.unescape(re.sub("<[^>]+>", "", cell)).strip()

    headers = [clean(h) for h in re.findall("<th>(.*?)</th>", text)]
    rows = [
        (marked == "segment-bad", [clean(c) for c in re.findall("<td>(.*?)</td>", cells)])
        for marked, cells in re.findall(r"<tr(?: class='([^']*)')?>(.*?)</tr>", text)
        if "<td>" in cells
    ]
    return headers, rows


def test_the_bad_segment_comes_first_with_its_stored_value(store, tmp_path: Path) -> None:
    plant(store)
    Analyzer(store, CONFIG).performance("churn", "1", window=HOUR)
    accuracy = stored(store, "accuracy")
    coverage = stored(store, "label_coverage")
    assert accuracy["region=south"][1] == "alert"
    assert {s for s, (_, status, _) in accuracy.items() if status == "alert"} == {"region=south"}

    document = render_html(build_report(store, "churn", period="week"))
    assert "<h2 id='segments'>Segments</h2>" in document
    headers, rows = segment_rows(document, "performance")
    assert headers[:3] == ["segment", "predictions", "accuracy"] and headers[-1] == "status"
    # worst first: the alert, then the ok ones by accuracy, lowest first
    ok = sorted((s for s in accuracy if s != "region=south"), key=lambda s: accuracy[s][0])
    assert [cells[0] for _, cells in rows] == ["▲ region=south", *ok]
    assert [marked for marked, _ in rows] == [True, False, False]
    for _, cells in rows:
        segment = cells[0].removeprefix("▲ ")
        value, status, _ = accuracy[segment]
        assert cells[1] == f"{coverage[segment][2]:,}" == f"{SIZES[segment[7:]]:,}"
        assert cells[2] == num(value)
        assert cells[-1] == status

    # the PDF prints the same section (the suite's set-up installs chromium and pdftotext)
    page = tmp_path / "report.html"
    page.write_text(document, encoding="utf-8")
    pdf = html_to_pdf(page, tmp_path / "report.pdf")
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Segments" in text
    lines = text[text.index("Segments") :].splitlines()
    named = [next(i for i, line in enumerate(lines) if s in line) for s in ("region=south", *ok)]
    assert named == sorted(named)
    south = lines[named[0]].split()
    size, value = f"{SIZES['south']:,}", num(accuracy["region=south"][0])
    assert south[:4] == ["▲", "region=south", size, value]
    assert south[-1] == "alert"


def test_no_segments_section_without_segments(store) -> None:
    plant(store)
    Analyzer(store).performance("churn", "1", window=HOUR)
    assert stored(store, "accuracy") == {}
    document = render_html(build_report(store, "churn", period="week"))
    assert "id='segments'" not in document and "segments-performance" not in document
