"""One registry of analyses: an analysis defined here, in test code only, and registered runs in
the analysis loop, is served on /metrics and by the API, counts toward the health score and
takes per-model settings like every other section — no other module names it. The built-in
catalogues cover every metric the analyses produce."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest

from modeltel.analyzer.analyses import ANALYSES, metric_of, register
from modeltel.analyzer.analyses.performance.metrics import multiclass_metrics, regression_metrics
from modeltel.analyzer.base.analysis import Analysis, MetricSpec, per_version
from modeltel.analyzer.base.config import Section, check_keys, expect
from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.gauges import Gauge
from modeltel.analyzer.base.results import Result, Status, read_results
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.export import MetricsPublisher
from modeltel.analyzer.orchestration.analyzer import Analyzer
from modeltel.analyzer.orchestration.health import health_score
from modeltel.analyzer.orchestration.loop import AnalysisLoop
from support.results import series
from support.servers import start_server

KIND = "busy"
GAUGE = Gauge("ml.test.busy.predictions", "", "Predictions in the window (test analysis)")


@dataclass(frozen=True)
class BusySettings(Section):
    """``busy: {alert_above: N}``: alert when a window holds more than N predictions."""

    NAME = "busy"
    alert_above: int = 1000

    def parse(self, raw: Mapping[str, Any], path: str) -> BusySettings:
        check_keys(raw, {"alert_above", "models"}, path)
        if "alert_above" not in raw:
            return self
        limit = expect(raw["alert_above"], int, f"{path}.alert_above", "a count")
        return BusySettings(models=self.models, alert_above=int(limit))


def busy_windows(
    store: Store, model: str, version: str, windows: Sequence[Window], settings: BusySettings
) -> list[Result]:
    """The number of predictions per window, by SQL."""
    out = []
    for window in windows:
        (count,) = store.query_rows(
            "SELECT count() FROM ml_predictions WHERE model = {m:String} AND version = {v:String}"
            " AND timestamp >= {s:DateTime64(3)} AND timestamp < {e:DateTime64(3)}",
            parameters={"m": model, "v": version, "s": window.start, "e": window.end},
        )[0]
        out.append(
            Result(
                model=model,
                version=version,
                window_start=window.start,
                window_end=window.end,
                kind=KIND,
                metric="predictions",
                value=float(count),
                threshold=float(settings.alert_above),
                status=Status.ALERT if count > settings.alert_above else Status.OK,
                current_size=int(count),
            )
        )
    return out


BUSY = Analysis(
    kind=KIND,
    title="How busy the model is",
    settings=BusySettings,
    compute=per_version(busy_windows),
    metrics=(
        MetricSpec(
            "predictions", GAUGE, higher_is_better=False, bounds=(0.0, None), component="service"
        ),
    ),
)


@pytest.fixture
def busy() -> Iterator[Analysis]:
    register(BUSY)
    try:
        yield BUSY
    finally:
        ANALYSES.pop(KIND, None)


COLUMNS = ["model", "version", "timestamp", "prediction_id", "latency_s", "batch_size", "row_index"]


def predictions(store: Store, model: str, count: int, end: datetime) -> None:
    times = [end - timedelta(minutes=50) + timedelta(seconds=i) for i in range(count)]
    rows = [[model, "1", t, f"{model}-{i}", 0.01, 1, 0] for i, t in enumerate(times)]
    store.insert("ml_predictions", rows, COLUMNS)


def test_a_registered_analysis_runs_everywhere(store: Store, busy: Analysis) -> None:
    now = datetime.now(UTC)
    end = datetime.fromtimestamp(int(now.timestamp()) // 60 * 60, UTC)
    predictions(store, "calm", 5, end)
    predictions(store, "rush", 30, end)
    config = {"busy": {"alert_above": 10, "models": {"calm": {"alert_above": 2}}}}
    publisher = MetricsPublisher(store, exporter=False)
    try:
        loop = AnalysisLoop(store, config, every=60, publisher=publisher)
        report = loop.run_once(now=now.timestamp())
        assert report.analyzed == [("calm", "1"), ("rush", "1")]
        assert not [f for f in report.failures if f.analysis == KIND]
        text = publisher.prometheus_text().decode()
    finally:
        publisher.shutdown()

    # the loop's results: one record per model, the per-model override applied to "calm"
    stored = read_results(store, kind=KIND)
    by_model = {r["model"]: r for r in stored.to_dict("records")}
    assert {m: (r["value"], r["threshold"], r["status"]) for m, r in by_model.items()} == {
        "calm": (5.0, 2.0, "alert"),
        "rush": (30.0, 10.0, "alert"),
    }

    # /metrics serves its gauge
    served = series(text, GAUGE.prometheus)
    assert served == {
        (("ml_model_name", "calm"), ("ml_model_version", "1")): 5.0,
        (("ml_model_name", "rush"), ("ml_model_version", "1")): 30.0,
    }

    # the health score counts it toward the service component
    health = read_results(store, kind="health")
    score = health[(health.model == "rush") & (health.metric == "health_score")].iloc[0]
    assert "service: predictions 30 (alert)" in score["details"]
    assert health_score([by_model["rush"]]).components == {"service": 1.0}

    # the API answers it, stored or computed now
    running, stop = start_server(store)
    try:
        answer = httpx.get(f"{running.url}/api/models/rush/{KIND}")
        computed = httpx.get(
            f"{running.url}/api/models/calm/{KIND}",
            params={"start": (end - timedelta(hours=1)).isoformat(), "end": end.isoformat()},
        )
    finally:
        stop()
    assert answer.status_code == 200, answer.text
    assert [(r["metric"], r["value"], r["status"]) for r in answer.json()] == [
        ("predictions", 30.0, "alert")
    ]
    assert computed.status_code == 200, computed.text
    assert [r["value"] for r in computed.json()] == [5.0]


def test_a_registered_analysis_is_validated_and_listed(store: Store, busy: Analysis) -> None:
    with pytest.raises(ConfigError, match=r"busy\.models\.calm\.alert_above"):
        Analyzer(store, {"busy": {"models": {"calm": {"alert_above": "many"}}}})
    with pytest.raises(ConfigError, match="already known"):
        register(BUSY)
    analyzer = Analyzer(store, {"busy": {"alert_above": 3}})
    predictions(store, "rush", 4, datetime(2026, 3, 2, 11, tzinfo=UTC))
    frame = analyzer.analyze("rush", end=datetime(2026, 3, 2, 11, tzinfo=UTC), write=False)
    assert list(frame["kind"].unique())[-1] == KIND  # registered last, runs last
    assert frame[frame.kind == KIND]["status"].tolist() == ["alert"]


def test_every_section_takes_per_model_overrides(store: Store) -> None:
    config = {
        "drift": {"bins": 12},
        "performance": {"thresholds": {"accuracy": 0.8}},
        "service": {"max_staleness": "1h"},
        "quality": {"thresholds": {"missing_ratio": 0.2}},
        "attribution": {"top_k": 4},
        "multivariate": {"sigmas": 2},
    }
    override = {
        "drift": ("bins", 20),
        "performance": ("thresholds", {"accuracy": 0.9}),
        "service": ("max_staleness", "2h"),
        "quality": ("thresholds", {"missing_ratio": 0.5}),
        "attribution": ("top_k", 2),
        "multivariate": ("sigmas", 4),
    }
    for kind, (key, value) in override.items():
        config[kind]["models"] = {"churn": {key: value}}
    analyzer = Analyzer(store, config)
    assert set(analyzer.settings) == set(ANALYSES)
    churn = {kind: analyzer.settings[kind].for_model("churn") for kind in override}
    other = {kind: analyzer.settings[kind].for_model("other") for kind in override}
    assert (churn["drift"].bins, other["drift"].bins) == (20, 12)
    assert churn["performance"].thresholds == {"accuracy": 0.9}
    assert (churn["service"].max_staleness_s, other["service"].max_staleness_s) == (7200, 3600)
    assert churn["quality"].thresholds["missing_ratio"] == 0.5
    assert other["quality"].thresholds["missing_ratio"] == 0.2
    assert (churn["attribution"].top_k, other["attribution"].top_k) == (2, 4)
    assert (churn["multivariate"].sigmas, other["multivariate"].sigmas) == (4, 2)
    for kind in override:
        with pytest.raises(ConfigError, match=rf"{kind}\.models\.churn\.models"):
            Analyzer(store, {kind: {"models": {"churn": {"models": {}}}}})


def test_the_catalogues_cover_every_metric_computed() -> None:
    """Multiclass and regression metrics (the integration tests see binary models)."""
    performance = {m.name for m in ANALYSES["performance"].metrics}
    assert set(multiclass_metrics(np.eye(3))) <= performance
    assert set(regression_metrics(3, 1.0, 2.0, 3.0, 0.5)) <= performance
    for analysis in ANALYSES.values():
        names = [m.name for m in analysis.metrics]
        assert len(names) == len(set(names)), analysis.kind
        for spec in analysis.metrics:
            low, high = spec.bounds
            assert low is None or high is None or low < high, (analysis.kind, spec.name)
            assert spec.component in (None, "drift", "performance", "service", "quality")


def test_metric_of_finds_the_catalogue_entry() -> None:
    def record(**fields: Any) -> dict[str, Any]:
        return {"model": "m", "version": "1", **fields}

    assert metric_of(record(kind="drift", method="ks")).higher_is_better is True
    assert metric_of(record(kind="drift", method="psi")).higher_is_better is False
    weighted = metric_of(record(kind="performance", metric="precision_weighted"))
    assert weighted.higher_is_better is True and weighted.bounds == (0.0, 1.0)
    assert metric_of(record(kind="performance", metric="label_coverage")).component is None
    assert metric_of(record(kind="nothing", metric="x")) is None
    assert metric_of(record(kind="service", metric="nothing")) is None
