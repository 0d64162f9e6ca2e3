"""Analyzer results as gauges: ml_results → observable gauges → GET /metrics."""

from __future__ import annotations

from datetime import timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families

from modeltel.analyzer.export import GAUGES, MetricsPublisher, build_snapshot, prometheus_name
from modeltel.analyzer.export.catalog import Observation, label_name
from modeltel.analyzer.export.snapshot import Snapshot
from support.results import seed_results, series, utc_now, window_ending

M = {"ml_model_name": "churn", "ml_model_version": "3"}


def key(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({**M, **labels}.items()))


def full_records(end):
    w = window_ending(end)
    base = {"model": "churn", "version": "3", **w}
    return [
        {
            **base,
            "kind": "drift",
            "feature": "age",
            "method": "psi",
            "value": 0.31,
            "threshold": 0.2,
            "status": "drift",
        },
        {
            **base,
            "kind": "drift",
            "feature": "plan",
            "method": "chi_squared",
            "value": 0.4,
            "threshold": 0.05,
            "status": "ok",
        },
        {
            **base,
            "kind": "drift",
            "feature": None,
            "method": "share",
            "value": 0.5,
            "threshold": 0.5,
            "status": "drift",
        },
        {
            **base,
            "kind": "performance",
            "metric": "accuracy",
            "source": "realized",
            "value": 0.81,
            "status": "ok",
        },
        {
            **base,
            "kind": "performance",
            "metric": "accuracy",
            "source": "estimated",
            "value": 0.79,
            "status": "warning",
        },
        {**base, "kind": "performance", "metric": "label_coverage", "value": 0.4, "status": "info"},
        {
            **base,
            "kind": "performance",
            "metric": "label_delay_p95",
            "value": 3600.0,
            "status": "info",
        },
        {**base, "kind": "service", "metric": "latency_p99", "value": 0.25, "status": "ok"},
        {**base, "kind": "service", "metric": "throughput", "value": 12.5, "status": "info"},
        {**base, "kind": "service", "metric": "error_ratio", "value": 0.01, "status": "ok"},
        {**base, "kind": "service", "metric": "volume_ratio", "value": 1.1, "status": "ok"},
        {**base, "kind": "service", "metric": "last_seen", "value": 1.7e9, "status": "info"},
        {
            **base,
            "kind": "service",
            "metric": "prediction_share",
            "feature": "yes",
            "value": 0.3,
            "status": "info",
        },
        {
            **base,
            "kind": "quality",
            "feature": "age",
            "metric": "missing_ratio",
            "value": 0.02,
            "status": "ok",
        },
        {
            **base,
            "kind": "quality",
            "feature": None,
            "metric": "outlier_ratio",
            "value": 0.05,
            "status": "ok",
        },
        {**base, "kind": "health", "metric": "health_score", "value": 72.0, "status": "warning"},
        {
            **base,
            "kind": "health",
            "metric": "retrain_recommended",
            "value": 1.0,
            "status": "alert",
        },
    ]


def test_every_record_kind_becomes_its_gauge(store, server) -> None:
    now = utc_now()
    seed_results(store, full_records(now))
    text = httpx.get(f"{server.url}/metrics", timeout=60).text
    assert series(text, "ml_drift_score") == {
        key(ml_feature_name="age", ml_drift_method="psi"): 0.31,
        key(ml_feature_name="plan", ml_drift_method="chi_squared"): 0.4,
    }
    assert series(text, "ml_drift_detected") == {
        key(ml_feature_name="age", ml_drift_method="psi"): 1.0,
        key(ml_feature_name="plan", ml_drift_method="chi_squared"): 0.0,
        key(ml_drift_method="share"): 1.0,
    }
    assert (
        series(text, "ml_drift_threshold")[key(ml_feature_name="age", ml_drift_method="psi")] == 0.2
    )
    assert series(text, "ml_drift_share") == {key(): 0.5}
    assert series(text, "ml_performance") == {
        key(ml_metric="accuracy", ml_source="realized"): 0.81,
        key(ml_metric="accuracy", ml_source="estimated"): 0.79,
    }
    assert series(text, "ml_label_coverage") == {key(): 0.4}
    assert series(text, "ml_label_delay_seconds") == {key(quantile="0.95"): 3600.0}
    assert series(text, "ml_latency_seconds") == {key(quantile="0.99"): 0.25}
    assert series(text, "ml_throughput_per_second") == {key(): 12.5}
    assert series(text, "ml_error_ratio") == {key(): 0.01}
    assert series(text, "ml_volume_ratio") == {key(): 1.1}
    assert series(text, "ml_predictions_last_seen_seconds") == {key(): 1.7e9}
    assert series(text, "ml_prediction_share") == {key(**{"class": "yes"}): 0.3}
    assert series(text, "ml_quality_missing_ratio") == {key(ml_feature_name="age"): 0.02}
    assert series(text, "ml_quality_outlier_ratio") == {key(): 0.05}
    assert series(text, "ml_health_score") == {key(): 72.0}
    assert series(text, "ml_retrain_recommended") == {key(): 1.0}


