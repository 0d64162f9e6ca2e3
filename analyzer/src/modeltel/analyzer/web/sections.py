"""HTML sections of one model, shared by the web page and the reports.

Each function takes a :class:`ModelView` and returns an HTML fragment (escaped text, inline
SVG charts from :mod:`charts`). No scripts: the fragments render the same on the live page,
in a report file opened offline and in its PDF.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from modeltel.analyzer.analyses.drift.methods import METHODS
from modeltel.analyzer.base.analysis import Analysis, MetricSpec
from modeltel.analyzer.base.results import Status
from modeltel.analyzer.web import charts
from modeltel.analyzer.web.data import ModelView, catalogue, metric_spec

P_VALUE_METHODS = frozenset(name for name, method in METHODS.items() if method.pvalue)
STATUS_TEXT = {status.value: status.value.replace("_", " ") for status in Status}


# -- small formatting helpers -------------------------------------------------------------


def num(value: Any, digits: int = 3) -> str:
    """A number for people: ``—`` when missing, compact otherwise."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    value = float(value)
    if value == 0:
        return "0"
    if abs(value) >= 1e5:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.1f}".rstrip("0").rstrip(".")
    return f"{value:.{digits}g}"


def pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{float(value):.1%}"


def seconds(value: Any) -> str:
    """A duration: ms below a second, then s, min, h, days."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    s = float(value)
    if s < 1:
        return f"{s * 1000:.3g} ms"
    if s < 120:
        return f"{s:.3g} s"
    if s < 7200:
        return f"{s / 60:.3g} min"
    if s < 172800:
        return f"{s / 3600:.3g} h"
    return f"{s / 86400:.3g} days"


def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "never"
    delta = ((now or datetime.now(UTC)) - moment).total_seconds()
    if delta < 0:
        return "just now"
    return f"{seconds(delta)} ago"


def badge(status: str | None, text: str | None = None) -> str:
    status = status or "no_data"
    label = text if text is not None else STATUS_TEXT.get(status, status)
    return f"<span class='badge badge-{escape(status)}'>{escape(label)}</span>"


def health_badge(score: float | None, status: str | None, *, big: bool = False) -> str:
    text = "—" if score is None else f"{score:.0f}"
    size = " big" if big else ""
    return (
        f"<span class='health{size} health-{escape(status or 'no_data')}' "
        f"title='health score 0–100'>{text}</span>"
    )


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    cls: str = "",
    *,
    row_classes: Sequence[str] = (),
) -> str:
    """An HTML table; cells are already-escaped HTML; ``row_classes`` (by row, "" for none)
    mark rows."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    marks = list(row_classes)
    body = "".join(
        (f"<tr class='{marks[i]}'>" if i < len(marks) and marks[i] else "<tr>")
        + "".join(f"<td>{c}</td>" for c in row)
        + "</tr>"
        for i, row in enumerate(rows)
    )
    return f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


Chart = str | tuple[str, str]
"""An SVG, or an (SVG, caption) pair: the caption is one line saying how to read it."""


def figure(chart: Chart) -> str:
    """One chart in its box, with its caption beneath when it has one."""
    svg, caption = chart if isinstance(chart, tuple) else (chart, "")
    note = f"<figcaption class='caption'>{escape(caption)}</figcaption>" if caption else ""
    return f"<figure class='chart-box'>{svg}{note}</figure>"


def grid(charts_: Sequence[Chart], cls: str = "charts") -> str:
    """Charts side by side (one column when printed), each with its caption."""
    return f"<div class='{cls}'>{''.join(figure(c) for c in charts_)}</div>"


def window_text(records: Sequence[dict[str, Any]]) -> str:
    if not records:
        return ""
    r = records[0]
    return f"window {when(r['window_start'])} → {when(r['window_end'])}"


# -- drift ------------------------------------------------------------------------------


def drift_score_text(record: dict[str, Any]) -> str:
    method = record["method"]
    value = record["value"]
    if method in P_VALUE_METHODS:
        return f"p = {num(value)}"
    if method == "share" or method == "new_category_share":
        return pct(value)
    return num(value)


