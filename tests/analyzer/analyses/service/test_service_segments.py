"""Service per segment (``service.segment_by``): per ``service.name``, categorical feature and
numeric decile bin, computed in the same statements as the overall numbers and equal to
pandas / numpy on the rows of each segment, for every version of a model at once."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modeltel.analyzer.analyses.service import load_service_config, service_results
from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.query import TimeWindows
from modeltel.analyzer.base.segments import decile_edges
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.orchestration.analyzer import Analyzer
from support.perfdata import T0, at, insert_features

HOUR_S = 3600
WINDOWS = [Window(at(0), at(HOUR_S)), Window(at(HOUR_S), at(2 * HOUR_S))]
CALLS = {"api-a": 300, "api-b": 300, "api-c": 200, "api-tiny": 12}
"""Calls per service and window; api-tiny's (about 18 predictions) are below the minimum."""
CONFIG = {
    "service": {
        "segment_by": ["service.name", "plan", "amount"],
        "min_segment_size": 50,
        "thresholds": {"latency_p99": 0.2},
    }
}
QUANTILES = {"latency_p50": 0.5, "latency_p95": 0.95, "latency_p99": 0.99}


def traffic(store, version: str, bad: str, seed: int) -> pd.DataFrame:
    """Calls of 1–2 predictions to every service of :data:`CALLS` in both windows, with
    sampling weights 1 or 2; ``bad`` fails a third of its calls and is slow. One row per
    prediction, as stored."""
    rng = np.random.default_rng(seed)
    rows = []
    for window in range(len(WINDOWS)):
        for service, calls in CALLS.items():
            for call in range(calls):
                failed = rng.random() < (0.3 if service == bad else 0.01)
                latency = rng.lognormal(np.log(0.5 if service == bad else 0.02), 0.3)
                weight = float(rng.choice([1.0, 2.0]))
                when = at(window * HOUR_S + rng.uniform(0, HOUR_S - 1))
                for row in range(1 + call % 2):
                    rows.append(
                        {
                            "id": f"{version}-{window}-{service}-{call}-{row}",
                            "timestamp": when,
                            "window": window,
                            "service": service,
                            "row_index": row,
                            "latency": latency,
                            "is_error": int(failed),
                            "error_type": str(rng.choice(["timeout", "oom"])) if failed else "",
                            "weight": weight,
                            "label": str(rng.choice(["a", "b"], p=[0.7, 0.3])),
                            "plan": rng.choice(["basic", "pro", None], p=[0.6, 0.3, 0.1]),
                            "amount": round(float(rng.normal(100, 30)), 2),
                        }
                    )
    frame = pd.DataFrame(rows)
    n = len(frame)
    columns = {
        "model": ["svc"] * n,
        "version": [version] * n,
        "timestamp": list(frame.timestamp),
        "prediction_id": list(frame.id),
        "task": ["classification"] * n,
        "prediction_label": list(frame.label),
        "latency_s": [float(x) for x in frame.latency],
        "batch_size": [1] * n,
        "row_index": [int(x) for x in frame.row_index],
        "is_error": [int(x) for x in frame.is_error],
        "service_name": list(frame.service),
        "trace_id": [""] * n,
        "span_id": [""] * n,
        "weight": [float(x) for x in frame.weight],
        "error_type": list(frame.error_type),
    }
    store.insert("ml_predictions", list(columns.values()), list(columns), column_oriented=True)
    planned = frame[frame.plan.notna()]
    insert_features(
        store, "svc", "plan", list(planned.id), list(planned.timestamp),
        texts=list(planned.plan), categorical=True, version=version,
    )  # fmt: skip
    insert_features(
        store, "svc", "amount", list(frame.id), list(frame.timestamp),
        numbers=list(frame.amount), version=version,
    )  # fmt: skip
    return frame


def bin_name(edges: tuple[float, ...], index: int) -> str:
    if index == 0:
        return f"amount=< {edges[0]:.4g}"
    if index == len(edges):
        return f"amount=≥ {edges[-1]:.4g}"
    return f"amount=[{edges[index - 1]:.4g}, {edges[index]:.4g})"


def with_segments(store, frame: pd.DataFrame, version: str) -> pd.DataFrame:
    """``frame`` with the three segments of each row (the deciles are the version's own: the
    model has no reference)."""
    spec = TimeWindows.from_windows(WINDOWS)
    edges = decile_edges(store, "svc", version, spec, ["amount"])["amount"]
    assert len(edges) == 9
    bins = np.searchsorted(np.array(edges), frame.amount.to_numpy(), side="right")
    return frame.assign(
        s_service="service.name=" + frame.service,
        s_plan=["plan=" + (p if isinstance(p, str) else "(missing)") for p in frame.plan],
        s_amount=[bin_name(edges, int(b)) for b in bins],
    )


def by_key(results) -> dict[tuple, object]:
    out = {}
    for r in results:
        key = (r.version, r.window_start, r.segment, r.metric, r.feature)
        assert key not in out, key
        out[key] = r
    return out


