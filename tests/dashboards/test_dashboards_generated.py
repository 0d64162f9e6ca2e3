"""The committed dashboards are what the generator makes, and their queries are well formed
(the live test runs them against Prometheus and chDB)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from modeltel.analyzer.analyses.fairness import SUMMARY_METRICS
from modeltel.analyzer.export.catalog import gauges
from modeltel.analyzer.export.publisher import LOOP_SERIES
from support.grafana import TimeRange, dashboard_targets, expand_promql, expand_sql


@pytest.fixture(scope="module")
def boards_dir(repo_root: Path) -> Path:
    return repo_root / "dashboards" / "grafana"


def test_committed_json_is_up_to_date(repo_root: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(repo_root / "dashboards" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_every_dashboard_has_model_and_version_variables(boards_dir: Path) -> None:
    uids = set()
    for path in sorted(boards_dir.glob("*.json")):
        board = json.loads(path.read_text())
        uids.add(board["uid"])
        names = [v["name"] for v in board["templating"]["list"]]
        assert "model" in names, path.name
        if board["uid"] != "modeltel-overview":
            assert names[:2] == ["model", "version"], path.name
        assert "modeltel" in board["tags"]
        assert board["panels"], path.name
        assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    assert uids == {
        "modeltel-overview",
        "modeltel-drift",
        "modeltel-performance",
        "modeltel-service",
        "modeltel-quality",
        "modeltel-fairness",
    }


def test_drift_dashboard_compares_reference_and_current_from_clickhouse(boards_dir: Path) -> None:
    board = json.loads((boards_dir / "modeltel-drift.json").read_text())
    histogram = next(p for p in board["panels"] if "reference vs current" in p["title"])
    sql = histogram["targets"][0]["rawSql"]
    assert "ml_reference" in sql and "ml_features" in sql and "$__timeFilter(timestamp)" in sql


def test_fairness_dashboard_shows_every_summary_with_its_threshold(boards_dir: Path) -> None:
    board = json.loads((boards_dir / "modeltel-fairness.json").read_text())
    prom = [p for p in board["panels"] if p["datasource"]["type"] == "prometheus"]
    exprs = [[t["expr"].split("{")[0] for t in p["targets"]] for p in prom]
    for metric in SUMMARY_METRICS:
        (panel,) = [p for p in prom if f'ml_metric="{metric}"' in p["targets"][0]["expr"]]
        assert [t["expr"].split("{")[0] for t in panel["targets"]] == [
            "ml_fairness",
            "ml_fairness_threshold",
        ], panel["title"]
    assert ["ml_custom_metric", "ml_custom_metric_threshold"] in exprs
    assert any("ml_custom_metric_breached" in t["expr"] for p in prom for t in p["targets"])
    (gauge,) = [p for p in board["panels"] if p["type"] == "bargauge"]
    assert 'ml_metric="selection_rate"' in gauge["targets"][0]["expr"]
    assert gauge["targets"][0]["legendFormat"] == "{{ml_segment}}"


def test_promql_uses_only_served_metrics(boards_dir: Path) -> None:
    served = {g.prometheus for g in gauges()} | set(LOOP_SERIES) | {"ALERTS"}
    labels = {"ml_model_name", "ml_model_version", "ml_feature_name", "ml_drift_method"}
    labels |= {"ml_metric", "ml_source", "ml_analysis", "ml_metric_name", "ml_segment"}
    for target in dashboard_targets(boards_dir):
        if target.kind == "sql":
            continue
        names = set(re.findall(r"\b((?:ml|modeltel)_[a-z0-9_]+|ALERTS)\b", target.text)) - labels
        assert names <= served, f"{target.dashboard} {target.panel}: {names - served}"


def test_every_query_expands_completely(boards_dir: Path) -> None:
    values = {"model": "churn", "version": "1", "feature": "age"}
    tr = TimeRange(start=1_700_000_000, end=1_700_021_600, interval_s=30)
    targets = dashboard_targets(boards_dir)
    assert {t.kind for t in targets} == {"promql", "sql", "variable"}
    for target in targets:
        if target.kind == "sql":
            sql = expand_sql(target.text, values, tr)
            assert "toDateTime(1700000000)" in sql or "$__" not in target.text
            assert "'churn'" in sql
        else:
            expand_promql(target.text, values, tr, "2m")


def test_sql_variables_are_quoted_safely() -> None:
    tr = TimeRange(0, 60)
    sql = expand_sql("SELECT 1 WHERE model = ${model:sqlstring}", {"model": "x' OR 1=1 --"}, tr)
    assert sql == "SELECT 1 WHERE model = 'x'' OR 1=1 --'"