def drift_table(view: ModelView, *, histograms: bool = True) -> str:
    """Latest drift window: one row per (feature, method) with its histogram."""
    rows = view.drift_table()
    if not rows:
        return "<p class='empty'>No drift results yet: upload a reference " + (
            "(<code>modeltel reference upload MODEL FILE</code>) and let the analysis run.</p>"
        )
    out = []
    for r in rows:
        feature = str(r["feature"])
        hist = view.histograms.get(feature) if histograms else None
        chart = (
            charts.histogram_chart(hist["labels"], hist["reference"], hist["current"])
            if hist
            else "<span class='muted'>—</span>"
        )
        threshold = r["threshold"]
        rule = (
            f"&lt; {num(threshold)}"
            if r["method"] in P_VALUE_METHODS
            else f"≥ {num(threshold)}"
            if threshold is not None
            else ""
        )
        out.append(
            (
                f"<code>{escape(feature)}</code>",
                escape(r["method"]),
                drift_score_text(r),
                rule,
                badge(r["status"]),
                f"{num(r['reference_size'])} / {num(r['current_size'])}",
                f"<div class='hist'>{chart}</div>",
            )
        )
    share = view.drift_share()
    head = ""
    if share is not None:
        head = (
            f"<p>{badge(share['status'])} <b>{pct(share['value'])}</b> of features drifted "
            f"(dataset drift when ≥ {pct(share['threshold'])}) — "
            f"{window_text(view.latest.get('drift', []))}.</p>"
        )
    legend = (
        "<p class='legend'><span class='swatch ref'></span> reference "
        "<span class='swatch cur'></span> current window</p>"
    )
    return (
        head
        + legend
        + table(
            ["feature", "method", "score", "drift when", "status", "ref / cur rows", "histogram"],
            out,
            "drift",
        )
    )


SMALL_MULTIPLES_ABOVE = 6
"""A method with more features than this gets one small chart per feature."""


def _drift_caption(method: str, threshold: float | None) -> str:
    limit = num(threshold) if threshold is not None else "the threshold"
    if method in P_VALUE_METHODS:
        return (
            f"Each line is a feature's {method} p-value per window, on a log scale; in the "
            f"shaded band below the red line ({limit}) the feature drifted; red dots mark "
            "drifted windows."
        )
    return (
        f"Each line is a feature's {method} score per window; in the shaded band at or above "
        f"the red line ({limit}) the feature drifted; red dots mark drifted windows."
    )


def _drift_chart(
    method: str, features: Sequence[str], rs: Sequence[dict[str, Any]], *, small: bool
) -> str:
    pvalue = method in P_VALUE_METHODS
    thresholds = [r["threshold"] for r in rs if r["threshold"] is not None]
    threshold = thresholds[-1] if thresholds else None
    series = [
        charts.Series(
            f,
            [(r["window_end"], r["value"]) for r in rs if r["feature"] == f],
            marked=[r["window_end"] for r in rs if r["feature"] == f and r["status"] == "drift"],
        )
        for f in features
    ]
    band = None
    if threshold is not None:
        band = (None, threshold) if pvalue else (threshold, None)
    return charts.line_chart(
        series,
        title=(features[0] if small else f"{method} per window")
        + (" (p-value, log scale)" if pvalue and not small else ""),
        threshold=threshold,
        y_label="" if small else ("p-value (log)" if pvalue else method),
        log_y=pvalue,
        band=band,
        y_min=None if pvalue else 0.0,
        width=280 if small else 560,
        height=130 if small else 220,
    )


