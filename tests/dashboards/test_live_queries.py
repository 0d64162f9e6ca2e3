"""Every query is checked for real: generated traffic (drift and trouble injected) goes through
modeltel's receiver, the analysis loop runs, a real Prometheus scrapes ``/metrics`` and
evaluates the alert rules; then every PromQL expression of the dashboards and the rule file
must return series, and every ClickHouse panel (macros expanded as Grafana's plugin does)
must return rows on chDB."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from modeltel.analyzer.base.store import Store
from modeltel.analyzer.orchestration.loop import AnalysisLoop, default_runners
from support.grafana import (
    Target,
    TimeRange,
    dashboard_targets,
    expand_promql,
    expand_sql,
    label_values_query,
)
from support.live_traffic import (
    Sender,
    calm_row,
    send_scenario,
    upload_calm_reference,
    utc_now,
)
from support.prometheus import PrometheusProcess
from support.servers import start_server

VALUES = {"model": "churn", "version": "1", "feature": "age"}
RATE_INTERVAL = "10s"
CONFIG: dict[str, Any] = {
    "retrain": {"rules": [{"drifted_features": 3}]},
    # churn's bad hour has unsure scores (mean ≈ 0.55), the calm traffic's mean is ≈ 0.4
    "custom_metrics": {
        "mean_score": {"sql": "avg(prediction_score)", "max": 0.45},
        "slow_share": {"sql": "avg(latency_s > 0.5)"},  # no bounds: no breached series
    },
    # few scores reach 0.7 in the bad hour: the plans' selection rates are far apart (disparate
    # impact ≈ 0.5) and so are their true and false positive rates
    "fairness": {
        "protected": ["plan"],
        "favorable_score": 0.7,
        "favorable_label": "yes",
        "min_group_size": 10,
    },
}


@dataclass
class Live:
    store: Store
    prometheus: PrometheusProcess
    time_range: TimeRange
    repo_root: Path


def rule_expressions(repo_root: Path) -> list[tuple[str, str]]:
    data = yaml.safe_load((repo_root / "dashboards/prometheus/modeltel-rules.yml").read_text())
    return [(r["alert"], r["expr"]) for g in data["groups"] for r in g["rules"]]


@pytest.fixture(scope="module")
def live(store_url: str, repo_root: Path, tmp_path_factory) -> Iterator[Live]:
    store = Store(store_url, f"live_{uuid.uuid4().hex[:10]}")
    running, stop_server = start_server(store)
    prometheus = None
    try:
        now = utc_now()
        send_scenario(running.url, now)
        for model, version, seed in (("churn", "1", 1), ("fraud", "2", 2)):
            upload_calm_reference(store, model, version, 2000, seed)
        runners = analysis_runners(store)
        loop = AnalysisLoop(
            store, CONFIG, every=60, publisher=running.app.state.metrics, runners=runners
        )
        # a cycle's window ends at its minute: run as if a minute later, so that the labels
        # sent just now (ml_labels.received_at is their arrival) fall inside it
        first = loop.run_once(now=time.time() + 60)
        assert {m for m, _ in first.analyzed} >= {"churn", "fraud"}
        target = running.url.removeprefix("http://")
        workdir = tmp_path_factory.mktemp("prometheus")
        prometheus = PrometheusProcess(
            workdir, [target], [repo_root / "dashboards/prometheus/modeltel-rules.yml"]
        )
        prometheus.wait_until(prometheus.targets_up, timeout=30, what="the scrape target up")
        prometheus.wait_until(
            lambda: prometheus.query("count_over_time(ml_health_score[1m]) >= 2"),
            timeout=30,
            what="two scrapes",
        )
        FAILING.add(("broken", "1"))  # from now on one model's analysis fails
        # … while it keeps serving: a prediction after the first cycle's window is news, so
        # the next cycle (the next minute's) analyses the model again
        sender = Sender(running.url)
        rows = [calm_row(np.random.default_rng(9))]
        sender.predict("broken", "1", first.window.end + timedelta(seconds=1), 0.03, rows, ["b"])
        sender.close()
        # … and the next cycle overruns its interval: a loop starting one every second whose
        # cycle holds an analysis that takes longer than that
        overrunning = AnalysisLoop(
            store,
            CONFIG,
            every=1,
            publisher=running.app.state.metrics,
            runners={**runners, "pause": lambda model, version, window: time.sleep(1.1)},
        )
        second = overrunning.run_once(now=first.window.end.timestamp() + 61)
        assert second.overran(1)
        assert [(f.model, f.analysis) for f in second.failures] == [("broken", "custom")]
        prometheus.wait_until(
            lambda: prometheus.query("increase(modeltel_analyzer_failures_total[1m]) > 0"),
            timeout=30,
            what="the failure counted",
        )
        alertnames = {name for name, _ in rule_expressions(repo_root)}
        prometheus.wait_until(
            lambda: {s["metric"]["alertname"] for s in prometheus.query("ALERTS")} >= alertnames,
            timeout=30,
            what="every alert pending or firing",
        )
        tr = TimeRange(
            start=int((now - timedelta(hours=7)).timestamp()),
            end=int((now + timedelta(minutes=2)).timestamp()),
            interval_s=60,
        )
        yield Live(store, prometheus, tr, repo_root)
    finally:
        if prometheus is not None:
            prometheus.stop()
        stop_server()
        try:
            store.command(f"DROP DATABASE IF EXISTS `{store.database}`")
        finally:
            store.close()


FAILING: set[tuple[str, str]] = set()


def analysis_runners(store: Store):
    """The real analyses, the custom metrics failing for the models in FAILING."""
    runners = default_runners(store, CONFIG)
    assert set(runners) == {
        "drift",
        "performance",
        "service",
        "quality",
        "attribution",
        "multivariate",
        "custom",
        "fairness",
    }
    real_custom = runners["custom"]

    def custom(model: str, version: str, window) -> None:
        if (model, version) in FAILING:
            raise RuntimeError(f"custom check cannot run on {model}")
        real_custom(model, version, window)

    return {**runners, "custom": custom}


def ids(targets: list[Target]) -> list[str]:
    return [f"{t.dashboard}:{t.panel}" for t in targets]


def _targets(kind: str) -> list[Target]:
    root = Path(__file__).resolve().parents[2]
    return [t for t in dashboard_targets(root / "dashboards" / "grafana") if t.kind == kind]


PROMQL = _targets("promql")
SQL = _targets("sql")
VARIABLES = _targets("variable")
RULES = rule_expressions(Path(__file__).resolve().parents[2])


@pytest.mark.parametrize("target", PROMQL, ids=ids(PROMQL))
def test_dashboard_promql_returns_series(live: Live, target: Target) -> None:
    expr = expand_promql(target.text, VALUES, live.time_range, RATE_INTERVAL)
    result = live.prometheus.query(expr)
    assert result, f"no series for {expr}"


@pytest.mark.parametrize("target", VARIABLES, ids=ids(VARIABLES))
def test_template_variables_list_values(live: Live, target: Target) -> None:
    selector, label = label_values_query(expand_promql(target.text, VALUES, live.time_range, ""))
    values = live.prometheus.label_values(selector, label)
    expected = VALUES[target.panel.removeprefix("$")]
    assert expected in values, f"{target.panel}: {values}"


@pytest.mark.parametrize(("alert", "expr"), RULES, ids=[a for a, _ in RULES])
def test_alert_rule_expressions_return_series(live: Live, alert: str, expr: str) -> None:
    result = live.prometheus.query(expr)
    assert result, f"{alert}: no series for {expr}"


@pytest.mark.parametrize("target", SQL, ids=ids(SQL))
def test_clickhouse_panels_return_rows(live: Live, target: Target) -> None:
    sql = expand_sql(target.text, VALUES, live.time_range)
    frame = live.store.query_df(sql)
    assert not frame.empty, f"no rows for {sql}"
    if target.query_type == "timeSeries":
        first = frame.columns[0]
        assert str(frame[first].dtype).startswith("datetime64"), f"{first} is not a time column"


def test_alerts_name_the_model_in_trouble(live: Live) -> None:
    """Prometheus's own rule evaluation: each alert is pending or firing for the right model."""
    active: dict[str, set[str]] = {}
    for sample in live.prometheus.query("ALERTS"):
        labels = sample["metric"]
        active.setdefault(labels["alertname"], set()).add(labels.get("ml_model_name", ""))
    assert {"churn"} <= active["ModelFeatureDrift"]
    assert {"churn"} <= active["ModelDatasetDrift"]
    assert {"churn"} <= active["ModelPredictionDrift"]
    assert active["ModelPerformanceDrop"] == {"churn"}
    assert {"churn"} <= active["ModelEstimatedPerformanceDrop"]
    assert active["ModelLatencyP99High"] == {"churn"}
    assert active["ModelErrorRatioHigh"] == {"churn"}
    assert active["ModelVolumeSpike"] == {"churn"}
    assert active["ModelVolumeDrop"] == {"fraud"}
    assert active["ModelPredictionsStale"] == {"fraud"}
    assert {"churn"} <= active["ModelRetrainRecommended"]
    assert active["ModeltelAnalyzerFailing"] == {"broken"}
    assert active["ModelCustomMetricOutOfBounds"] == {"churn"}
    assert active["ModelDisparateImpact"] == {"churn"}
    assert active["ModelFairnessThresholdCrossed"] == {"churn"}
    unknown = live.prometheus.query('ml_label_unknown_ids{ml_model_name="churn"}')
    assert float(unknown[0]["value"][1]) == 2.0