def test_latest_window_wins_and_old_series_leave(store, server) -> None:
    now = utc_now()
    base = {"model": "churn", "version": "3", "kind": "drift", "method": "psi", "threshold": 0.2}
    seed_results(
        store,
        [
            {
                **base,
                **window_ending(now - timedelta(hours=1)),
                "feature": "age",
                "value": 0.5,
                "status": "drift",
            },
            {**base, **window_ending(now), "feature": "age", "value": 0.05, "status": "ok"},
            # only seen two days ago: older than the default 1 day, so not published
            {
                **base,
                **window_ending(now - timedelta(days=2)),
                "feature": "gone",
                "value": 0.9,
                "status": "drift",
            },
        ],
    )
    # the same window recomputed later (late data) replaces the earlier number
    seed_results(
        store, [{**base, **window_ending(now), "feature": "age", "value": 0.07, "status": "ok"}]
    )
    # an older window recomputed later does not replace the newest one
    older = window_ending(now - timedelta(hours=1))
    seed_results(store, [{**base, **older, "feature": "age", "value": 0.9, "status": "drift"}])
    text = httpx.get(f"{server.url}/metrics", timeout=60).text
    assert series(text, "ml_drift_score") == {
        key(ml_feature_name="age", ml_drift_method="psi"): 0.07
    }


def test_metrics_endpoint_speaks_prometheus_text(server) -> None:
    response = httpx.get(f"{server.url}/metrics", timeout=60)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    # an empty store publishes no ml_* series (and the page still parses)
    assert not [name for name, _ in _names(response.text) if name.startswith("ml_")]


def test_prometheus_names_match_what_the_exporter_serves() -> None:
    """The names dashboards and rules use (computed by prometheus_name) are those served."""
    publisher = MetricsPublisher(exporter=False)
    try:
        publisher.publish(
            Snapshot(
                taken_at=1e12,
                by_gauge={
                    g.name: [
                        Observation(g.name, 1.0, {"ml.model.name": "m", "ml.model.version": "v"})
                    ]
                    for g in GAUGES
                },
            )
        )
        text = publisher.prometheus_text().decode()
    finally:
        publisher.shutdown()
    served = {name for (name, _labels) in _names(text)}
    assert {g.prometheus for g in GAUGES} <= served
    assert prometheus_name("ml.latency", "s") == "ml_latency_seconds"
    assert (
        prometheus_name("modeltel.analyzer.cycles", counter=True)
        == "modeltel_analyzer_cycles_total"
    )
    assert label_name("ml.model.name") == "ml_model_name"


def _names(text: str):
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            yield sample.name, tuple(sorted(sample.labels.items()))


def test_snapshot_skips_records_without_a_number() -> None:
    now = utc_now()
    base = {"model": "m", "version": "v", **window_ending(now)}
    snapshot = build_snapshot(
        [
            {
                **base,
                "kind": "drift",
                "feature": "x",
                "method": "psi",
                "value": None,
                "threshold": 0.2,
                "status": "no_data",
            },
            {
                **base,
                "kind": "service",
                "metric": "latency_p50",
                "value": float("nan"),
                "status": "no_data",
            },
            {**base, "kind": "unknown", "metric": "whatever", "value": 1.0, "status": "ok"},
        ]
    )
    assert snapshot.values("ml.drift.score") == []
    assert snapshot.values("ml.drift.detected") == []  # no_data is not "not drifted"
    assert snapshot.values("ml.latency") == []
    assert len(snapshot) == 1  # only the threshold is known


def test_a_version_publishes_a_bounded_number_of_segments_the_bad_ones_first() -> None:
    """150 segments of one version: 100 are published, the three alerting ones among them,
    the unsegmented series and another version's segments untouched."""
    now = utc_now()
    w = window_ending(now)

    def accuracy(version: str, segment: str, status: str = "ok") -> dict:
        return {
            "model": "churn",
            "version": version,
            **w,
            "kind": "performance",
            "metric": "accuracy",
            "source": "realized",
            "segment": segment,
            "value": 0.5 if status == "alert" else 0.9,
            "status": status,
        }

    bad = {"shop=s147", "shop=s148", "shop=s149"}
    records = [accuracy("3", "")] + [
        accuracy("3", f"shop=s{i:03d}", "alert" if f"shop=s{i:03d}" in bad else "ok")
        for i in range(150)
    ]
    records += [accuracy("4", f"shop=s{i:03d}") for i in range(5)]
    snapshot = build_snapshot(records)
    published = [o.attributes for o in snapshot.values("ml.performance")]
    segments = {(a["ml.model.version"], a.get("ml.segment", "")) for a in published}
    mine = {s for v, s in segments if v == "3" and s}
    assert len(mine) == 100 and bad <= mine
    assert mine - bad == {f"shop=s{i:03d}" for i in range(97)}  # then by name
    assert ("3", "") in segments
    assert {s for v, s in segments if v == "4"} == {f"shop=s{i:03d}" for i in range(5)}