def drift_charts(view: ModelView, *, max_features: int = 8) -> str:
    """Drift over time per method: each feature's decision score against its threshold band
    (p-values on a log scale), drifted windows marked; one small chart per feature when a
    method checks more than :data:`SMALL_MULTIPLES_ABOVE` features (most drifted first),
    then the share of drifted features."""
    records = [r for r in view.of("drift") if r["feature"] and r["method"] != "share"]
    if not records:
        return grid([charts.empty_chart("drift scores over time: no drift results yet")])
    methods: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        methods.setdefault(r["method"], []).append(r)
    out = []
    for method, rs in sorted(methods.items(), key=lambda kv: -len(kv[1])):
        worst: dict[str, int] = {}
        for r in rs:
            worst[r["feature"]] = worst.get(r["feature"], 0) + (r["status"] == "drift")
        features = sorted(worst, key=lambda f: (-worst[f], f))
        thresholds = [r["threshold"] for r in rs if r["threshold"] is not None]
        caption = _drift_caption(method, thresholds[-1] if thresholds else None)
        if len(features) > SMALL_MULTIPLES_ABOVE:
            by_feature: dict[str, list[dict[str, Any]]] = {}
            for r in rs:
                by_feature.setdefault(r["feature"], []).append(r)
            smalls = [_drift_chart(method, [f], by_feature[f], small=True) for f in features]
            drifted = sum(1 for f in features if worst[f])
            out.append(
                f"<h4>{escape(method)}: {len(features)} features, {drifted} drifted in some "
                "window (most drifted first)</h4><p class='caption'>"
                f"{escape(caption)}</p>" + grid(smalls, "charts small-multiples")
            )
        else:
            out.append(
                grid([(_drift_chart(method, features[:max_features], rs, small=False), caption)])
            )
    shares = view.of("drift", method="share")
    if shares:
        chart = charts.line_chart(
            [
                charts.Series(
                    "share of drifted features",
                    [(r["window_end"], r["value"]) for r in shares],
                    marked=[r["window_end"] for r in shares if r["status"] == "drift"],
                )
            ],
            title="share of drifted features",
            threshold=shares[-1]["threshold"],
            band=(shares[-1]["threshold"], None) if shares[-1]["threshold"] is not None else None,
            y_min=0,
            y_max=1,
        )
        out.append(
            grid(
                [
                    (
                        chart,
                        "The share of checked features that drifted in each window; at or above "
                        "the red line the whole dataset counts as drifted (red dots).",
                    )
                ]
            )
        )
    return "".join(out)


# -- performance -------------------------------------------------------------------------


def performance_charts(view: ModelView, *, max_metrics: int = 4) -> str:
    """Realized (solid) vs estimated (dashed) performance per metric over time."""
    metrics = view.performance_metrics()[:max_metrics]
    if not metrics:
        return grid(
            [charts.empty_chart("performance: no results yet (labels join predictions by id)")]
        )
    out: list[Chart] = []
    coverage = _coverage_chart(view)
    for metric in metrics:
        series = []
        for source, dashed in (("realized", False), ("estimated", True)):
            rs = view.of("performance", metric=metric, source=source)
            if rs:
                series.append(
                    charts.Series(
                        f"{metric} ({source})",
                        [(r["window_end"], r["value"]) for r in rs],
                        color=charts.PALETTE[0] if source == "realized" else charts.PALETTE[3],
                        dashed=dashed,
                    )
                )
        thresholds = [
            r["threshold"] for r in view.of("performance", metric=metric) if r["threshold"]
        ]
        low, high = chart_bounds(metric_spec("performance", metric))
        chart = charts.line_chart(
            series,
            title=metric,
            threshold=thresholds[-1] if thresholds else None,
            y_min=low,
            y_max=high,
        )
        out.append((chart + coverage, _performance_caption(metric)))
    return grid(out)


def _coverage_chart(view: ModelView) -> str:
    """Label coverage per window, small, to sit beneath a performance chart."""
    coverage = view.of("performance", metric="label_coverage")
    return charts.line_chart(
        [
            charts.Series(
                "label coverage",
                [(r["window_end"], r["value"]) for r in coverage],
                color=charts.PALETTE[2],
            )
        ],
        title="label coverage",
        y_min=0,
        y_max=1,
        height=110,
        empty_message="no labels yet",
    )


def _performance_caption(metric: str) -> str:
    return (
        f"{metric} per window: realized from labels (solid) and estimated without labels "
        "(dashed, CBPE) against the red threshold; beneath, the share of predictions with a "
        "label: a realized value resting on low coverage is uncertain."
    )


def chart_bounds(spec: MetricSpec) -> tuple[float | None, float | None]:
    """The y range of a chart of ``spec``: its bounds when both are finite (a share, a
    score), else free."""
    low, high = spec.bounds
    return (low, high) if low is not None and high is not None else (None, None)


def change(spec: MetricSpec, first: float, last: float) -> str:
    """How a metric moved from ``first`` to ``last``: ``steady``, else ``better`` or
    ``worse`` by its catalogue direction (``up``/``down`` when it has none)."""
    delta = last - first
    if abs(delta) < 1e-9:
        return "steady"
    if spec.higher_is_better is None:
        return "up" if delta > 0 else "down"
    return "better" if (delta > 0) == spec.higher_is_better else "worse"


