"""The retrain policy: config validation, rules over ml_results, and the webhook delivered once
per episode with retries, against a real local HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.results import make_results, write_results
from modeltel.analyzer.orchestration.retrain import (
    DEFAULT_RULES,
    DriftRule,
    MetricRule,
    RetrainPolicy,
    RetrainTrigger,
    Webhook,
    evaluate,
    gather_evidence,
    post_json,
)
from modeltel.analyzer.web.data import list_models
from support.results import seed_results, utc_now, window_ending
from support.webhook import Hook


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    try:
        yield h
    finally:
        h.close()


# --- configuration ------------------------------------------------------------------------


def test_policy_defaults_and_full_config(monkeypatch) -> None:
    assert RetrainPolicy.from_config({}, environ={}) == RetrainPolicy(DEFAULT_RULES, None)
    policy = RetrainPolicy.from_config(
        {
            "retrain": {
                "rules": [
                    {"drifted_features": 3, "method": "psi", "threshold": 0.2},
                    {"metric": "rmse", "above": 4, "windows": 2, "source": "estimated"},
                ],
                "webhook": {
                    "url": "https://hooks.example.com/x",
                    "headers": {"Authorization": "Bearer t"},
                    "timeout": "2s",
                    "retries": 2,
                    "backoff": "500ms",
                    "max_backoff": "4s",
                },
            }
        },
        environ={},
    )
    assert policy.rules == (
        DriftRule(3, "psi", 0.2),
        MetricRule("rmse", None, 4.0, 2, "estimated"),
    )
    assert policy.webhook == Webhook(
        "https://hooks.example.com/x", {"Authorization": "Bearer t"}, 2.0, 2, 0.5, 4.0
    )
    env = {"MODELTEL_RETRAIN_WEBHOOK_URL": "http://hook:9000/"}
    assert (
        RetrainPolicy.from_config({"retrain": {"rules": []}}, environ=env).webhook.url
        == env["MODELTEL_RETRAIN_WEBHOOK_URL"]
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"rules": "psi"}, "retrain.rules must be a list"),
        (
            {"rules": [{"drifted_features": 0}]},
            r"retrain.rules\[0\].drifted_features must be at least 1",
        ),
        (
            {"rules": [{"drifted_features": "3"}]},
            r"retrain.rules\[0\].drifted_features must be a whole",
        ),
        (
            {"rules": [{"metric": "accuracy"}]},
            r"retrain.rules\[0\] needs exactly one of below or above",
        ),
        (
            {"rules": [{"metric": "accuracy", "below": 0.8, "windows": 0}]},
            r"windows must be at least 1",
        ),
        (
            {"rules": [{"metric": "accuracy", "below": "x"}]},
            r"retrain.rules\[0\].below must be a number",
        ),
        ({"rules": [{"metric": "f1", "below": 0.8, "source": "guess"}]}, "realized or estimated"),
        ({"rules": [{"threshold": 0.2}]}, "needs drifted_features or metric"),
        (
            {"rules": [{"metric": "f1", "below": 0.8, "typo": 1}]},
            r"retrain.rules\[0\].typo is not known",
        ),
        ({"webhook": {"url": "ftp://x"}}, "must be an http"),
        ({"webhook": {"url": "http://x", "backoff": "soon"}}, "retrain.webhook.backoff"),
        ({"hooks": {}}, "retrain.hooks is not known"),
    ],
)
def test_bad_policy_names_the_key(section, message) -> None:
    with pytest.raises(ConfigError, match=message):
        RetrainPolicy.from_config({"retrain": section}, environ={})


# --- delivery -----------------------------------------------------------------------------


def test_webhook_retried_with_backoff(hook) -> None:
    hook.statuses = [503, 502]
    waits: list[float] = []
    webhook = Webhook(hook.url, {"X-Token": "abc"}, timeout_s=2, retries=3, backoff_s=0.5)
    assert post_json(webhook, {"text": "hello"}, sleep=waits.append)
    assert waits == [0.5, 1.0]
    assert [b["text"] for b in hook.bodies] == ["hello"] * 3
    assert hook.headers[0]["X-Token"] == "abc"
    assert hook.headers[0]["Content-Type"] == "application/json"


def test_webhook_honours_retry_after_up_to_the_cap(hook) -> None:
    hook.statuses = [429]
    waits: list[float] = []
    webhook = Webhook(hook.url, retries=1, backoff_s=0.1, max_backoff_s=3)
    assert post_json(webhook, {"text": "x"}, sleep=waits.append)
    assert waits == [3.0]


def test_webhook_gives_up_on_client_errors_and_after_retries(hook) -> None:
    hook.statuses = [400]
    waits: list[float] = []
    assert not post_json(Webhook(hook.url, retries=3), {"text": "x"}, sleep=waits.append)
    assert len(hook.bodies) == 1 and waits == []
    hook.statuses = [500, 500, 500]
    assert not post_json(
        Webhook(hook.url, retries=2, backoff_s=0.1), {"text": "x"}, sleep=waits.append
    )
    assert len(hook.bodies) == 4 and waits == [0.1, 0.2]


def test_webhook_unreachable_is_retried_then_reported() -> None:
    from socket import socket

    with socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    waits: list[float] = []
    webhook = Webhook(f"http://127.0.0.1:{port}/", timeout_s=1, retries=2, backoff_s=0.1)
    assert not post_json(webhook, {"text": "x"}, sleep=waits.append)
    assert waits == [0.1, 0.2]


# --- rules and episodes -------------------------------------------------------------------


def drift_records(end, drifted: list[str], calm: list[str], method: str = "psi") -> list[dict]:
    base = {
        "model": "churn",
        "version": "3",
        "kind": "drift",
        "method": method,
        **window_ending(end),
    }
    out = [
        {**base, "feature": f, "value": 0.4, "threshold": 0.2, "status": "drift"} for f in drifted
    ]
    out += [{**base, "feature": f, "value": 0.01, "threshold": 0.2, "status": "ok"} for f in calm]
    # prediction drift never counts as a drifted input feature
    out.append(
        {**base, "feature": "prediction.score", "value": 0.9, "threshold": 0.2, "status": "drift"}
    )
    return out


def test_drift_rule_uses_the_latest_window_and_p_value_direction(store) -> None:
    end = utc_now()
    seed_results(store, drift_records(end - timedelta(hours=1), ["a", "b", "c"], []))
    seed_results(store, drift_records(end, ["a", "b"], ["c"]))
    policy = RetrainPolicy(rules=(DriftRule(3),))
    assert not evaluate(store, "churn", "3", policy).recommended  # only 2 in the latest window
    assert evaluate(store, "churn", "3", RetrainPolicy(rules=(DriftRule(2),))).recommended
    # explicit threshold on a distance: score > 0.2
    assert evaluate(
        store, "churn", "3", RetrainPolicy(rules=(DriftRule(2, "psi", 0.2),))
    ).recommended
    assert not evaluate(
        store, "churn", "3", RetrainPolicy(rules=(DriftRule(2, "psi", 0.5),))
    ).recommended
    # p-values: drifted means value < threshold
    later = end + timedelta(minutes=1)
    seed_results(store, drift_records(later, ["a"], ["b", "c"], method="ks"))
    decision = evaluate(store, "churn", "3", RetrainPolicy(rules=(DriftRule(2, "ks", 0.05),)))
    assert decision.recommended  # b and c have p = 0.01 < 0.05
    assert decision.reasons == ("2 features drifted (ks < 0.05): b, c",)


def test_a_segment_s_drift_is_not_the_version_s(store) -> None:
    """Drift per segment (``drift.segment_by``) is stored beside the version's own; the rule
    counts the version's features only, whether one version or a fleet is evaluated."""
    end = utc_now()
    overall = drift_records(end, ["a"], ["b", "c"])
    gold = [{**r, "segment": "plan=gold", "status": "drift", "value": 0.9} for r in overall]
    seed_results(store, overall + gold)
    policy = RetrainPolicy(rules=(DriftRule(2),))
    assert not evaluate(store, "churn", "3", policy).recommended
    fleet = gather_evidence(store, [("churn", "3")], policy, end)
    assert not evaluate(store, "churn", "3", policy, fleet[("churn", "3")]).recommended
    one = RetrainPolicy(rules=(DriftRule(1),))
    assert evaluate(store, "churn", "3", one).reasons == ("1 features drifted: a",)
    models = list_models(store)
    assert [(m["drifted_features"], m["features_checked"]) for m in models] == [(1, 3)]


