"""Service health and data quality: exact latency percentiles, volume alerts, staleness,
per-feature quality ratios, features appeared/vanished and outliers; config validation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modeltel.analyzer.base.errors import ConfigError, NotFoundError
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.inputs.reference import upload_reference
from modeltel.analyzer.orchestration.analyzer import Analyzer
from support.perfdata import T0, at, insert_features, insert_predictions, realized, value

HOUR_S = 3600


def test_latency_errors_throughput_and_class_shares(store) -> None:
    rng = np.random.default_rng(1)
    calls = 400
    latency = rng.lognormal(-4, 0.8, calls)
    errors = (rng.random(calls) < 0.1).astype(int)
    ids, times, lat, err, index, labels = [], [], [], [], [], []
    for call in range(calls):
        size = 1 + call % 3  # batches of 1-3 rows share the call's latency
        for row in range(size):
            ids.append(f"s{call}-{row}")
            times.append(at(call * 9))
            lat.append(latency[call])
            err.append(errors[call])
            index.append(row)
            labels.append("a" if (call + row) % 4 else "b")
    insert_predictions(
        store, "svc", ids, times, labels=labels, latency=lat, errors=err, row_index=index
    )
    out = Analyzer(store).service("svc", "1", window=Window(T0, at(HOUR_S)), write=False)
    for q, name in ((50, "latency_p50"), (95, "latency_p95"), (99, "latency_p99")):
        assert value(out, name) == pytest.approx(np.percentile(latency, q), rel=1e-12)
        assert realized(out, name)["current_size"] == calls
    assert value(out, "error_ratio") == pytest.approx(errors.mean())
    assert realized(out, "error_ratio")["status"] == ("alert" if errors.mean() > 0.05 else "ok")
    assert value(out, "volume") == len(ids)
    assert value(out, "throughput") == pytest.approx(len(ids) / HOUR_S)
    shares = out[out.metric == "prediction_share"].set_index("feature").value
    assert shares["b"] == pytest.approx(labels.count("b") / len(labels))
    assert shares.sum() == pytest.approx(1.0)
    assert value(out, "last_seen") == pytest.approx(at((calls - 1) * 9).timestamp())


def test_volume_spike_drop_and_staleness(store) -> None:
    per_hour = {0: 100, 1: 100, 2: 100, 3: 400, 4: 20, 5: 0}
    ids, times = [], []
    for hour, count in per_hour.items():
        for i in range(count):
            ids.append(f"v{hour}-{i}")
            times.append(at(hour * HOUR_S + i * HOUR_S / count))
    insert_predictions(store, "vol", ids, times, labels=["a"] * len(ids))
    config = {"service": {"max_staleness": "30m", "baseline_windows": 3}}
    out = Analyzer(store, config).service(
        "vol", "1", window="1h", start=at(HOUR_S), end=at(6 * HOUR_S), write=False
    )
    ratio = out[out.metric == "volume_ratio"].sort_values("window_start")
    # hour 1: baseline hour 0 only; hour 3: mean(100, 100, 100); hour 4: mean(100, 100, 400)
    assert list(ratio.value.round(6)) == [1.0, 1.0, 4.0, 0.1, 0.0]
    assert list(ratio.status) == ["ok", "ok", "alert", "alert", "alert"]
    assert json.loads(ratio.iloc[3]["details"])["baseline"] == pytest.approx(200.0)
    stale = out[out.metric == "staleness"].sort_values("window_start")
    last = max(times)
    assert stale.iloc[-1]["value"] == pytest.approx((at(6 * HOUR_S) - last).total_seconds())
    assert stale.iloc[-1]["status"] == "alert" and stale.iloc[0]["status"] == "ok"
    empty = out[pd.to_datetime(out.window_start, utc=True) == pd.Timestamp(at(5 * HOUR_S))]
    assert set(empty[empty.metric.str.startswith("latency")].status) == {"no_data"}
    assert float(empty[empty.metric == "volume"].value.iloc[0]) == 0.0


def quality_data(store) -> dict[str, object]:
    rng = np.random.default_rng(4)
    reference = pd.DataFrame(
        {
            "age": rng.normal(40, 8, 3000),
            "plan": rng.choice(["basic", "gold", "pro"], 3000),
            "legacy_score": rng.random(3000),
        }
    )
    upload_reference(store, "q", reference, version="1")
    n = 1000
    ids = [f"q{i}" for i in range(n)]
    times = [at(i * 3) for i in range(n)]
    age = rng.normal(40, 8, n)
    age[:30] = 150.0  # out of the reference range
    present = np.ones(n, dtype=bool)
    present[100:180] = False  # attribute absent: missing
    texts = [None] * n
    wrong = list(range(200, 210))  # a numerical feature that received text
    numbers = list(age)
    for i in wrong:
        numbers[i], texts[i] = None, "unknown"
    keep = np.flatnonzero(present)
    insert_features(
        store,
        "q",
        "age",
        [ids[i] for i in keep],
        [times[i] for i in keep],
        numbers=[numbers[i] for i in keep],
        texts=[texts[i] for i in keep],
    )
    plan = rng.choice(["basic", "gold", "pro"], n).astype(object)
    plan[:30] = "platinum"  # new category, on the same rows as the extreme ages
    insert_features(store, "q", "plan", ids, times, texts=list(plan), categorical=True)
    insert_features(
        store, "q", "device", ids[:50], times[:50], texts=["ios"] * 50, categorical=True
    )
    insert_predictions(store, "q", ids, times, labels=["1"] * n)
    values = np.array([numbers[i] for i in keep if numbers[i] is not None])
    low, high = reference["age"].min(), reference["age"].max()
    return {
        "n": n,
        "missing": (~present).sum(),
        "wrong": len(wrong),
        "present": present.sum(),
        "out_of_range": int(((values < low) | (values > high)).sum()),
    }


def test_quality_ratios_vanished_and_new_features(store) -> None:
    facts = quality_data(store)
    out = Analyzer(store).quality("q", "1", window=Window(T0, at(HOUR_S)), write=False)

    def get(feature: str, metric: str) -> pd.Series:
        rows = out[(out.feature == feature) & (out.metric == metric)]
        assert len(rows) == 1, (feature, metric)
        return rows.iloc[0]

    n = facts["n"]
    assert get("age", "missing_ratio")["value"] == pytest.approx(facts["missing"] / n)
    numeric = facts["present"] - facts["wrong"]
    assert get("age", "wrong_type_ratio")["value"] == pytest.approx(
        facts["wrong"] / facts["present"]
    )
    assert facts["out_of_range"] >= 30
    assert get("age", "out_of_range_ratio")["value"] == pytest.approx(
        facts["out_of_range"] / numeric
    )
    assert get("age", "out_of_range_ratio")["status"] == "ok"  # 3.3% < 5%
    assert get("plan", "new_category_ratio")["value"] == pytest.approx(30 / n)
    assert get("legacy_score", "feature_vanished")["value"] == 1.0
    assert get("legacy_score", "feature_vanished")["status"] == "alert"
    assert get("legacy_score", "missing_ratio")["value"] == 1.0
    assert get("age", "feature_vanished")["value"] == 0.0
    assert get("device", "feature_new")["status"] == "warning"
    # both extreme age and new plan on the first 30 rows: 2 features out → outliers
    outliers = out[out.metric == "outlier_ratio"].iloc[0]
    assert pd.isna(outliers["feature"]) and outliers["value"] == pytest.approx(30 / n)

    bounded = Analyzer(store, {"quality": {"features": {"age": {"min": 0, "max": 45}}}})
    out = bounded.quality("q", "1", window=Window(T0, at(HOUR_S)), write=False)
    rows = out[(out.feature == "age") & (out.metric == "out_of_range_ratio")]
    assert json.loads(rows.iloc[0]["details"])["max"] == 45
    assert rows.iloc[0]["status"] == "alert"


def test_worst_outliers_are_listed_first(store) -> None:
    quality_data(store)
    top = Analyzer(store).outliers("q", "1", window=Window(T0, at(HOUR_S)), limit=5)
    assert list(top.columns) == [
        "version",
        "prediction_id",
        "timestamp",
        "score",
        "severity",
        "features",
    ]
    assert len(top) == 5
    assert set(top.prediction_id) <= {f"q{i}" for i in range(30)}
    assert all(list(f) == ["age", "plan"] for f in top.features)
    assert (top.score == 2).all() and top.severity.is_monotonic_decreasing


BAD_CONFIGS = [
    ({"performance": {"thresholds": {"acuracy": 0.8}}}, "performance.thresholds.acuracy"),
    ({"performance": {"window_size": -5}}, "performance.window_size"),
    ({"performance": {"models": {"churn": {"task": "ranking"}}}}, "performance.models.churn"),
    ({"performance": {"min_label_coverage": 2}}, "performance.min_label_coverage"),
    ({"service": {"volume_drop": 5}}, "service.volume_drop"),
    ({"service": {"max_staleness": "soon"}}, "service.max_staleness"),
    ({"quality": {"outliers": {"quantiles": [0.9, 0.1]}}}, "quality.outliers.quantiles"),
    ({"quality": {"features": {"age": {"min": 5, "max": 1}}}}, "quality.features.age"),
]


def test_bad_config_names_the_key(store) -> None:
    for config, path in BAD_CONFIGS:
        with pytest.raises(ConfigError, match=path.replace(".", r"\.")):
            Analyzer(store, config)


def test_empty_windows_and_unknown_versions_say_so(store) -> None:
    insert_predictions(store, "thin", ["t1"], [at(10)], labels=["1"], scores=[0.9])
    upload_reference(store, "thin", pd.DataFrame({"age": [1.0, 2.0, 3.0]}), version="1")
    analyzer = Analyzer(store)
    later = {"window": "1h", "start": at(HOUR_S), "end": at(3 * HOUR_S)}
    for name in ("performance", "quality"):
        out = getattr(analyzer, name)("thin", "1", **later, write=False)
        assert len(set(out.window_start)) == 2, name  # both empty hours are reported
        assert set(out.status) == {"no_data"}, name
        assert all("no predictions" in json.loads(d)["reason"] for d in out.details), name
    sliding = analyzer.performance("thin", "1", window=Window(T0, at(HOUR_S)), sliding=(10, 5))
    assert list(sliding.status) == ["no_data"] and "no full window of 10" in sliding.details[0]
    for name in ("performance", "service", "quality"):
        with pytest.raises(NotFoundError, match="has no predictions of version '9'"):
            getattr(analyzer, name)("thin", "9", window=Window(T0, at(HOUR_S)))
