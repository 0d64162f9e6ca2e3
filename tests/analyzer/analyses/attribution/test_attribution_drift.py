"""Attribution drift end to end: a real scikit-learn model explained by a real SHAP explainer,
monitored by ``instrument``, spans exported by the OTel SDK to modeltel's receiver, importances
and rank statistics computed in ClickHouse; the statistics against scipy."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pandas as pd
import pytest
import shap
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression

from modeltel.analyzer.analyses.attribution import (
    AttributionConfig,
    load_attribution_config,
    rank_correlation,
    ranks,
    top_k_overlap,
)
from modeltel.analyzer.base.errors import ConfigError, NotFoundError
from modeltel.analyzer.base.results import to_records
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.export.snapshot import build_snapshot
from modeltel.analyzer.orchestration.analyzer import Analyzer
from modeltel.instrumentation import instrument

FEATURES = ["tenure", "charges", "calls", "age", "discount", "region_score"]


def test_statistics_match_scipy() -> None:
    rng = np.random.default_rng(8)
    for trial in range(50):
        n = int(rng.integers(2, 12))
        names = [f"f{i}" for i in range(n)]
        a = rng.integers(0, 4, n).astype(float) if trial % 2 else rng.random(n)  # ties or not
        b = rng.integers(0, 4, n).astype(float) if trial % 3 else rng.random(n)
        current, reference = dict(zip(names, a, strict=True)), dict(zip(names, b, strict=True))
        rho = rank_correlation(current, reference)
        if np.ptp(a) == 0 or np.ptp(b) == 0:
            assert rho is None  # scipy: undefined (ConstantInputWarning, nan)
        else:
            assert rho == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
    assert ranks({"a": 3.0, "b": 5.0, "c": 3.0}) == {"a": 2.5, "b": 1.0, "c": 2.5}
    overlap, k = top_k_overlap(
        {"a": 3, "b": 2, "c": 1, "d": 0}, {"a": 0, "b": 2, "c": 3, "d": 1}, 2
    )
    assert (overlap, k) == (0.5, 2)  # {a, b} vs {c, b}
    assert top_k_overlap({"a": 1.0}, {"b": 1.0}, 5) == (None, 0)
    assert rank_correlation({"a": 1.0}, {"a": 2.0}) is None


def test_config_is_validated() -> None:
    config = load_attribution_config(
        {
            "attribution": {
                "baseline": "2d",
                "top_k": 3,
                "thresholds": {"rank_correlation": 0.7},
                "reference_window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02"},
                "models": {"churn": {"top_k": 2}},
            }
        }
    )
    assert config.baseline_s == 2 * 86400 and config.top_k == 3
    assert config.thresholds == {"rank_correlation": 0.7, "top_k_overlap": 0.5}
    assert config.reference_window == Window(
        datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    )
    assert config.for_model("churn").top_k == 2 and config.for_model("other").top_k == 3
    for bad, message in (
        ({"top_k": 0}, "attribution.top_k must be positive"),
        ({"thresholds": {"spearman": 1}}, "attribution.thresholds.spearman is not known"),
        ({"baseline": "soon"}, "attribution.baseline"),
        ({"reference_window": {"start": "2026-01-02", "end": "2026-01-01"}}, "end is not after"),
        ({"colour": "red"}, "attribution.colour is not known"),
        ({"models": {"churn": {"top_k": "x"}}}, "attribution.models.churn.top_k"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_attribution_config({"attribution": bad})


def _phase(rng: np.random.Generator, n: int, *, wide_discount: bool) -> pd.DataFrame:
    data = rng.normal(size=(n, len(FEATURES)))
    if wide_discount:
        data[:, 4] *= 40.0  # a feature the model barely weighs now varies forty times more
    return pd.DataFrame(data, columns=FEATURES)


@pytest.fixture(scope="module")
def churn_model() -> tuple[LogisticRegression, pd.DataFrame]:
    rng = np.random.default_rng(21)
    train = _phase(rng, 2000, wide_discount=False)
    logits = (
        2.0 * train["tenure"]
        - 1.2 * train["charges"]
        + 0.7 * train["calls"]
        + 0.3 * train["age"]
        + 0.05 * train["discount"]
        + 0.15 * train["region_score"]
    )
    y = (logits + rng.logistic(size=len(train))) > 0
    return LogisticRegression(max_iter=1000).fit(train, y), train


def _serve(server, model, background, phases) -> list[tuple[datetime, datetime, pd.DataFrame]]:
    """Send each phase's batches through the instrumented model; return their time spans."""
    provider = TracerProvider(resource=Resource.create({"service.name": "churn-api"}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=server.url + "/v1/traces"))
    )
    explainer = shap.LinearExplainer(model, shap.maskers.Independent(background, max_samples=2000))
    instrument(
        model,
        name="churn",
        version="7",
        explainer=explainer.shap_values,
        attribution_rate=1.0,
        tracer_provider=provider,
        meter_provider=MeterProvider(),
    )
    spans = []
    try:
        for frame in phases:
            started = datetime.now(UTC)
            for first in range(0, len(frame), 50):
                model.predict_proba(frame.iloc[first : first + 50])
            provider.force_flush()
            ended = datetime.now(UTC) + timedelta(milliseconds=1)
            spans.append((started, ended, frame))
            time.sleep(0.01)
    finally:
        provider.shutdown()
    return spans


