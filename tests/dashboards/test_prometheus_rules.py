"""The alert rules: promtool's unit tests, rule and config checks, and the contract that every
alert the issue lists exists with a severity and annotations for the on-call person."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from modeltel.analyzer.analyses.fairness import DEFAULT_THRESHOLDS, LOWER_IS_WORSE
from modeltel.analyzer.export.catalog import gauges
from modeltel.analyzer.export.publisher import LOOP_SERIES

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: apt-get install prometheus"
)


@pytest.fixture(scope="module")
def prom_dir(repo_root: Path) -> Path:
    return repo_root / "dashboards" / "prometheus"


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None, "promtool is missing: apt-get install prometheus (./dev test does)"
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_rule_unit_tests_pass(prom_dir: Path) -> None:
    done = promtool("test", "rules", "modeltel-rules.test.yml", cwd=prom_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_rules_and_config_are_valid(prom_dir: Path, tmp_path: Path) -> None:
    done = promtool("check", "rules", "modeltel-rules.yml", cwd=prom_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    # the compose config names the rule file by its path inside the container
    config = yaml.safe_load((prom_dir / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/modeltel-rules.yml"]
    config["rule_files"] = [str(prom_dir / "modeltel-rules.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    done = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


REQUIRED = {
    "ModelFeatureDrift",  # feature drift
    "ModelDatasetDrift",  # drifted-feature share
    "ModelPerformanceDrop",  # realized performance drop
    "ModelEstimatedPerformanceDrop",  # estimated performance drop
    "ModelLatencyP99High",  # p99 latency spike
    "ModelErrorRatioHigh",  # error ratio
    "ModelVolumeDrop",  # prediction volume drop
    "ModelVolumeSpike",  # prediction volume spike
    "ModelPredictionsStale",  # no predictions for 30 minutes
    "ModelLabelCoverageLow",  # label coverage drop
    "ModelRetrainRecommended",  # retrain recommended
    "ModelMultivariateDrift",  # the inputs drifted jointly (PCA reconstruction error)
    "ModelOutlierPredictionsHigh",  # share of multivariate outlier predictions
    "ModelAttributionDrift",  # the model relies on different features
    "ModelCustomMetricOutOfBounds",  # a custom SQL metric outside its configured bounds
    "ModelDisparateImpact",  # the four-fifths rule
    "ModelFairnessThresholdCrossed",  # a fairness gap past its configured threshold
}


def rules(prom_dir: Path) -> list[dict]:
    data = yaml.safe_load((prom_dir / "modeltel-rules.yml").read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def test_every_listed_alert_exists_with_severity_and_guidance(prom_dir: Path) -> None:
    alerts = {rule["alert"]: rule for rule in rules(prom_dir)}
    assert set(alerts) >= REQUIRED
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        notes = rule["annotations"]
        assert {"summary", "description", "dashboard"} <= set(notes), name
        assert "$labels.ml_model_name" in notes["summary"] or name.startswith("Modeltel"), name
        assert len(notes["description"].split()) >= 20, f"{name}: description too thin to act on"
        assert notes["dashboard"].startswith("/d/modeltel-"), name
    assert "1800" in alerts["ModelPredictionsStale"]["expr"]  # 30 minutes
    assert "< 0.8" in alerts["ModelDisparateImpact"]["expr"]  # four fifths, whatever the config
    for name in ("ModelCustomMetricOutOfBounds", "ModelDisparateImpact"):
        assert "/d/modeltel-fairness?" in alerts[name]["annotations"]["dashboard"], name


def test_fairness_alerts_split_the_summary_metrics(prom_dir: Path) -> None:
    """Disparate impact is the four-fifths rule's; the threshold alert takes the other three."""
    alerts = {rule["alert"]: rule for rule in rules(prom_dir)}
    crossed = alerts["ModelFairnessThresholdCrossed"]["expr"]
    others = set(DEFAULT_THRESHOLDS) - LOWER_IS_WORSE
    assert all(name in crossed for name in others)
    assert not any(name in crossed for name in LOWER_IS_WORSE)
    assert "disparate_impact_ratio" in alerts["ModelDisparateImpact"]["expr"]


def test_rules_only_use_metrics_the_analyzer_serves(prom_dir: Path) -> None:
    served = {g.prometheus for g in gauges()} | set(LOOP_SERIES)
    for rule in rules(prom_dir):
        names = set(re.findall(r"\b((?:ml|modeltel)_[a-z0-9_]+)\b", rule["expr"]))
        names -= {n for n in names if n.startswith(("ml_model_", "ml_feature_", "ml_drift_method"))}
        names -= {"ml_metric", "ml_metric_name", "ml_source", "ml_segment", "ml_analysis"}
        assert names <= served, f"{rule['alert']}: unknown metrics {names - served}"
