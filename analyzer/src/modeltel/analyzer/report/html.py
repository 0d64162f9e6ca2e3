"""Render a :class:`Report` as one self-contained HTML file.

The CSS is inlined and every chart is inline SVG, so the file opens offline, mails well and
prints to PDF as it looks. No scripts.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from modeltel.analyzer.analyses import ANALYSES
from modeltel.analyzer.base.results import BAD, Status
from modeltel.analyzer.orchestration import health as health_module
from modeltel.analyzer.report.build import Report
from modeltel.analyzer.report.segments import segments_html
from modeltel.analyzer.web import charts, fairness_sections, model_sections, sections
from modeltel.analyzer.web.data import ModelView, metric_spec
from modeltel.analyzer.web.explain_section import HEADING as EXPLAIN_HEADING
from modeltel.analyzer.web.explain_section import explanation_html
from modeltel.analyzer.web.page import asset
from modeltel.analyzer.web.sections import badge, health_badge, num, pct, table, when

SEVERITY_BADGE = {"retrain": "alert", "alert": "alert", "warning": "warning", "ok": "ok"}


def _summary(report: Report) -> str:
    h = report.health
    flag = (
        badge("alert", "retraining recommended")
        if report.retrain
        else badge("ok", "no retraining needed")
    )
    facts = [
        ("predictions in period", num(report.predictions)),
        (
            "labelled",
            f"{num(report.labels)} ({pct(report.labels / report.predictions)})"
            if report.predictions
            else num(report.labels),
        ),
        ("features drifted now", f"{len(report.drifted_now)} of {len(report.drift) or '—'}"),
        ("verdicts from data up to", when(report.judged_until)),
        ("last prediction", when(report.last_prediction)),
        ("last analysed window", when(report.view.summary.get("last_analyzed"))),
    ]
    big = health_badge(h.score, h.status, big=True)
    return (
        f"<div class='summary'><div>{big}<div class='muted'>health score</div></div>"
        f"<div>{flag}<p class='muted'>{escape(h.status.replace('_', ' '))} — "
        f"{'; '.join(escape(r) for r in h.reasons) or 'no problem in the latest windows'}"
        f"</p></div>{sections.facts_list(facts)}</div>"
    )


def _recommendations(report: Report) -> str:
    items = "".join(
        f"<li class='{escape(r.severity)}'>"
        f"{badge(SEVERITY_BADGE.get(r.severity, 'info'), r.severity)} {escape(r.text)}</li>"
        for r in report.recommendations
    )
    return f"<ul class='recommend'>{items}</ul>"


def _health(report: Report) -> str:
    h = report.health
    total = sum(health_module.WEIGHTS[k] for k in h.components) or 1.0
    rows = []
    for name, weight in health_module.WEIGHTS.items():
        if name in h.components:
            badness = h.components[name]
            lost = 100.0 * weight * badness / total
            rows.append((escape(name), num(weight), num(badness), f"−{lost:.1f}"))
        else:
            rows.append((escape(name), num(weight), "no results", "left out"))
    formula = (
        "<p>score = 100 × (1 − Σ wᵢ·bᵢ / Σ wᵢ) over the components with results. Each "
        "component's badness bᵢ ∈ [0, 1] comes from the statuses of its latest results "
        "(ok 0, warning 0.5, drift/alert 1): <b>drift</b> — the share of input features "
        "drifted (at least 0.5 when the predictions drifted); <b>performance</b> — the worst "
        "realized metric (estimated when no labels); <b>service</b> — the worst of latency, "
        "error ratio, volume and staleness; <b>quality</b> — the mean over features of their "
        f"worst quality status. ok from {num(health_module.OK_FROM)}, warning from "
        f"{num(health_module.WARNING_FROM)}, alert below.</p>"
    )
    return (
        formula
        + table(["component", "weight wᵢ", "badness bᵢ", "points lost"], rows, "health-table")
        + sections.grid([sections.health_chart(report.view)])
    )


def _drift(report: Report) -> str:
    if not report.drift:
        return "<p class='empty'>No drift results in this period.</p>"
    latest = {str(r["feature"]): r for r in report.view.drift_table()}
    rows = []
    ordered = sorted(report.drift.items(), key=lambda kv: (-kv[1][0], kv[0]))
    for feature, (bad, total) in ordered:
        r = latest.get(feature)
        scores = [
            x["value"]
            for x in report.view.of("drift", feature=feature)
            if r is not None and x["method"] == r["method"] and x["value"] is not None
        ]
        hist = report.view.histograms.get(feature) if bad else None  # drifted ones only
        chart = (
            charts.histogram_chart(hist["labels"], hist["reference"], hist["current"])
            if hist
            else "—"
        )
        lower_is_worse = r is not None and metric_spec("drift", r["method"]).higher_is_better
        worst = (min(scores) if lower_is_worse else max(scores)) if scores else None
        rows.append(
            (
                f"<code>{escape(feature)}</code>",
                f"{bad} of {total}",
                escape(r["method"]) if r else "—",
                sections.drift_score_text(r) if r else "—",
                num(worst),
                badge(r["status"]) if r else "—",
                f"<div class='hist'>{chart}</div>",
            )
        )
    return (
        "<p class='legend'>Windows drifted over the period, the latest score and the worst one; "
        "for the features that drifted, histograms compare the reference "
        "(<span class='swatch ref'></span>) with the latest window "
        "(<span class='swatch cur'></span>).</p>"
        + table(
            ["feature", "windows drifted", "method", "latest", "worst", "status", "histogram"],
            rows,
            "drift",
        )
        + sections.drift_charts(report.view)
    )


def _performance(report: Report) -> str:
    view = report.view
    rows = []
    for metric in view.performance_metrics():
        for source in ("realized", "estimated"):
            rs = [
                r
                for r in view.of("performance", metric=metric, source=source)
                if r["value"] is not None
            ]
            if not rs:
                continue
            values = [float(r["value"]) for r in rs]
            bad = sum(r["status"] in BAD | {Status.WARNING} for r in rs)
            thresholds = [r["threshold"] for r in rs if r["threshold"] is not None]
            trend = sections.change(metric_spec("performance", metric), values[0], values[-1])
            rows.append(
                (
                    escape(metric),
                    escape(source),
                    num(values[0]),
                    num(values[-1]),
                    f"{num(min(values))} – {num(max(values))}",
                    num(thresholds[-1]) if thresholds else "—",
                    f"{bad} of {len(rs)}",
                    trend,
                )
            )
    summary = (
        table(
            [
                "metric",
                "source",
                "first",
                "last",
                "range",
                "threshold",
                "windows breached",
                "trend",
            ],
            rows,
            "performance",
        )
        if rows
        else "<p class='empty'>No performance results in this period (no labels yet?).</p>"
    )
    return (
        summary
        + sections.performance_charts(view)
        + "<h3>Labels</h3>"
        + sections.label_section(view)
    )


def _segments(report: Report) -> str:
    """The "Segments" section, when some analysis is split into segments."""
    drawn = segments_html(report.view)
    if not drawn:
        return ""
    return (
        "<h2 id='segments'>Segments</h2><p class='legend'>Per analysis split by "
        "<code>segment_by</code>, its segments in the latest window, worst first; ▲ marks "
        "the segments in alert or drift.</p>" + drawn
    )


def _of_view(draw: Callable[[ModelView], str]) -> Callable[[Report], str]:
    return lambda report: draw(report.view)


SECTIONS: dict[str, tuple[str, Callable[[Report], str]]] = {
    "drift": ("Drifted features", _drift),
    "performance": ("Performance trend", _performance),
    "service": ("Service health", _of_view(sections.service_section)),
    "quality": ("Data quality", _of_view(sections.quality_section)),
    "attribution": ("Feature attributions", _of_view(model_sections.attribution_section)),
    "multivariate": (
        "Multivariate drift and outlier predictions",
        _of_view(model_sections.multivariate_section),
    ),
    "custom": ("Custom metrics", _of_view(fairness_sections.custom_section)),
    "fairness": ("Fairness between groups", _of_view(fairness_sections.fairness_section)),
}
"""How the report draws the analyses it knows (heading, section); any other registered
analysis gets its title and :func:`~modeltel.analyzer.web.sections.analysis_section`."""


def _analyses(report: Report) -> list[str]:
    """A heading and a section per registered analysis, in registry order."""
    out = []
    for kind, analysis in ANALYSES.items():
        heading, draw = SECTIONS.get(kind, (analysis.title, None))
        out.append(f"<h2>{escape(heading)}</h2>")
        out.append(draw(report) if draw else sections.analysis_section(report.view, analysis))
    return out


def render_html(report: Report) -> str:
    """The whole report as one HTML document."""
    title = f"{report.model} {report.version} — {report.period}ly health report"
    parts: list[Any] = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title><link rel='icon' href='data:,'>",
        f"<style>{asset('modeltel.css')}",
        "main{max-width:1000px} .charts{grid-template-columns:repeat(auto-fit,minmax(420px,1fr))}",
        "@page{size:A4;margin:12mm}</style></head><body>",
        "<header class='top'><span class='brand'>modeltel</span>",
        "<span>model health report</span><span class='status'>generated ",
        f"{when(report.generated_at)}</span></header><main>",
        f"<h1>{escape(report.model)} <span class='muted'>version ",
        f"{escape(report.version)}</span></h1><p class='muted'>{escape(report.period)} from ",
        f"{when(report.start)} to {when(report.end)}</p>",
        _summary(report),
        "<h2>Recommendations</h2>",
        _recommendations(report),
        f"<h2 id='explain'>{EXPLAIN_HEADING}</h2>",
        explanation_html(report.explanation, report.explanation_error),
        "<h2>Health score</h2>",
        _health(report),
        _segments(report),
        *_analyses(report),
        "<footer>Numbers from <code>ml_results</code>; reproduce them with "
        f'<code>modeltel sql "SELECT window_start, kind, feature, method, metric, value, status '
        f"FROM ml_results FINAL WHERE model = '{escape(report.model)}' AND version = "
        f"'{escape(report.version)}' ORDER BY window_start\"</code>.</footer>",
        "</main></body></html>",
    ]
    return "".join(parts)
