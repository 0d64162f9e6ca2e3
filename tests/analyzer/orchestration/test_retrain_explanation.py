"""The retrain webhook says what changed: when a metric rule fires, its body carries the
explanation of the metric's fall and its text the explanation's sentence, delivered to a real
local HTTP receiver; over predictions and labels planted with numpy (``support.explain``) and
the real performance analysis of both hours."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from modeltel.analyzer.orchestration.analyzer import Analyzer
from modeltel.analyzer.orchestration.explain import explain
from modeltel.analyzer.orchestration.retrain import (
    DriftRule,
    MetricRule,
    RetrainPolicy,
    RetrainTrigger,
    Webhook,
)
from support.explain import AFTER, BEFORE, MODEL, plant
from support.results import seed_results, window_ending
from support.webhook import Hook


@pytest.fixture
def receiver() -> Iterator[Hook]:
    r = Hook()
    try:
        yield r
    finally:
        r.close()


def _notify(store, receiver: Hook, *rules) -> dict:
    """Analyse both planted hours, run the trigger on the hour after, return what it sent."""
    analyzer = Analyzer(store)
    for window in (BEFORE, AFTER):
        analyzer.performance(MODEL, "1", window=window)
    policy = RetrainPolicy(rules=rules, webhook=Webhook(receiver.url, retries=0))
    record = RetrainTrigger(store, policy).record(
        MODEL, "1", window_start=AFTER.start, window_end=AFTER.end, health_score=55.0
    )
    assert record["value"] == 1.0 and record["details"]["notified"] is True
    (body,) = receiver.bodies
    return body


def test_an_accuracy_fall_is_explained_in_the_webhook(store, receiver) -> None:
    plant(store, "flip")
    body = _notify(store, receiver, MetricRule("accuracy", below=0.8))
    expected = explain(store, MODEL, "1", BEFORE, AFTER)
    assert body["explanation"] == json.loads(json.dumps(expected.to_dict()))
    assert "explanation_error" not in body
    assert body["explanation"]["slices"][0]["slice"] == "clinic=east"
    assert body["explanation"]["before_window"]["start"] == BEFORE.start.isoformat()
    assert body["text"].startswith("modeltel: retraining recommended for model triage version 1")
    assert body["text"].endswith(f"What changed: {expected.summary()}")
    assert "of the fall is clinic=east" in body["text"]
    assert body["health_score"] == 55.0


def test_a_metric_explain_cannot_take_apart_says_why(store, receiver) -> None:
    plant(store, "flip")
    body = _notify(store, receiver, MetricRule("f1", below=2.0))
    assert body["explanation"] is None
    assert body["explanation_error"].startswith("f1 not explained: cannot explain metric 'f1'")
    assert "What changed" not in body["text"]


def test_a_drift_recommendation_has_no_explanation(store, receiver) -> None:
    plant(store, "flip")
    seed_results(
        store,
        [
            {
                "model": MODEL,
                "version": "1",
                "kind": "drift",
                "method": "psi",
                "feature": "dose",
                "value": 0.4,
                "threshold": 0.2,
                "status": "drift",
                **window_ending(AFTER.end),
            }
        ],
    )
    body = _notify(store, receiver, DriftRule(1))
    assert body["reasons"] == ["1 features drifted: dose"]
    assert body["explanation"] is None
    assert "no metric rule fired" in body["explanation_error"]
