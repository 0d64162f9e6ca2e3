"""Generate modeltel's Grafana dashboards (grafana-foundation-sdk) into dashboards/grafana/.

    python dashboards/generate.py           # write the JSON files
    python dashboards/generate.py --check   # exit 1 when the committed JSON is out of date

Prometheus panels read the analyzer's gauges (names as ``/metrics`` serves them, see
``modeltel.analyzer.export.catalog``); ClickHouse panels (grafana-clickhouse-datasource,
raw SQL with its macros) read ``ml_results``, ``ml_predictions``, ``ml_features``,
``ml_reference`` and ``ml_labels`` for history and for what metrics cannot show
(reference-vs-current histograms, slowest calls). Data source uids ``prometheus`` and
``clickhouse`` are those of ``provisioning/datasources/modeltel.yaml``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import grafana_sql as sql
from grafana_foundation_sdk.builders import barchart, bargauge, common, dashboard, stat
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import VizOrientation
from grafana_foundation_sdk.models.dashboard import Threshold, ThresholdsMode
from grafana_kit import (
    CH,
    INPUT_FEATURE,
    PREDICTION_FEATURE,
    PROM,
    SEL,
    SQL,
    base,
    grid,
    health_thresholds,
    out_of_bounds_thresholds,
    prom,
    series,
    variables,
)

OUT = Path(__file__).resolve().parent / "grafana"


def overview() -> dashboard.Dashboard:
    sel = 'ml_model_name=~"$model"'
    board = variables(
        base("modeltel-overview", "modeltel / Overview", "Health of every model"), multi=True
    )
    return (
        board.with_panel(
            bargauge.Panel()
            .title("Health score by model (0–100)")
            .datasource(PROM)
            .with_target(
                prom(f"ml_health_score{{{sel}}}", "{{ml_model_name}} v{{ml_model_version}}")
            )
            .min(0)
            .max(100)
            .thresholds(health_thresholds())
            .height(8)
            .span(12)
        )
        .with_panel(
            grid(
                "Retraining recommended",
                prom(f"ml_retrain_recommended{{{sel}}}", instant=True),
            )
        )
        .with_panel(
            series(
                "Health score",
                prom(f"ml_health_score{{{sel}}}", "{{ml_model_name}} v{{ml_model_version}}"),
            )
        )
        .with_panel(
            series(
                "Share of drifted features",
                prom(f"ml_drift_share{{{sel}}}", "{{ml_model_name}} v{{ml_model_version}}"),
                unit="percentunit",
            )
        )
        .with_panel(
            series(
                "Predictions per second",
                prom(
                    f"ml_throughput_per_second{{{sel}}}", "{{ml_model_name}} v{{ml_model_version}}"
                ),
                unit="reqps",
                w=8,
            )
        )
        .with_panel(
            series(
                "p99 latency",
                prom(
                    f'ml_latency_seconds{{{sel}, quantile="0.99"}}',
                    "{{ml_model_name}} v{{ml_model_version}}",
                ),
                unit="s",
                w=8,
            )
        )
        .with_panel(
            series(
                "Error ratio",
                prom(
                    f'ml_error_ratio{{{sel},error_type=""}}',
                    "{{ml_model_name}} v{{ml_model_version}}",
                ),
                unit="percentunit",
                w=8,
            )
        )
        .with_panel(
            stat.Panel()
            .title("Minutes since the last prediction")
            .datasource(PROM)
            .with_target(
                prom(
                    f"(time() - ml_predictions_last_seen_seconds{{{sel}}}) / 60",
                    "{{ml_model_name}} v{{ml_model_version}}",
                )
            )
            .thresholds(
                dashboard.ThresholdsConfig()
                .mode(ThresholdsMode.ABSOLUTE)
                .steps([Threshold(None, "green"), Threshold(30, "red")])
            )
            .height(6)
            .span(12)
        )
        .with_panel(
            grid(
                "Alerts (pending and firing)",
                prom(
                    "sum by (alertname, severity, alertstate, ml_model_name, ml_model_version) "
                    f"(ALERTS{{{sel}}})",
                    instant=True,
                ),
            ).height(6)
        )
        .with_panel(
            grid(
                "Latest health per model (ml_results)",
                SQL(
                    sql.OVERVIEW_HEALTH,
                    table_format=True,
                ),
                ds=CH,
                w=24,
            )
        )
        .with_panel(
            series(
                "Analysis cycle duration against its interval, and model versions analyzed",
                prom(
                    "histogram_quantile(0.95, sum by (le) "
                    "(rate(modeltel_analyzer_cycle_duration_seconds_bucket[$__rate_interval])))",
                    "p95 cycle duration",
                ),
                prom("modeltel_analyzer_models", "model versions", ref_id="B"),
                prom("modeltel_analyzer_cycle_last_duration_seconds", "last cycle", ref_id="C"),
                prom(
                    "modeltel_analyzer_cycle_interval_seconds",
                    "interval (a cycle above it overruns)",
                    ref_id="D",
                ),
            )
        )
        .with_panel(
            series(
                "Analysis failures",
                prom(
                    "sum by (ml_model_name, ml_analysis) "
                    f"(increase(modeltel_analyzer_failures_total{{{sel}}}[$__rate_interval]))",
                    "{{ml_model_name}} {{ml_analysis}}",
                ),
            )
        )
    )


def drift() -> dashboard.Dashboard:
    board = variables(
        base("modeltel-drift", "modeltel / Drift", "Per-feature drift against the reference"),
        with_feature=True,
    )
    latest = sql.DRIFT_LATEST
    history = sql.DRIFT_HISTORY
    return (
        board.with_panel(
            series(
                "Drift score by feature",
                prom(
                    f"ml_drift_score{{{SEL}, {INPUT_FEATURE}}}",
                    "{{ml_feature_name}} ({{ml_drift_method}})",
                ),
            )
        )
        .with_panel(
            series(
                "Share of drifted features (dataset drift)",
                prom(f"ml_drift_share{{{SEL}}}", "drifted share"),
                prom(
                    f'ml_drift_threshold{{{SEL}, ml_drift_method="share"}}', "threshold", ref_id="B"
                ),
                unit="percentunit",
            )
        )
        .with_panel(
            grid(
                "Drifted features now",
                prom(
                    f"ml_drift_score{{{SEL}}} and on (ml_model_name, ml_model_version, "
                    f"ml_feature_name, ml_drift_method) (ml_drift_detected{{{SEL}}} == 1)",
                    instant=True,
                ),
            )
        )
        .with_panel(
            series(
                "Prediction drift (scores, values, classes)",
                prom(
                    f"ml_drift_score{{{SEL}, {PREDICTION_FEATURE}}}",
                    "{{ml_feature_name}} ({{ml_drift_method}})",
                ),
            )
        )
        .with_panel(
            series(
                "$feature: drift score and threshold",
                prom(f'ml_drift_score{{{SEL}, ml_feature_name="$feature"}}', "{{ml_drift_method}}"),
                prom(
                    f'ml_drift_threshold{{{SEL}, ml_feature_name="$feature"}}',
                    "threshold {{ml_drift_method}}",
                    ref_id="B",
                ),
            )
        )
        .with_panel(
            barchart.Panel()
            .title("$feature: reference vs current distribution (share of rows)")
            .datasource(CH)
            .with_target(SQL(sql.DRIFT_HISTOGRAM, table_format=True))
            .unit("percentunit")
            .height(8)
            .span(12)
        )
        .with_panel(
            grid(
                "Drift results, latest window (ml_results)",
                SQL(latest, table_format=True),
                ds=CH,
                w=24,
            )
        )
        .with_panel(series("Drift score history (ml_results)", SQL(history), ds=CH, w=24))
        .with_panel(
            series(
                "Multivariate drift: PCA reconstruction error and threshold",
                prom(f"ml_drift_multivariate{{{SEL}}}", "mean error"),
                prom(f"ml_drift_multivariate_threshold{{{SEL}}}", "threshold", ref_id="B"),
            )
        )
        .with_panel(
            series(
                "Outlier predictions (multivariate)",
                prom(f"ml_outlier_ratio{{{SEL}}}", "outliers"),
                unit="percentunit",
            )
        )
        .with_panel(
            series(
                "Feature importance (mean |attribution|)",
                prom(f"ml_attribution_importance{{{SEL}}}", "{{ml_feature_name}}"),
            )
        )
        .with_panel(
            series(
                "Attribution ranking vs the reference period",
                prom(f"ml_attribution_rank_correlation{{{SEL}}}", "rank correlation"),
                prom(f"ml_attribution_top_k_overlap{{{SEL}}}", "top-k overlap", ref_id="B"),
            )
        )
        .with_panel(
            series(
                "Feature importance from the spans (ml_attributions)",
                SQL(sql.ATTRIBUTION_SPANS),
                ds=CH,
            )
        )
        .with_panel(
            grid(
                "Multivariate and attribution results, latest window (ml_results)",
                SQL(sql.MODEL_LATEST, table_format=True),
                ds=CH,
            )
        )
    )


def performance() -> dashboard.Dashboard:
    board = variables(
        base(
            "modeltel-performance",
            "modeltel / Performance",
            "Realized and estimated performance, labels",
        )
    )
    history = sql.PERFORMANCE_HISTORY
    labels = sql.PERFORMANCE_LABELS
    confusion = sql.PERFORMANCE_CONFUSION
    return (
        board.with_panel(
            series(
                "Realized performance",
                prom(f'ml_performance{{{SEL}, ml_source="realized"}}', "{{ml_metric}}"),
            )
        )
        .with_panel(
            series(
                "Estimated performance (before labels arrive)",
                prom(f'ml_performance{{{SEL}, ml_source="estimated"}}', "{{ml_metric}}"),
            )
        )
        .with_panel(
            series(
                "Label coverage",
                prom(f"ml_label_coverage{{{SEL}}}", "coverage"),
                unit="percentunit",
                w=8,
            )
        )
        .with_panel(
            series(
                "Label delay",
                prom(f"ml_label_delay_seconds{{{SEL}}}", "p{{quantile}}"),
                unit="s",
                w=8,
            )
        )
        .with_panel(
            series(
                "Labels for unknown prediction ids",
                prom(f"ml_label_unknown_ids{{{SEL}}}", "unknown ids"),
                w=8,
            )
        )
        .with_panel(series("Realized vs estimated per window (ml_results)", SQL(history), ds=CH))
        .with_panel(series("Labels received (ml_labels)", SQL(labels), ds=CH))
        .with_panel(
            grid(
                "Latest realized accuracy and confusion matrix (details)",
                SQL(confusion, table_format=True),
                ds=CH,
                w=24,
            )
        )
    )


def service() -> dashboard.Dashboard:
    board = variables(
        base("modeltel-service", "modeltel / Service", "Latency, throughput, errors, volume")
    )
    latency = sql.SERVICE_LATENCY
    rates = sql.SERVICE_RATES
    slowest = sql.SERVICE_SLOWEST
    return (
        board.with_panel(
            series(
                "Latency percentiles",
                prom(f"ml_latency_seconds{{{SEL}}}", "p{{quantile}}"),
                unit="s",
            )
        )
        .with_panel(
            series(
                "Throughput",
                prom(f"ml_throughput_per_second{{{SEL}}}", "predictions/s"),
                unit="reqps",
            )
        )
        .with_panel(
            series(
                "Error ratio by error type",
                prom(f"ml_error_ratio{{{SEL}}}", "{{error_type}}"),
                unit="percentunit",
                w=8,
            )
        )
        .with_panel(
            series(
                "Volume vs trailing baseline",
                prom(f"ml_volume_ratio{{{SEL}}}", "volume / baseline"),
                w=8,
            )
        )
        .with_panel(
            stat.Panel()
            .title("Time since the last prediction")
            .datasource(PROM)
            .with_target(prom(f"time() - ml_predictions_last_seen_seconds{{{SEL}}}", "age"))
            .unit("s")
            .height(8)
            .span(8)
        )
        .with_panel(
            series(
                "Predicted class share",
                prom(f"ml_prediction_share{{{SEL}}}", "{{class}}"),
                unit="percentunit",
                w=24,
            )
        )
        .with_panel(
            series(
                "Latency percentiles, exact from spans (ml_predictions)",
                SQL(latency),
                ds=CH,
                unit="s",
            )
        )
        .with_panel(
            series(
                "Predictions and failures per second (ml_predictions)",
                SQL(rates),
                ds=CH,
                unit="reqps",
            )
        )
        .with_panel(
            grid("Slowest calls (ml_predictions)", SQL(slowest, table_format=True), ds=CH, w=24)
        )
    )


def quality() -> dashboard.Dashboard:
    board = variables(
        base(
            "modeltel-quality",
            "modeltel / Data quality",
            "Missing, wrong-type, out-of-range, new categories",
        )
    )
    latest = sql.QUALITY_LATEST
    arriving = sql.QUALITY_ARRIVING
    per_feature = "{{ml_feature_name}}"
    return (
        board.with_panel(
            series(
                "Missing values",
                prom(f"ml_quality_missing_ratio{{{SEL}}}", per_feature),
                unit="percentunit",
            )
        )
        .with_panel(
            series(
                "Out of the reference range",
                prom(f"ml_quality_out_of_range_ratio{{{SEL}}}", per_feature),
                unit="percentunit",
            )
        )
        .with_panel(
            series(
                "New categories",
                prom(f"ml_quality_new_category_ratio{{{SEL}}}", per_feature),
                unit="percentunit",
                w=8,
            )
        )
        .with_panel(
            series(
                "Wrong type",
                prom(f"ml_quality_wrong_type_ratio{{{SEL}}}", per_feature),
                unit="percentunit",
                w=8,
            )
        )
        .with_panel(
            series(
                "Outlier predictions",
                prom(f"ml_quality_outlier_ratio{{{SEL}}}", "outliers"),
                unit="percentunit",
                w=8,
            )
        )
        .with_panel(
            grid(
                "Quality results, latest window (ml_results)",
                SQL(latest, table_format=True),
                ds=CH,
                w=24,
            )
        )
        .with_panel(series("Feature values arriving (ml_features)", SQL(arriving), ds=CH, w=24))
    )


FAIRNESS_SUMMARIES = (
    ("statistical_parity_difference", "Statistical parity difference (alert above threshold)"),
    ("disparate_impact_ratio", "Disparate impact ratio (alert below threshold; four fifths 0.8)"),
    ("equal_opportunity_difference", "Equal opportunity difference (alert above threshold)"),
    ("equalized_odds_difference", "Equalized odds difference (alert above threshold)"),
)
"""The fairness summary metrics (``ml_fairness{ml_metric=…}``), one panel each."""
LATEST = common.ReduceDataOptions().calcs(["lastNotNull"]).values(False)
"""Stat and bar gauge panels show each series' latest value."""


