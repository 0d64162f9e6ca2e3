"""The demo's closing words: what the analysis found (read back from ``ml_results``) and
where to look next. Nothing here is scripted: every number is the analysis' own.
"""

from __future__ import annotations

from typing import TextIO

from modeltel.analyzer.base.errors import NotFoundError
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.demo.scenario import MODEL_NAME
from modeltel.analyzer.report.periods import report_view
from modeltel.analyzer.report.recommend import recommendations
from modeltel.analyzer.web.data import ModelView, model_view
from modeltel.analyzer.web.sections import num, pct, seconds

SQL_EXAMPLES = (
    (
        "drifted features, latest first",
        "SELECT window_end, feature, method, round(value, 3) AS score, status FROM ml_results "
        "FINAL WHERE kind = 'drift' AND status = 'drift' ORDER BY window_end DESC LIMIT 10",
    ),
    (
        "accuracy per day from labels",
        "SELECT toDate(p.timestamp) AS day, avg(p.prediction_label = l.label) AS accuracy, "
        "count() AS labelled FROM ml_predictions p JOIN (SELECT * FROM ml_labels FINAL) l "
        "USING (model, prediction_id) GROUP BY day ORDER BY day",
    ),
    (
        "latency percentiles per day",
        "SELECT toDate(timestamp) AS day, quantilesExact(0.5, 0.95, 0.99)(latency_s) AS p50_95_99 "
        "FROM ml_predictions WHERE row_index = 0 GROUP BY day ORDER BY day",
    ),
)


def _line(out: TextIO, name: str, text: str) -> None:
    print(f"  {name:<18}{text}", file=out)


def _drift(view: ModelView) -> str:
    rows = [r for r in view.drift_table() if not str(r["feature"]).startswith("prediction.")]
    drifted = [r for r in rows if r["status"] == "drift"]
    checked = len({r["feature"] for r in rows})
    if not rows:
        return "no drift results (was the reference uploaded?)"
    shown = ", ".join(f"{r['feature']} ({r['method']} {num(r['value'])})" for r in drifted[:4])
    more = f" and {len(drifted) - 4} more" if len(drifted) > 4 else ""
    if not drifted:
        return f"none of {checked} features drifted in the latest window"
    return f"{len({r['feature'] for r in drifted})} of {checked} features drifted: {shown}{more}"


def _performance(view: ModelView) -> str:
    metrics = view.performance_metrics()
    if not metrics:
        return "no performance results yet"
    metric = metrics[0]

    def values(source: str) -> list[dict]:
        rs = view.of("performance", metric=metric, source=source)
        return [r for r in rs if r["value"] is not None]

    parts = []
    realized, estimated = values("realized"), values("estimated")
    if realized:
        first, low = realized[0], min(realized, key=lambda r: r["value"])
        parts.append(
            f"{metric} from labels {num(first['value'])} ({first['window_end']:%b %d %H:%M}) "
            f"→ lowest {num(low['value'])} ({low['window_end']:%b %d %H:%M})"
        )
    if estimated:
        parts.append(f"estimated without labels {num(estimated[-1]['value'])} now")
    return "; ".join(parts)


def _quality(view: ModelView) -> str:
    bad = [
        r for r in view.latest.get("quality", []) if r["status"] in ("warning", "alert", "drift")
    ]
    if not bad:
        return "no data-quality problem in the latest window"
    return "; ".join(
        f"{r['feature'] or 'all'}: {r['metric'].replace('_', ' ')} {pct(r['value'])}"
        for r in bad[:4]
    )


def print_summary(
    out: TextIO, store: Store, server_url: str, store_url: str, *, keep_running: bool
) -> None:
    """What the analysis found, then where to look."""
    print("\nWhat modeltel found", file=out)
    try:
        view = report_view(model_view(store, MODEL_NAME, with_histograms=False))
    except NotFoundError:
        print("  no results: the analysis produced nothing (see the messages above)", file=out)
        return
    summary = view.summary
    score = summary.get("health_score")
    retrain = summary.get("retrain_recommended")
    _line(
        out,
        "health score",
        ("—" if score is None else f"{score:.0f}/100 ({summary.get('health_status')})")
        + (" — retraining recommended" if retrain else ""),
    )
    _line(out, "drift", _drift(view))
    _line(out, "performance", _performance(view))
    coverage = view.latest_value("performance", "label_coverage")
    delay = view.latest_value("performance", "label_delay_p95")
    _line(
        out, "labels", f"coverage {pct(coverage)} in the latest window; delay p95 {seconds(delay)}"
    )
    _line(out, "data quality", _quality(view))
    _line(
        out,
        "service",
        f"latency p95 {seconds(view.latest_value('service', 'latency_p95'))}, "
        f"error ratio {pct(view.latest_value('service', 'error_ratio'))} in the latest window",
    )
    print("\nWhat to do", file=out)
    for rec in recommendations(view):
        print(f"  - [{rec.severity}] {rec.text}", file=out)

    target = f"--server {server_url}" if keep_running else f"--clickhouse-url {store_url}"
    print("\nWhere to look", file=out)
    if keep_running:
        _line(out, "web page", f"{server_url}/models/{MODEL_NAME}")
        _line(
            out,
            "metrics",
            f"{server_url}/metrics   (ml_drift_score, ml_performance, ml_health_score …)",
        )
        _line(out, "API", f"{server_url}/docs")
    else:
        _line(
            out,
            "web page",
            f"modeltel serve --clickhouse-url {store_url}  then open http://127.0.0.1:4318/",
        )
        _line(out, "live", "modeltel demo --keep-running   (leaves the server up to explore)")
    _line(out, "models", f"modeltel models {target}")
    _line(out, "report", f"modeltel report {MODEL_NAME} {target} --pdf {MODEL_NAME}.pdf")
    for title, query in SQL_EXAMPLES:
        _line(out, "sql", f"# {title}")
        print(f'    modeltel sql {target} "{query}"', file=out)