@pytest.fixture
def two_versions(store):
    """Version 1 where api-a is bad, version 2 where api-b is, analysed in one pass."""
    truth = {"1": traffic(store, "1", "api-a", 3), "2": traffic(store, "2", "api-b", 4)}
    truth = {v: with_segments(store, frame, v) for v, frame in truth.items()}
    results = service_results(
        store, [("svc", "1"), ("svc", "2")], WINDOWS, load_service_config(CONFIG)
    )
    return truth, results


def test_segment_statistics_equal_pandas_and_numpy(two_versions) -> None:
    truth, results = two_versions
    mine = by_key(results)
    checked = 0
    for version, frame in truth.items():
        for column in ("s_service", "s_plan", "s_amount"):
            for (window, segment), rows in frame.groupby(["window", column]):
                start = WINDOWS[window].start
                if len(rows) < 50:
                    continue
                calls = rows[rows.row_index == 0]

                def record(metric, feature=None):
                    return mine[(version, start, segment, metric, feature)]  # noqa: B023

                ratio = (calls.weight * calls.is_error).sum() / calls.weight.sum()
                assert record("error_ratio").value == pytest.approx(ratio, rel=1e-12)
                assert record("error_ratio").current_size == round(calls.weight.sum())
                for metric, q in QUANTILES.items():
                    expected = np.quantile(calls.latency.to_numpy(), q)
                    assert record(metric).value == pytest.approx(expected, rel=1e-12)
                    assert record(metric).current_size == len(calls)
                assert record("volume").value == rows.weight.sum()
                assert record("throughput").value == pytest.approx(rows.weight.sum() / HOUR_S)
                for label, weight in rows.groupby("label").weight.sum().items():
                    share = record("prediction_share", label).value
                    assert share == pytest.approx(weight / rows.weight.sum(), rel=1e-12)
                failed = calls[calls.is_error == 1]
                for error_type, weight in failed.groupby("error_type").weight.sum().items():
                    value = record("error_type_ratio", error_type).value
                    assert value == pytest.approx(weight / calls.weight.sum(), rel=1e-12)
                for overall_only in ("volume_ratio", "last_seen", "staleness"):
                    assert (version, start, segment, overall_only, None) not in mine
                checked += 1
    # 3 services, 2 plans + (missing), 10 bins: per window and version
    assert checked == 2 * 2 * (3 + 3 + 10)


def test_the_bad_service_alerts_in_each_version(two_versions) -> None:
    _, results = two_versions
    for version, bad in (("1", "api-a"), ("2", "api-b")):
        for window in WINDOWS:
            status = {
                (r.segment, r.metric): r.status
                for r in results
                if r.version == version and r.window_start == window.start
            }
            for service in ("api-a", "api-b", "api-c"):
                expected = "alert" if service == bad else "ok"
                segment = f"service.name={service}"
                assert status[(segment, "error_ratio")] == expected, (version, service)
                assert status[(segment, "latency_p99")] == expected, (version, service)
            # every version's overall error ratio is above 5% because of its bad service
            assert status[("", "error_ratio")] == "alert"


def test_small_segments_get_no_data_with_the_reason(two_versions) -> None:
    truth, results = two_versions
    for version, frame in truth.items():
        for window, rows in frame[frame.service == "api-tiny"].groupby("window"):
            tiny = [
                r
                for r in results
                if r.version == version
                and r.window_start == WINDOWS[window].start
                and r.segment == "service.name=api-tiny"
            ]
            assert {r.metric for r in tiny} >= {"latency_p99", "error_ratio", "volume"}
            assert {r.status for r in tiny} == {"no_data"}
            assert all(r.value is None and r.threshold is None for r in tiny)
            reason = tiny[0].details["reason"]
            assert f"{len(rows)} prediction(s)" in reason and "min_segment_size (50)" in reason


def test_overall_records_are_the_unsegmented_ones(two_versions, store) -> None:
    _, results = two_versions
    unsegmented = {"service": {**CONFIG["service"], "segment_by": []}}
    targets = [("svc", "1"), ("svc", "2")]
    plain = service_results(store, targets, WINDOWS, load_service_config(unsegmented))
    assert {r.segment for r in plain} == {""}
    assert [r for r in results if r.segment == ""] == plain


def test_segment_by_option_and_config_errors(store) -> None:
    traffic(store, "1", "api-c", 5)
    analyzer = Analyzer(store)
    out = analyzer.run(
        "service", "svc", "1", start=T0, end=at(HOUR_S), window="1h", write=False,
        segment_by="service.name",
    )  # fmt: skip
    assert set(out.segment) == {"", *(f"service.name={s}" for s in CALLS)}
    bad = out[(out.segment == "service.name=api-c") & (out.metric == "error_ratio")]
    assert list(bad.status) == ["alert"] and json.loads(bad.iloc[0].details)["calls"] > 0
    with pytest.raises(ConfigError, match="'regoin'"):
        analyzer.run("service", "svc", "1", window=WINDOWS[0], segment_by="regoin", write=False)
    with pytest.raises(ConfigError, match=r"service\.max_segments must be at most 200"):
        Analyzer(store, {"service": {"max_segments": 201}})
    with pytest.raises(ConfigError, match=r"service\.min_segment_size"):
        Analyzer(store, {"service": {"min_segment_size": 0}})
    with pytest.raises(ConfigError, match=r"service\.segment_by"):
        Analyzer(store, {"service": {"segment_by": [3]}})
