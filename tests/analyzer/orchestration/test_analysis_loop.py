"""The analysis loop: active models only, one failing analysis never stops the others, and
each cycle's duration and failures are published beside the results."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.listings import model_versions
from modeltel.analyzer.base.results import make_results, read_results, write_results
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.export import MetricsPublisher
from modeltel.analyzer.export.publisher import LOOP_SERIES
from modeltel.analyzer.orchestration.loop import AnalysisLoop, LoopSettings
from support.results import series

COLUMNS = ["model", "version", "timestamp", "prediction_id", "latency_s", "batch_size", "row_index"]


def predictions(store, model: str, version: str, times: list[datetime]) -> None:
    rows = [[model, version, t, f"{model}-{i}", 0.01, 1, 0] for i, t in enumerate(times)]
    store.insert("ml_predictions", rows, COLUMNS)


def volume_runner(store):
    """A real analysis for the loop to run: prediction volume of the window, by SQL."""

    def run(model: str, version: str, window: Window) -> None:
        (count,) = store.query_rows(
            "SELECT count() FROM ml_predictions WHERE model = {m:String} AND version = {v:String}"
            " AND timestamp >= {s:DateTime64(3)} AND timestamp < {e:DateTime64(3)}",
            parameters={"m": model, "v": version, "s": window.start, "e": window.end},
        )[0]
        write_results(
            store,
            make_results(
                [
                    {
                        "model": model,
                        "version": version,
                        "window_start": window.start,
                        "window_end": window.end,
                        "kind": "service",
                        "metric": "volume",
                        "value": count,
                        "status": "info",
                    }
                ]
            ),
        )

    return run


def failing_for(model: str):
    def run(m: str, version: str, window: Window) -> None:
        if m == model:
            raise RuntimeError(f"no reference for {m}")

    return run


def test_one_failing_model_does_not_stop_the_others(store) -> None:
    now = datetime.now(UTC)
    predictions(store, "churn", "3", [now - timedelta(minutes=m) for m in range(5, 25)])
    predictions(store, "broken", "1", [now - timedelta(minutes=10)])
    predictions(store, "retired", "1", [now - timedelta(days=30)])  # not active
    publisher = MetricsPublisher(store, exporter=False)
    try:
        loop = AnalysisLoop(
            store,
            {"retrain": {"rules": []}},
            every=60,
            publisher=publisher,
            runners={"drift": failing_for("broken"), "service": volume_runner(store)},
        )
        report = loop.run_once()
        assert report.analyzed == [("broken", "1"), ("churn", "3")]
        assert [(f.model, f.analysis) for f in report.failures] == [("broken", "drift")]
        assert "no reference for broken" in report.failures[0].error
        assert report.window.end == datetime.fromtimestamp(
            int(report.window.end.timestamp()) // 60 * 60, UTC
        )
        results = read_results(store)
        volume = results[(results.kind == "service") & (results.metric == "volume")]
        assert dict(zip(volume.model, volume.value, strict=True)) == {"churn": 20.0, "broken": 1.0}
        health = results[results.kind == "health"]
        assert sorted(zip(health.model, health.metric, strict=True)) == [
            ("broken", "health_score"),
            ("broken", "retrain_recommended"),
            ("churn", "health_score"),
            ("churn", "retrain_recommended"),
        ]
        text = publisher.prometheus_text().decode()
    finally:
        publisher.shutdown()
    failures = series(text, "modeltel_analyzer_failures_total")
    key = lambda m, a: (  # noqa: E731
        ("ml_analysis", a),
        ("ml_model_name", m),
        ("ml_model_version", "3" if m == "churn" else "1"),
    )
    assert failures[key("broken", "drift")] == 1.0
    assert failures[key("churn", "drift")] == 0.0
    assert failures[key("churn", "service")] == 0.0
    assert series(text, "modeltel_analyzer_cycles_total") == {(): 1.0}
    assert series(text, "modeltel_analyzer_models") == {(): 2.0}
    assert series(text, "modeltel_analyzer_cycle_duration_seconds_count") == {(): 1.0}
    assert series(text, "modeltel_analyzer_cycle_interval_seconds") == {(): 60.0}
    assert all(f"\n{name}" in text for name in LOOP_SERIES)  # what rules and dashboards use
    assert series(text, "modeltel_analyzer_cycle_overruns_total") == {(): 0.0}
    assert series(text, "modeltel_analyzer_cycle_last_duration_seconds") == {
        (): pytest.approx(report.duration_s)
    }
    assert (
        series(text, "modeltel_analyzer_cycle_failures")[
            (("ml_model_name", "broken"), ("ml_model_version", "1"))
        ]
        == 1.0
    )
    assert series(text, "ml_volume")[(("ml_model_name", "churn"), ("ml_model_version", "3"))] == 20


def test_a_cycle_longer_than_its_interval_is_an_overrun(store, caplog) -> None:
    now = datetime.now(UTC)
    predictions(store, "churn", "3", [now - timedelta(minutes=1)])

    def slow(model: str, version: str, window) -> None:
        time.sleep(0.3)  # longer than the loop's 0.2 s interval, whatever the machine

    publisher = MetricsPublisher(store, exporter=False)
    try:
        loop = AnalysisLoop(store, {}, every=0.2, publisher=publisher, runners={"drift": slow})
        report = loop.run_once()
        text = publisher.prometheus_text().decode()
    finally:
        publisher.shutdown()
    assert report.overran(0.2)
    assert series(text, "modeltel_analyzer_cycle_overruns_total") == {(): 1.0}
    assert series(text, "modeltel_analyzer_cycle_interval_seconds") == {(): 0.2}
    assert "longer than its 0.2s interval" in caplog.text


def test_store_failure_is_a_counted_cycle_failure(store) -> None:
    publisher = MetricsPublisher(store, exporter=False)
    try:
        loop = AnalysisLoop(store, {}, every=60, publisher=publisher, runners={})
        store.command("DROP TABLE ml_predictions")  # the store refuses the listing query
        report = loop.run_once()
        assert report.analyzed == []
        assert [f.analysis for f in report.failures] == ["cycle"]
        text = publisher.prometheus_text().decode()
    finally:
        publisher.shutdown()
    assert series(text, "modeltel_analyzer_failures_total")[(("ml_analysis", "cycle"),)] == 1.0


def test_background_thread_runs_cycles_and_stops(store) -> None:
    predictions(store, "churn", "3", [datetime.now(UTC) - timedelta(minutes=1)])
    cycles = []

    def count(model: str, version: str, window: Window) -> None:
        cycles.append(window)

    loop = AnalysisLoop(store, {}, every=0.2, runners={"count": count})
    loop.start()
    deadline = time.monotonic() + 30
    while len(cycles) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    loop.stop()
    assert time.monotonic() - started < 10
    assert len(cycles) >= 2
    assert cycles[1].end > cycles[0].end  # sub-second periods use the exact time


def test_active_models_and_settings(store) -> None:
    now = datetime.now(UTC)
    predictions(store, "a", "1", [now - timedelta(hours=2)])
    predictions(store, "a", "2", [now - timedelta(days=3)])
    assert model_versions(store, now - timedelta(days=1)) == [("a", "1")]
    assert model_versions(store, now - timedelta(days=7)) == [("a", "1"), ("a", "2")]
    settings = LoopSettings.from_config(
        {"loop": {"window": "15m", "active_within": "1d", "metrics_max_age": "2h"}}, environ={}
    )
    assert settings == LoopSettings(900.0, 86400.0, 7200.0)
    assert LoopSettings.from_config({}, environ={"MODELTEL_ANALYZE_WINDOW": "30m"}).window_s == 1800
    with pytest.raises(ConfigError, match=r"loop\.window"):
        LoopSettings.from_config({"loop": {"window": "soon"}}, environ={})
    with pytest.raises(ConfigError, match=r"loop\.windw is not known"):
        LoopSettings.from_config({"loop": {"windw": "1h"}}, environ={})
    with pytest.raises(ConfigError, match=r"loop\.active_within must be positive"):
        LoopSettings.from_config({"loop": {"active_within": "0s"}}, environ={})
