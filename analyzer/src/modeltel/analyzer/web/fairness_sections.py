"""HTML sections of the custom metrics and of fairness, shared by the web page and the reports.

- :func:`custom_section` — the latest window's custom metrics (value, bounds, status,
  description) and each metric over time against its bounds;
- :func:`fairness_section` — per protected attribute (those with an alert first), the latest
  window's summary metrics against their thresholds, its groups' rates, the groups left out
  and the summaries over time.

Like :mod:`.sections`: each function takes a :class:`ModelView` and returns an HTML fragment
(escaped text, inline SVG), no scripts. Every chart carries a one-line caption (``p.caption``)
saying how to read it.
"""

from __future__ import annotations

from html import escape
from typing import Any

from modeltel.analyzer.analyses.fairness import LOWER_IS_WORSE, SUMMARY_METRICS
from modeltel.analyzer.base.results import severity
from modeltel.analyzer.web import charts
from modeltel.analyzer.web.data import ModelView, _details
from modeltel.analyzer.web.sections import Chart, badge, grid, num, table, window_text

CUSTOM = "custom"
FAIRNESS = "fairness"
DIFFERENCES = tuple(m for m in SUMMARY_METRICS if m not in LOWER_IS_WORSE)


def _points(records: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    return [(r["window_end"], r["value"]) for r in records]


def words(metric: str) -> str:
    """``disparate_impact_ratio`` → ``disparate impact ratio``."""
    return metric.replace("_", " ")


# -- custom metrics --------------------------------------------------------------------------


def bounds_text(details: dict[str, Any]) -> str:
    """``≥ 0.3``, ``≤ 5``, ``0.3 – 0.5`` or ``—`` from a custom record's details."""
    low, high = details.get("min"), details.get("max")
    if low is not None and high is not None:
        return f"{num(low)} – {num(high)}"
    if low is not None:
        return f"≥ {num(low)}"
    if high is not None:
        return f"≤ {num(high)}"
    return "—"


def _custom_caption(details: dict[str, Any]) -> str:
    low, high = details.get("min"), details.get("max")
    if low is not None and high is not None:
        return f"value per window; alert outside the dashed bounds {num(low)} and {num(high)}"
    if low is not None:
        return f"value per window; alert when the line falls below the dashed minimum {num(low)}"
    if high is not None:
        return f"value per window; alert when the line rises above the dashed maximum {num(high)}"
    return "value per window; no bounds configured, so it never alerts"


def custom_section(view: ModelView, *, max_charts: int = 12) -> str:
    """The latest window's custom metrics as a table, each metric over time, then the latest
    window per segment (when ``segment_by`` is configured)."""
    every = view.latest.get(CUSTOM, [])
    latest = [r for r in every if not r.get("segment")]
    if not every:
        return (
            "<p class='empty'>No custom metrics yet: define them in the "
            "<code>custom_metrics</code> section of the configuration (one SQL aggregate "
            "each).</p>"
        )
    rows: list[tuple[str, ...]] = []
    lines: list[Chart] = []
    for r in latest:
        d = _details(r["details"])
        about = escape(str(d.get("description") or ""))
        if d.get("reason"):
            about += f" <span class='muted'>({escape(str(d['reason']))})</span>"
        rows.append(
            (
                f"<code>{escape(str(r['metric']))}</code>",
                num(r["value"]),
                bounds_text(d),
                badge(r["status"]),
                about.strip() or "—",
            )
        )
    for r in latest[:max_charts]:
        d = _details(r["details"])
        history = [h for h in view.of(CUSTOM, metric=r["metric"]) if not h.get("segment")]
        series = [charts.Series(str(r["metric"]), _points(history))]
        if d.get("min") is not None and d.get("max") is not None:
            points = [(r["window_end"], d["max"]) for r in history]
            series.append(charts.Series("max", points, charts.THRESHOLD_COLOR, dashed=True))
        chart = charts.line_chart(
            series, title=str(r["metric"]), threshold=r["threshold"], empty_message="no values yet"
        )
        lines.append((chart, _custom_caption(d)))
    note = f"<p class='muted'>{window_text(every)}</p>"
    headers = ["metric", "value", "bounds", "status", "description"]
    return note + table(headers, rows, "custom") + grid(lines) + _custom_segments(every)


def _custom_segments(latest: list[dict[str, Any]]) -> str:
    """The latest window's metrics per segment: one row per segment, one column per metric."""
    segmented = [r for r in latest if r.get("segment")]
    if not segmented:
        return ""
    metrics = list(dict.fromkeys(str(r["metric"]) for r in segmented))
    by_segment: dict[str, dict[str, dict[str, Any]]] = {}
    for r in segmented:
        by_segment.setdefault(str(r["segment"]), {})[str(r["metric"])] = r
    rows: list[tuple[str, ...]] = []
    for segment, found in sorted(by_segment.items(), key=lambda s: -_size(s[1])):
        cells = [f"<code>{escape(segment)}</code>", f"{_size(found):,}"]
        for metric in metrics:
            r = found.get(metric)
            cells.append("—" if r is None else f"{num(r['value'])} {badge(r['status'])}")
        rows.append(tuple(cells))
    headers = ["segment", "predictions", *metrics]
    return "<h3>Per segment</h3>" + table(headers, rows, "custom-segments")


def _size(found: dict[str, dict[str, Any]]) -> int:
    return max(int(r.get("current_size") or 0) for r in found.values())


# -- fairness --------------------------------------------------------------------------------


def _group(record: dict[str, Any]) -> str:
    group = _details(record["details"]).get("group")
    return str(group) if group is not None else str(record["segment"]).partition("=")[2]


def _rule(metric: str, threshold: Any) -> str:
    if threshold is None:
        return "—"
    return f"{'&lt;' if metric in LOWER_IS_WORSE else '&gt;'} {num(threshold)}"


def _extremes(groups: dict[str, dict[str, Any]], rate: str) -> str:
    """``f 0.46 → m 0.6``: the groups with the lowest and highest ``rate``."""
    known = [(g, r[rate]) for g, r in groups.items() if r.get(rate) is not None]
    if len(known) < 2:
        return "—"
    low = min(known, key=lambda gv: (gv[1], gv[0]))
    high = max(known, key=lambda gv: (gv[1], gv[0]))
    return f"{escape(low[0])} {num(low[1])} → {escape(high[0])} {num(high[1])}"


SUMMARY_RATE = {
    "statistical_parity_difference": "selection_rate",
    "disparate_impact_ratio": "selection_rate",
    "equal_opportunity_difference": "true_positive_rate",
    "equalized_odds_difference": "true_positive_rate",
}
"""The group rate each summary metric compares (equalized odds: also the false positive rate)."""


def _summary_table(summaries: dict[str, dict[str, Any]]) -> str:
    rows = []
    for metric in SUMMARY_METRICS:
        r = summaries.get(metric)
        if r is None:
            continue
        d = _details(r["details"])
        groups = d.get("groups") or {}
        between = _extremes(groups, SUMMARY_RATE[metric])
        if metric == "equalized_odds_difference":
            between = f"TPR {between}; FPR {_extremes(groups, 'false_positive_rate')}"
        if r["value"] is None and d.get("reason"):
            between = f"<span class='muted'>{escape(str(d['reason']))}</span>"
        rows.append(
            (
                escape(words(metric)),
                num(r["value"]),
                _rule(metric, r["threshold"]),
                badge(r["status"]),
                between,
            )
        )
    return table(
        ["metric", "value", "alert when", "status", "lowest → highest group"],
        rows,
        "fairness-summary",
    )


GROUP_COLUMNS = (
    ("selection_rate", "selection rate"),
    ("true_positive_rate", "TPR"),
    ("false_positive_rate", "FPR"),
    ("accuracy", "accuracy"),
)


def _group_table(records: list[dict[str, Any]], reference: str | None) -> str:
    groups: dict[str, dict[str, Any]] = {}
    for r in records:
        row = groups.setdefault(_group(r), {})
        row[r["metric"]] = r["value"]
        d = _details(r["details"])
        if "n" in d:
            row["n"], row["labelled"] = d["n"], d.get("labelled")
    with_reference = any("selection_rate_ratio" in row for row in groups.values())
    headers = ["group", "predictions", "labelled", *(title for _, title in GROUP_COLUMNS)]
    if with_reference:
        headers += [f"difference vs {reference}", f"ratio vs {reference}"]
    body = []
    for name, row in sorted(groups.items(), key=lambda kv: (-(kv[1].get("n") or 0), kv[0])):
        label = f"<code>{escape(name)}</code>" + (" (reference)" if name == reference else "")
        cells = [label, num(row.get("n")), num(row.get("labelled"))]
        cells += [num(row.get(metric)) for metric, _ in GROUP_COLUMNS]
        if with_reference:
            cells += [
                num(row.get("selection_rate_difference")),
                num(row.get("selection_rate_ratio")),
            ]
        body.append(cells)
    return table(headers, body, "fairness-groups")


def _left_out(summary: dict[str, Any] | None) -> str:
    d = _details(summary["details"]) if summary else {}
    items = [
        f"<li><code>{escape(str(g))}</code>: {escape(str(why))}</li>"
        for g, why in (d.get("left_out") or {}).items()
    ]
    if d.get("missing_or_outside_bins"):
        items.append(
            f"<li>{num(d['missing_or_outside_bins'])} predictions without a value "
            "(or outside the bins)</li>"
        )
    if not items:
        return ""
    return f"<p>Left out:</p><ul class='fairness-left-out'>{''.join(items)}</ul>"


def _trend(view: ModelView, attribute: str) -> str:
    history = [r for r in view.of(FAIRNESS, feature=attribute) if not r["segment"]]
    by_metric = {m: [r for r in history if r["metric"] == m] for m in SUMMARY_METRICS}
    limits = {r["threshold"] for m in DIFFERENCES for r in by_metric[m][-1:]} - {None}
    series = [charts.Series(words(m), _points(by_metric[m])) for m in DIFFERENCES]
    shared = limits.pop() if len(limits) == 1 else None
    if shared is None:  # differing thresholds: each its own dashed line
        for i, m in enumerate(DIFFERENCES):
            last = by_metric[m][-1]["threshold"] if by_metric[m] else None
            if last is not None:
                points = [(r["window_end"], last) for r in by_metric[m]]
                series.append(charts.Series(f"{words(m)} limit", points, charts.PALETTE[i], True))
    differences = charts.line_chart(
        series, title=f"{attribute}: gaps between groups", threshold=shared, y_min=0
    )
    ratio = by_metric["disparate_impact_ratio"]
    impact = charts.line_chart(
        [charts.Series("disparate impact ratio", _points(ratio))],
        title=f"{attribute}: disparate impact ratio",
        threshold=ratio[-1]["threshold"] if ratio else None,
        y_min=0,
        y_max=1,
    )
    return grid(
        [
            (
                differences,
                "largest gap in selection, true and false positive rates between groups per "
                "window; 0 is parity, alert above the dashed threshold",
            ),
            (
                impact,
                "lowest group selection rate divided by the highest per window; 1 is parity, "
                "alert below the dashed threshold (four-fifths rule at 0.8)",
            ),
        ]
    )


def fairness_section(view: ModelView) -> str:
    """Per protected attribute: summaries, groups, groups left out, summaries over time."""
    latest = view.latest.get(FAIRNESS, [])
    if not latest:
        return (
            "<p class='empty'>No fairness results yet: name the protected attributes and the "
            "favorable decision in the <code>fairness</code> section of the configuration.</p>"
        )
    worst: dict[str, int] = {}
    for r in latest:
        if r["feature"]:
            name = str(r["feature"])
            worst[name] = max(worst.get(name, 0), severity(r["status"]))
    attributes = sorted(worst, key=lambda a: (-worst[a], a))  # attributes with alerts first
    out = [f"<p class='muted'>{window_text(latest)}</p>"]
    for attribute in attributes:
        mine = [r for r in latest if r["feature"] == attribute]
        summaries = {r["metric"]: r for r in mine if not r["segment"]}
        references = [
            _details(r["details"]).get("reference_group")
            for r in mine
            if r["metric"] == "selection_rate_ratio"
        ]
        reference = next((str(g) for g in references if g is not None), None)
        out += [
            f"<h3 class='fairness-attribute' id='fairness-{escape(attribute, quote=True)}'>"
            f"<code>{escape(attribute)}</code></h3>",
            _summary_table(summaries),
            _group_table([r for r in mine if r["segment"]], reference),
            _left_out(next(iter(summaries.values()), None)),
            _trend(view, attribute),
        ]
    return "".join(out)