def movement(spec: MetricSpec, first: float, last: float) -> str:
    """``fell from 0.91 (worse)``, ``rose from 0.5 (better)`` or ``steady``."""
    if abs(last - first) < 1e-9:
        return "steady"
    verb = "rose" if last > first else "fell"
    return f"{verb} from {num(first)} ({change(spec, first, last)})"


def performance_facts(view: ModelView, *, max_metrics: int = 4) -> str:
    """The latest value of each headline metric and how it moved over the period."""
    facts = []
    for metric in view.performance_metrics()[:max_metrics]:
        spec = metric_spec("performance", metric)
        for source in ("realized", "estimated"):
            rs = view.of("performance", metric=metric, source=source)
            values = [float(r["value"]) for r in rs if r["value"] is not None]
            if values:
                moved = f", {movement(spec, values[0], values[-1])}" if len(values) > 1 else ""
                facts.append((f"{metric} ({source})", f"{num(values[-1])}{moved}"))
    return facts_list(facts) if facts else ""


def label_section(view: ModelView) -> str:
    """Label coverage and delay of the latest window (coverage over time is drawn beneath
    each performance chart; alone here when there is no performance metric yet)."""
    chart = ""
    if not view.performance_metrics():
        chart = grid(
            [
                (
                    _coverage_chart(view),
                    "The share of predictions whose label (ground truth) has arrived, per window.",
                )
            ]
        )
    facts = [
        ("coverage (latest window)", pct(view.latest_value("performance", "label_coverage"))),
        ("delay p50", seconds(view.latest_value("performance", "label_delay_p50"))),
        ("delay p95", seconds(view.latest_value("performance", "label_delay_p95"))),
        ("labels for unknown ids", num(view.latest_value("performance", "labels_unknown_ids"))),
    ]
    return facts_list(facts) + chart


def facts_list(facts: Sequence[tuple[str, str]]) -> str:
    items = "".join(
        f"<div class='fact'><div class='fact-value'>{v}</div><div class='fact-name'>"
        f"{escape(k)}</div></div>"
        for k, v in facts
    )
    return f"<div class='facts'>{items}</div>"


# -- service -----------------------------------------------------------------------------


def _service_line(
    view: ModelView, metric: str, name: str, title: str, caption: str, color: str | None = None
) -> Chart:
    """One service metric per window, from 0, with its caption."""
    points = [(r["window_end"], r["value"]) for r in view.of("service", metric=metric)]
    chart = charts.line_chart([charts.Series(name, points, color=color)], title=title, y_min=0)
    return chart, caption


def service_section(view: ModelView) -> str:
    """Latency percentiles, throughput, error ratio, volume and prediction shares."""
    latency = [
        charts.Series(q, [(r["window_end"], r["value"]) for r in view.of("service", metric=m)])
        for q, m in (("p50", "latency_p50"), ("p95", "latency_p95"), ("p99", "latency_p99"))
    ]
    thr = [r["threshold"] for r in view.of("service", metric="latency_p95") if r["threshold"]]
    out: list[Chart] = [
        (
            charts.line_chart(
                latency,
                title="latency percentiles (seconds)",
                threshold=thr[-1] if thr else None,
                y_min=0,
            ),
            "Per window, the time a prediction took for half (p50), 95 % and 99 % of calls; "
            "the red line is the p95 threshold.",
        ),
        _service_line(
            view,
            "throughput",
            "predictions/s",
            "throughput (predictions per second)",
            "Predictions per second, averaged over each window.",
        ),
        _service_line(
            view,
            "error_ratio",
            "error ratio",
            "error ratio",
            "The share of calls that failed, per window.",
            color=charts.PALETTE[1],
        ),
    ]
    shares = view.of("service", metric="prediction_share")
    if shares:
        classes = sorted({str(r["feature"]) for r in shares})[:8]
        out.append(
            (
                charts.line_chart(
                    [
                        charts.Series(
                            f"class {c}",
                            [
                                (r["window_end"], r["value"])
                                for r in shares
                                if str(r["feature"]) == c
                            ],
                        )
                        for c in classes
                    ],
                    title="prediction share per class",
                    y_min=0,
                    y_max=1,
                ),
                "The share of predictions given to each class, per window: a class taking or "
                "losing share shows the model's output drifting.",
            )
        )
    facts = [
        ("latency p50", seconds(view.latest_value("service", "latency_p50"))),
        ("latency p95", seconds(view.latest_value("service", "latency_p95"))),
        ("latency p99", seconds(view.latest_value("service", "latency_p99"))),
        ("throughput", f"{num(view.latest_value('service', 'throughput'))}/s"),
        ("error ratio", pct(view.latest_value("service", "error_ratio"))),
        ("volume (latest window)", num(view.latest_value("service", "volume"))),
    ]
    return facts_list(facts) + grid(out)