def test_model_relying_on_another_feature_is_detected(server, churn_model) -> None:
    model, train = churn_model
    rng = np.random.default_rng(5)
    phases = [
        _phase(rng, 600, wide_discount=False),  # the reference period
        _phase(rng, 400, wide_discount=False),  # the same behaviour
        _phase(rng, 400, wide_discount=True),  # discount now dominates the predictions
    ]
    (r0, r1, _), (c0, c1, _), (d0, d1, shifted) = _serve(server, model, train, phases)
    store = server.store
    stored = store.query_rows("SELECT count(), uniqExact(feature) FROM ml_attributions")[0]
    assert stored == (1400 * len(FEATURES), len(FEATURES))

    config = {"attribution": {"reference_window": {"start": r0.isoformat(), "end": r1.isoformat()}}}
    analyzer = Analyzer(store, config)
    calm_results = analyzer.attribution("churn", "7", start=c0, end=c1)
    drift_results = analyzer.attribution("churn", "7", start=d0, end=d1)

    def by_metric(frame):
        return {
            (r["feature"] if isinstance(r["feature"], str) else None, r["metric"]): r
            for r in frame.to_dict("records")
        }

    calm_by, drift_by = by_metric(calm_results), by_metric(drift_results)
    # importance = mean |coef × (x − background mean)|, exactly (the linear model's SHAP values)
    mean = train.to_numpy().mean(axis=0)
    exact = np.abs(model.coef_[0] * (shifted.to_numpy() - mean)).mean(axis=0)
    for j, feature in enumerate(FEATURES):
        assert drift_by[(feature, "importance")]["value"] == pytest.approx(exact[j], rel=1e-9)
    assert calm_by[(None, "rank_correlation")]["status"] == "ok"
    assert calm_by[(None, "rank_correlation")]["value"] > 0.9
    assert calm_by[(None, "drift")]["value"] == 0.0
    assert drift_by[(None, "rank_correlation")]["status"] == "drift"
    assert drift_by[(None, "drift")]["value"] == 1.0
    assert drift_by[("discount", "rank")]["value"] == 1.0  # from last to first
    assert calm_by[("discount", "rank")]["value"] == 6.0
    assert drift_by[("tenure", "rank")]["value"] == 2.0
    # the statistic itself is scipy's, on the importances the records report
    reference = {f: json.loads(drift_by[(f, "importance")]["details"]) for f in FEATURES}
    rho = spearmanr(
        [drift_by[(f, "importance")]["value"] for f in FEATURES],
        [reference[f]["reference_importance"] for f in FEATURES],
    ).statistic
    assert drift_by[(None, "rank_correlation")]["value"] == pytest.approx(rho, abs=1e-12)
    # results are stored, exported and listed by the API
    stored_kinds = store.query_rows(
        "SELECT count() FROM ml_results FINAL WHERE kind = 'attribution' AND metric = 'drift'"
    )
    assert stored_kinds == [(2,)]
    snapshot = build_snapshot(to_records(drift_results))
    assert [o.value for o in snapshot.values("ml.attribution.drift")] == [1.0]
    assert len(snapshot.values("ml.attribution.importance")) == len(FEATURES)
    answer = httpx.get(f"{server.url}/api/models/churn/attribution", timeout=60).json()
    assert {r["metric"] for r in answer} >= {"importance", "rank", "rank_correlation", "drift"}
    assert {r["window_end"][:19] for r in answer} == {d1.replace(tzinfo=None).isoformat()[:19]}


def test_trailing_baseline_and_missing_attributions(store) -> None:
    analyzer = Analyzer(store, {})
    with pytest.raises(NotFoundError):
        analyzer.attribution("ghost", "1", window="1h")
    t0 = datetime(2026, 3, 2, 10, tzinfo=UTC)
    rows = []
    for hour, weights in enumerate(([3.0, 2.0, 1.0], [3.0, 2.0, 1.0], [1.0, 2.0, 3.0])):
        for i in range(40):
            moment = (t0 + timedelta(hours=hour, seconds=i)).replace(tzinfo=None)
            for feature, weight in zip("abc", weights, strict=True):
                sign = 1 if i % 2 else -1
                rows.append(["m", "1", feature, moment, f"p{hour}-{i}", sign * weight])
    store.insert(
        "ml_attributions",
        rows,
        ["model", "version", "feature", "timestamp", "prediction_id", "value"],
    )
    predictions = sorted({(r[0], r[1], r[3], r[4]) for r in rows})
    store.insert("ml_predictions", predictions, ["model", "version", "timestamp", "prediction_id"])
    frame = analyzer.attribution(
        "m", "1", window="1h", start=t0 + timedelta(hours=1), end=t0 + timedelta(hours=3)
    )
    drift = {r["window_start"].hour: r for r in frame.to_dict("records") if r["metric"] == "drift"}
    assert drift[11]["value"] == 0.0 and drift[12]["value"] == 1.0  # against the hour before
    correlation = [r for r in frame.to_dict("records") if r["metric"] == "rank_correlation"]
    assert [r["value"] for r in correlation] == [1.0, -1.0]
    assert correlation[1]["reference_size"] == 80  # the trailing baseline: both earlier hours
    # too few predictions: no decision
    few = Analyzer(store, {"attribution": {"min_predictions": 500}}).attribution(
        "m", "1", start=t0 + timedelta(hours=2), end=t0 + timedelta(hours=3), write=False
    )
    decisions = few[few["feature"].isna()]
    assert set(decisions["status"]) == {"no_data"}
    assert AttributionConfig().for_model("m").top_k == 5
