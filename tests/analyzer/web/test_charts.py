"""Charts people read: p-values on a log scale with the drift band beneath the threshold,
distance scores with the band above it, drifted windows marked, one small chart per feature
when there are many, and a caption under every chart."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from modeltel.analyzer.web import charts
from modeltel.analyzer.web.data import ModelView
from modeltel.analyzer.web.sections import SMALL_MULTIPLES_ABOVE, drift_charts

T0 = datetime(2026, 5, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _view(method: str, features: int, windows: int = 24) -> ModelView:
    records = []
    for k in range(windows):
        for f in range(features):
            drifted = f == 0 and k >= windows - 3  # the first feature drifts at the end
            pvalue = method == "ks"
            value = (1e-9 if drifted else 0.4) if pvalue else (0.5 if drifted else 0.02)
            records.append(
                {
                    "kind": "drift",
                    "feature": f"f{f:02d}",
                    "method": method,
                    "metric": "",
                    "value": value,
                    "threshold": 0.05 if pvalue else 0.2,
                    "status": "drift" if drifted else "ok",
                    "window_start": T0 + k * HOUR,
                    "window_end": T0 + (k + 1) * HOUR,
                }
            )
    return ModelView("m", "1", ["1"], None, None, records, {}, {})


def _ticks(svg: str) -> list[str]:
    return re.findall(
        r"<text x='46' y='[\d.]+' text-anchor='end' fill='#6b7280'>([^<]+)</text>", svg
    )


def test_p_values_are_drawn_on_a_log_scale_with_the_band_below_the_threshold() -> None:
    points = [(T0 + k * HOUR, v) for k, v in enumerate([0.5, 0.04, 1e-6, 0.0])]
    svg = charts.line_chart(
        [charts.Series("age", points, marked=[T0 + 2 * HOUR, T0 + 3 * HOUR])],
        threshold=0.05,
        log_y=True,
        band=(None, 0.05),
    )
    ticks = _ticks(svg)
    assert ticks[-1] == "1" and ticks[0] == "1e-12"  # a p-value of 0 sits at the floor
    band = re.search(r"<rect class='band' x='\d+' y='([\d.]+)' width='\d+' height='([\d.]+)'", svg)
    line = re.search(r"<line class='threshold' x1='\d+' x2='\d+' y1='([\d.]+)'", svg)
    assert band and line
    assert abs(float(band.group(1)) - float(line.group(1))) < 0.2  # the band starts at 0.05
    assert float(band.group(2)) > 0
    assert "data-drifted='2'" in svg and svg.count("class='mark'") == 2


def test_distance_scores_shade_the_band_above_the_threshold() -> None:
    points = [(T0 + k * HOUR, v) for k, v in enumerate([0.01, 0.05, 0.3])]
    svg = charts.line_chart(
        [charts.Series("psi", points)], threshold=0.2, band=(0.2, None), y_min=0
    )
    band = re.search(r"<rect class='band' x='\d+' y='([\d.]+)' width='\d+' height='([\d.]+)'", svg)
    line = re.search(r"<line class='threshold' x1='\d+' x2='\d+' y1='([\d.]+)'", svg)
    assert band and line
    top, height = float(band.group(1)), float(band.group(2))
    assert abs(top + height - float(line.group(1))) < 0.2  # from the top down to 0.2
    assert "data-drifted='0'" in svg


def test_many_features_get_one_small_chart_each_most_drifted_first() -> None:
    html = drift_charts(_view("ks", SMALL_MULTIPLES_ABOVE + 4))
    smalls = re.findall(r"<svg class='chart chart-line'[^>]*aria-label='([^']*)'", html)
    assert len(smalls) == SMALL_MULTIPLES_ABOVE + 4
    assert smalls[0] == "f00"  # the drifted feature first
    assert "class='charts small-multiples'" in html
    assert "log scale" in html and "red dots mark drifted windows" in html
    assert html.count("class='mark'") == 3


def test_few_features_share_one_chart_with_its_caption() -> None:
    html = drift_charts(_view("psi", 3))
    assert "small-multiples" not in html
    assert len(re.findall(r"<svg class='chart chart-line'", html)) == 1
    caption = re.search(r"<figcaption class='caption'>([^<]+)</figcaption>", html)
    assert caption and "psi score per window" in caption.group(1)
    assert "at or above the red line (0.2)" in caption.group(1)
