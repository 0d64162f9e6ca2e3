"""Result records standing in for the analyses until they are in the repository."""

from __future__ import annotations

import time

from modeltel.analyzer.results import make_results, write_results
from modeltel.analyzer.store import Store
from modeltel.analyzer.windows import Window


def records(model: str, version: str, window: Window) -> list[dict]:
    base = {
        "model": model,
        "version": version,
        "window_start": window.start,
        "window_end": window.end,
    }
    out = []
    if model == "churn":
        for feature, value, status in (
            ("age", 0.9, "drift"),
            ("income", 0.7, "drift"),
            ("tenure", 0.8, "drift"),
            ("calls", 0.02, "ok"),
            ("plan", 0.5, "drift"),
            ("prediction.score", 0.6, "drift"),
        ):
            out.append(
                {
                    **base,
                    "kind": "drift",
                    "feature": feature,
                    "method": "psi",
                    "value": value,
                    "threshold": 0.2,
                    "status": status,
                }
            )
        out.append(
            {
                **base,
                "kind": "drift",
                "method": "share",
                "value": 0.8,
                "threshold": 0.5,
                "status": "drift",
            }
        )
        for metric, source, value, status in (
            ("accuracy", "realized", 0.55, "alert"),
            ("accuracy", "estimated", 0.6, "alert"),
            ("roc_auc", "estimated", 0.62, "alert"),
            ("label_coverage", "realized", 0.3, "warning"),
            ("label_delay_p50", "realized", 60.0, "info"),
            ("label_delay_p95", "realized", 1800.0, "info"),
            ("labels_unknown_ids", "realized", 2.0, "warning"),
        ):
            out.append(
                {
                    **base,
                    "kind": "performance",
                    "metric": metric,
                    "source": source,
                    "value": value,
                    "status": status,
                }
            )
        volume_ratio, last_seen = 3.0, time.time() - 180
    else:
        for feature in ("age", "income"):
            out.append(
                {
                    **base,
                    "kind": "drift",
                    "feature": feature,
                    "method": "psi",
                    "value": 0.01,
                    "threshold": 0.2,
                    "status": "ok",
                }
            )
        volume_ratio, last_seen = 0.1, time.time() - 2400
    for metric, value in (
        ("latency_p50", 0.04),
        ("latency_p95", 0.9),
        ("latency_p99", 1.1),
        ("throughput", 0.1),
        ("error_ratio", 0.1),
        ("volume", 360.0),
        ("volume_ratio", volume_ratio),
        ("last_seen", last_seen),
        ("staleness", time.time() - last_seen),
    ):
        out.append({**base, "kind": "service", "metric": metric, "value": value, "status": "ok"})
    out.append(
        {
            **base,
            "kind": "service",
            "metric": "prediction_share",
            "feature": "yes",
            "value": 0.4,
            "status": "info",
        }
    )
    for feature, metric, value in (
        ("calls", "missing_ratio", 0.2),
        ("income", "wrong_type_ratio", 0.05),
        ("age", "out_of_range_ratio", 0.3),
        ("plan", "new_category_ratio", 0.4),
        (None, "outlier_ratio", 0.2),
    ):
        out.append(
            {
                **base,
                "kind": "quality",
                "feature": feature,
                "metric": metric,
                "value": value,
                "status": "alert",
            }
        )
    return out


def seeded_runners(store: Store):
    def others(model: str, version: str, window: Window) -> None:
        rows = [r for r in records(model, version, window) if r["kind"] != "drift"]
        write_results(store, make_results(rows))

    return {"seeded": others}