def accuracy(end, value, hours=1.0) -> dict:
    return {
        "model": "churn",
        "version": "3",
        "kind": "performance",
        "metric": "accuracy",
        "source": "realized",
        "value": value,
        "status": "ok",
        **window_ending(end, hours),
    }


def test_metric_rule_needs_consecutive_non_overlapping_windows(store) -> None:
    end = utc_now()
    rule = RetrainPolicy(rules=(MetricRule("accuracy", below=0.8, windows=3),))
    seed_results(
        store, [accuracy(end - timedelta(hours=2), 0.7), accuracy(end - timedelta(hours=1), 0.75)]
    )
    assert not evaluate(store, "churn", "3", rule).recommended  # two windows only
    # overlapping sliding windows between them are skipped, not counted
    seed_results(store, [accuracy(end - timedelta(minutes=30), 0.95), accuracy(end, 0.72)])
    decision = evaluate(store, "churn", "3", rule)
    assert decision.recommended
    assert decision.reasons == (
        "realized accuracy below 0.8 for 3 consecutive windows (0.72, 0.75, 0.7)",
    )
    seed_results(store, [accuracy(end - timedelta(hours=1), 0.85)])  # recomputed window recovers
    assert not evaluate(store, "churn", "3", rule).recommended


def test_webhook_sent_once_per_episode(store, hook) -> None:
    webhook = Webhook(hook.url, retries=0)
    trigger = RetrainTrigger(store, RetrainPolicy(rules=(DriftRule(3),), webhook=webhook))
    start = utc_now()

    def cycle(i: int, drifted: list[str]) -> dict:
        end = start + timedelta(minutes=i)
        seed_results(store, drift_records(end, drifted, ["z"]))
        record = trigger.record(
            "churn", "3", window_start=end - timedelta(hours=1), window_end=end, health_score=40.0
        )
        write_results(store, make_results([record]))
        return record

    hook.statuses = [500]  # the first delivery fails: tried again at the next cycle
    first = cycle(0, ["a", "b", "c"])
    assert first["value"] == 1.0 and first["status"] == "alert"
    assert first["details"]["notified"] is False
    second = cycle(1, ["a", "b", "c", "d"])
    assert second["details"]["notified"] is True
    assert second["details"]["episode_start"] == first["details"]["episode_start"]
    cycle(2, ["a", "b", "c"])  # same episode, already notified
    assert len(hook.bodies) == 2
    body = hook.bodies[-1]
    assert body["model"] == "churn" and body["version"] == "3"
    assert body["health_score"] == 40.0
    assert "retraining recommended for model churn version 3" in body["text"]
    assert "4 features drifted: a, b, c, d" in body["text"]
    recovered = cycle(3, ["a"])
    assert recovered["value"] == 0.0 and recovered["status"] == "ok"
    again = cycle(4, ["a", "b", "c"])  # a new episode notifies again
    assert again["details"]["notified"] is True
    assert again["details"]["episode_start"] != first["details"]["episode_start"]
    assert len(hook.bodies) == 3