def fairness() -> dashboard.Dashboard:
    board = variables(
        base(
            "modeltel-fairness",
            "modeltel / Fairness & custom metrics",
            "Custom SQL metrics against their bounds; parity between the groups of protected "
            "attributes",
        )
    )
    custom_keys = "ml_model_name, ml_model_version, ml_metric_name"
    board = (
        board.with_panel(
            series(
                "Custom metrics and their bounds",
                prom(f"ml_custom_metric{{{SEL}}}", "{{ml_metric_name}}"),
                prom(
                    f"ml_custom_metric_threshold{{{SEL}}}", "bound {{ml_metric_name}}", ref_id="B"
                ),
            )
        )
        .with_panel(
            grid(
                "Custom metrics out of bounds now",
                prom(
                    f"ml_custom_metric{{{SEL}}} and on ({custom_keys}) "
                    f"(ml_custom_metric_breached{{{SEL}}} == 1)",
                    instant=True,
                ),
                w=8,
            )
        )
        .with_panel(
            stat.Panel()
            .title("Out of bounds now")
            .datasource(PROM)
            .with_target(prom(f"sum(ml_custom_metric_breached{{{SEL}}})", "custom metrics"))
            .with_target(
                prom(f"sum(ml_fairness_breached{{{SEL}}})", "fairness metrics", ref_id="B")
            )
            .thresholds(out_of_bounds_thresholds())
            .reduce_options(LATEST)
            .orientation(VizOrientation.VERTICAL)
            .height(8)
            .span(4)
        )
    )
    for metric, title in FAIRNESS_SUMMARIES:
        board = board.with_panel(
            series(
                title,
                prom(f'ml_fairness{{{SEL}, ml_metric="{metric}"}}', "{{ml_feature_name}}"),
                prom(
                    f'ml_fairness_threshold{{{SEL}, ml_metric="{metric}"}}',
                    "threshold {{ml_feature_name}}",
                    ref_id="B",
                ),
            )
        )
    return (
        board.with_panel(
            bargauge.Panel()
            .title("Selection rate per group (share given the favorable decision)")
            .datasource(PROM)
            .with_target(
                prom(f'ml_fairness_group{{{SEL}, ml_metric="selection_rate"}}', "{{ml_segment}}")
            )
            .unit("percentunit")
            .min(0)
            .max(1)
            .reduce_options(LATEST)
            .orientation(VizOrientation.HORIZONTAL)
            .height(8)
            .span(12)
        )
        .with_panel(
            series(
                "True and false positive rates per group (labelled predictions)",
                prom(
                    f"ml_fairness_group{{{SEL}, "
                    'ml_metric=~"true_positive_rate|false_positive_rate"}',
                    "{{ml_metric}} {{ml_segment}}",
                ),
                unit="percentunit",
            )
        )
        .with_panel(
            grid(
                "Custom metric and fairness results, latest window (ml_results)",
                SQL(sql.FAIRNESS_LATEST, table_format=True),
                ds=CH,
                w=24,
            )
        )
        .with_panel(
            series("Custom metrics per window (ml_results)", SQL(sql.CUSTOM_HISTORY), ds=CH)
        )
        .with_panel(
            series("Fairness summaries per window (ml_results)", SQL(sql.FAIRNESS_HISTORY), ds=CH)
        )
    )


DASHBOARDS = {
    "modeltel-overview.json": overview,
    "modeltel-drift.json": drift,
    "modeltel-performance.json": performance,
    "modeltel-service.json": service,
    "modeltel-quality.json": quality,
    "modeltel-fairness.json": fairness,
}


def render(factory) -> str:
    built = factory().build()
    payload = json.loads(json.dumps(built, cls=JSONEncoder))
    for number, panel in enumerate(payload.get("panels", []), start=1):
        panel["id"] = number
    return json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the JSON files are stale")
    args = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    stale = []
    for name, factory in DASHBOARDS.items():
        text = render(factory)
        path = OUT / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(
            f"stale dashboards (run python dashboards/generate.py): {', '.join(stale)}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
