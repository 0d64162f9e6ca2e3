"""HTML sections of the whole-model analyses, shared by the web page and the reports:
multivariate drift with its outlier predictions, and feature attributions.

Like :mod:`.sections`: each function takes a :class:`ModelView` and returns an HTML fragment
(escaped text, inline SVG), no scripts.
"""

from __future__ import annotations

from html import escape
from typing import Any

from modeltel.analyzer.web import charts
from modeltel.analyzer.web.data import ModelView, _details
from modeltel.analyzer.web.sections import (
    badge,
    facts_list,
    grid,
    num,
    pct,
    table,
    window_text,
)


def _latest(view: ModelView, kind: str, metric: str) -> dict[str, Any] | None:
    found = [r for r in view.latest.get(kind, []) if r["metric"] == metric and not r["feature"]]
    return found[0] if found else None


def multivariate_section(view: ModelView, *, worst: int = 10) -> str:
    """Reconstruction error against its band over time, the outlier share, the worst ids."""
    errors = view.of("multivariate", metric="reconstruction_error")
    if not errors:
        return (
            "<p class='empty'>No multivariate drift results yet (it needs a reference with at "
            "least two numerical features).</p>"
        )
    error = _latest(view, "multivariate", "reconstruction_error")
    ratio = _latest(view, "multivariate", "outlier_ratio")
    details = _details(error["details"]) if error else {}
    facts = []
    if error is not None:
        band = f"{num(details.get('lower'))} – {num(details.get('upper'))}"
        facts += [
            ("mean reconstruction error", f"{num(error['value'])} {badge(error['status'])}"),
            ("reference band", band),
            (
                "components",
                f"{details.get('components', '—')} of {len(details.get('features', []))} "
                f"features ({pct(details.get('explained_variance'))} of the variance)",
            ),
        ]
    if ratio is not None:
        facts.append(("outlier predictions", f"{pct(ratio['value'])} {badge(ratio['status'])}"))
    lines = charts.line_chart(
        [
            charts.Series("mean error", [(r["window_end"], r["value"]) for r in errors]),
            charts.Series(
                "upper threshold",
                [(r["window_end"], r["threshold"]) for r in errors],
                dashed=True,
                color=charts.THRESHOLD_COLOR,
            ),
        ],
        title="PCA reconstruction error per window",
    )
    ratios = view.of("multivariate", metric="outlier_ratio")
    shares = charts.line_chart(
        [charts.Series("outlier share", [(r["window_end"], r["value"]) for r in ratios])],
        title="share of outlier predictions",
        threshold=ratios[-1]["threshold"] if ratios else None,
        y_min=0,
    )
    rows = []
    for item in (_details(ratio["details"]).get("worst") or [])[:worst] if ratio else []:
        rows.append([f"<code>{escape(str(item.get('prediction_id')))}</code>", num(item["error"])])
    listing = (
        "<h4>Worst predictions of the latest window</h4>"
        + table(["prediction id", "reconstruction error"], rows, "outliers")
        + "<p class='muted'>the features behind each: <code>modeltel outliers "
        f"{escape(view.model)} --method multivariate</code></p>"
        if rows
        else ""
    )
    note = f"<p class='muted'>{window_text(view.latest.get('multivariate', []))}</p>"
    captions = [
        (
            lines,
            "The mean error of rebuilding each window's inputs from the reference's principal "
            "components; above the red upper threshold the features' joint distribution has "
            "moved, even when each feature alone looks unchanged.",
        ),
        (
            shares,
            "The share of predictions whose own reconstruction error is beyond the reference's, "
            "per window; above the red line too many inputs are unusual combinations.",
        ),
    ]
    return note + facts_list(facts) + grid(captions) + listing


def attribution_section(view: ModelView, *, top: int = 12) -> str:
    """Feature importances (mean |attribution|) now and in the reference period, the ranking's
    agreement over time."""
    importances = [
        r
        for r in view.latest.get("attribution", [])
        if r["metric"] == "importance" and r["feature"]
    ]
    if not importances:
        return (
            "<p class='empty'>No feature attributions yet: record them with "
            "<code>monitor(..., explainer=…)</code> or <code>attributions(…)</code>.</p>"
        )
    importances.sort(key=lambda r: -(r["value"] or 0.0))
    rho = _latest(view, "attribution", "rank_correlation")
    overlap = _latest(view, "attribution", "top_k_overlap")
    facts = []
    if rho is not None:
        facts.append(
            ("rank correlation with the reference", f"{num(rho['value'])} {badge(rho['status'])}")
        )
    if overlap is not None:
        k = _details(overlap["details"]).get("k")
        facts.append((f"top-{k} overlap", f"{pct(overlap['value'])} {badge(overlap['status'])}"))
    rows = []
    for r in importances[:top]:
        d = _details(r["details"])
        rows.append(
            [
                f"<code>{escape(str(r['feature']))}</code>",
                num(r["value"]),
                num(d.get("rank")),
                num(d.get("reference_importance")),
                num(d.get("reference_rank")),
            ]
        )
    bars = charts.bar_chart(
        [(str(r["feature"]), float(r["value"] or 0.0)) for r in importances[:top]],
        title="mean |attribution| (latest window)",
        as_percent=False,
    )
    history = view.of("attribution", metric="rank_correlation")
    agreement = charts.line_chart(
        [charts.Series("rank correlation", [(r["window_end"], r["value"]) for r in history])],
        title="ranking vs the reference period",
        threshold=history[-1]["threshold"] if history else None,
        y_min=-1,
        y_max=1,
    )
    headers = ["feature", "importance", "rank", "reference importance", "reference rank"]
    note = f"<p class='muted'>{window_text(view.latest.get('attribution', []))}</p>"
    captions = [
        (bars, "Mean absolute attribution per feature in the latest window, largest first."),
        (
            agreement,
            "Spearman rank correlation between each window's feature ranking and the reference "
            "period's (1: same order); below the red line the model relies on other features.",
        ),
    ]
    return note + facts_list(facts) + table(headers, rows, "attribution") + grid(captions)