# -- quality -----------------------------------------------------------------------------


def quality_section(view: ModelView) -> str:
    rows = view.quality_table()
    if not rows:
        return "<p class='empty'>No data-quality results yet.</p>"
    metrics = [spec.name for spec in catalogue("quality") if any(spec.name in r for r in rows)]
    body = []
    for row in rows:
        cells = [f"<code>{escape(row['feature'])}</code>", badge(row["status"])]
        for m in metrics:
            value = row.get(m)
            if m in ("feature_vanished", "feature_new"):
                cells.append("yes" if value else ("no" if value is not None else "—"))
            else:
                cells.append(pct(value))
        body.append(cells)
    headers = ["feature", "status"] + [m.replace("_", " ") for m in metrics]
    missing = [
        (row["feature"], float(row["missing_ratio"]))
        for row in rows
        if row.get("missing_ratio") is not None
    ]
    chart = ""
    if missing and any(v > 0 for _, v in missing):
        missing.sort(key=lambda kv: -kv[1])
        chart = grid(
            [
                (
                    charts.bar_chart(missing[:12], title="missing values (latest window)"),
                    "The share of predictions missing each feature in the latest window, "
                    "most missing first.",
                )
            ]
        )
    note = f"<p class='muted'>{window_text(view.latest.get('quality', []))}</p>"
    return note + table(headers, body, "quality") + chart


def health_chart(view: ModelView) -> Chart:
    """The health score per analysed window, with its caption."""
    rs = view.of("health", metric="health_score")
    chart = charts.line_chart(
        [charts.Series("health score", [(r["window_end"], r["value"]) for r in rs])],
        title="health score over time",
        y_min=0,
        y_max=100,
        empty_message="no health scores yet",
    )
    return (
        chart,
        "The health score (0–100) of each analysed window: ok from 80, warning from 50, "
        "alert below.",
    )


# -- any other analysis ------------------------------------------------------------------


def analysis_section(view: ModelView, analysis: Analysis) -> str:
    """An analysis drawn from its catalogue: the records of its latest window, and each of
    its metrics that names no feature over time (bounded as the catalogue says)."""
    latest = view.latest.get(analysis.kind, [])
    if not latest:
        return f"<p class='empty'>No {escape(analysis.kind)} results yet.</p>"
    rows = [
        (
            f"<code>{escape(str(r['feature']))}</code>" if r["feature"] else "—",
            escape(r["metric"] or r["method"]),
            num(r["value"]),
            num(r["threshold"]),
            badge(r["status"]),
        )
        for r in latest
    ]
    lines: list[Chart] = []
    for spec in view.metrics(analysis.kind):
        rs = [
            r
            for r in view.of(analysis.kind)
            if (r["metric"] or r["method"]) == spec.name and not r["feature"]
        ]
        if not rs:
            continue
        thresholds = [r["threshold"] for r in rs if r["threshold"] is not None]
        low, high = chart_bounds(spec)
        chart = charts.line_chart(
            [charts.Series(spec.name, [(r["window_end"], r["value"]) for r in rs])],
            title=spec.name,
            threshold=thresholds[-1] if thresholds else None,
            y_min=low,
            y_max=high,
        )
        lines.append(
            (
                chart,
                f"{spec.name} per window" + (", against its red threshold." if thresholds else "."),
            )
        )
    note = f"<p class='muted'>{window_text(latest)}</p>"
    headers = ["feature", "metric", "value", "threshold", "status"]
    return note + table(headers, rows, escape(analysis.kind)) + (grid(lines) if lines else "")
