"""The loop's windows follow the data: a model whose traffic paused, or one scored in a daily
batch, is analysed on its latest traffic, not on an empty trailing hour; a model with nothing
new is not analysed again (only its staleness moves on) until labels or predictions arrive;
a cycle asked about the past (a backfill) still analyses what it is asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from modeltel.analyzer.base.results import read_results
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.inputs.labels import upload_labels
from modeltel.analyzer.inputs.reference import upload_reference
from modeltel.analyzer.orchestration.loop import AnalysisLoop
from modeltel.analyzer.web.data import list_models
from support.drift import write_production

T0 = datetime(2026, 5, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
CONFIG = {"retrain": {"rules": [{"drifted_features": 1}]}}


def _model(store, model: str, start: datetime, n: int, step: timedelta, prefix: str) -> list[str]:
    rng = np.random.default_rng(len(prefix))
    return write_production(
        store,
        model,
        "1",
        {"x": list(rng.normal(1.0, 1.0, n))},  # drifted from the reference's N(0, 1)
        start=start,
        step=step,
        labels=[str(v) for v in rng.integers(0, 2, n)],
        scores=list(rng.uniform(0, 1, n)),
        id_prefix=prefix,
    )


def _reference(store, model: str) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(0.0, 1.0, 1000), "label": rng.integers(0, 2, 1000)})
    upload_reference(store, model, frame, version="1", prediction_column="label")


def _drift_windows(store, model: str) -> dict[datetime, dict]:
    frame = read_results(store, model=model, kind="drift")
    rows = frame[frame["feature"] == "x"]
    return {
        pd.Timestamp(r.window_end).tz_localize(UTC).to_pydatetime(): r for r in rows.itertuples()
    }


def _kinds_at(store, model: str, end: datetime) -> set[str]:
    frame = read_results(store, model=model)
    ends = pd.to_datetime(frame["window_end"])
    return set(frame[ends == pd.Timestamp(end.replace(tzinfo=None))]["kind"])


def test_a_paused_model_is_analysed_on_its_latest_traffic_then_waits(store) -> None:
    ids = _model(store, "paused", T0, 600, timedelta(seconds=10), "p")  # until 01:39:50
    _reference(store, "paused")
    loop = AnalysisLoop(store, CONFIG, every=60)

    first = loop.run_once(now=(T0 + timedelta(hours=5)).timestamp())
    traffic_end = T0 + timedelta(hours=1, minutes=40)  # the minute after the last prediction
    assert first.waiting == []
    assert first.shifted == {("paused", "1"): Window(traffic_end - HOUR, traffic_end)}
    drift = _drift_windows(store, "paused")
    assert list(drift) == [traffic_end]
    assert drift[traffic_end].status == "drift"
    assert drift[traffic_end].current_size == 360  # [00:40, 01:40): six predictions a minute
    assert _kinds_at(store, "paused", T0 + timedelta(hours=5)) == set()  # no empty window

    second = loop.run_once(now=(T0 + timedelta(hours=6)).timestamp())
    assert second.waiting == [("paused", "1")]
    assert _kinds_at(store, "paused", T0 + timedelta(hours=6)) == {"service"}
    service = read_results(store, model="paused", kind="service")
    staleness = service[(service["metric"] == "staleness")].sort_values("window_end").iloc[-1]
    assert staleness["value"] == (6 * 3600) - (99 * 60 + 50)
    [entry] = list_models(store)
    assert entry["drifted_features"] == 1 and entry["features_checked"] == 1
    assert entry["retrain_recommended"] is True
    assert entry["last_analyzed"] == T0 + timedelta(hours=6)  # the service window

    def coverage() -> pd.DataFrame:
        frame = read_results(store, model="paused", kind="performance")
        return frame[frame["metric"] == "label_coverage"]

    assert list(coverage()["value"]) == [0.0]
    labels = pd.DataFrame({"prediction_id": ids[300:], "label": ["1"] * 300})
    upload_labels(store, "paused", labels)
    third = loop.run_once(now=(T0 + timedelta(hours=7)).timestamp())
    assert third.waiting == []  # labels arrived: the latest traffic is analysed again
    latest = coverage()[
        pd.to_datetime(coverage()["window_end"]) == traffic_end.replace(tzinfo=None)
    ]
    assert list(latest["value"]) == [300 / 360]  # ids 300… fall in [00:50, 01:40)

    fourth = loop.run_once(now=(T0 + timedelta(hours=8)).timestamp())
    assert fourth.waiting == [("paused", "1")]


def test_a_daily_batch_model_is_analysed_on_each_burst(store) -> None:
    day = timedelta(days=1)
    burst = T0 + timedelta(hours=2)
    _model(store, "nightly", burst, 300, timedelta(seconds=1), "a")  # 02:00:00 – 02:04:59
    _reference(store, "nightly")
    loop = AnalysisLoop(store, CONFIG, every=60)

    assert loop.run_once(now=(T0 + timedelta(hours=12)).timestamp()).waiting == []
    assert loop.run_once(now=(T0 + timedelta(hours=20)).timestamp()).waiting == [("nightly", "1")]
    _model(store, "nightly", burst + day, 300, timedelta(seconds=1), "b")
    assert loop.run_once(now=(T0 + day + timedelta(hours=12)).timestamp()).waiting == []

    drift = _drift_windows(store, "nightly")
    ends = [burst + timedelta(minutes=5), burst + day + timedelta(minutes=5)]
    assert sorted(drift) == ends  # one window per burst, none for the hours between
    assert [drift[end].current_size for end in ends] == [300, 300]  # each burst whole


def test_a_cycle_asked_about_the_past_analyses_it(store) -> None:
    _model(store, "replayed", T0, 600, timedelta(seconds=10), "r")
    _reference(store, "replayed")
    loop = AnalysisLoop(store, CONFIG, every=60)
    loop.run_once(now=(T0 + timedelta(hours=2)).timestamp())
    backfill = loop.run_once(now=(T0 + timedelta(hours=1)).timestamp())
    assert backfill.waiting == []
    drift = _drift_windows(store, "replayed")
    assert sorted(drift) == [T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert drift[T0 + timedelta(hours=1)].current_size == 360
