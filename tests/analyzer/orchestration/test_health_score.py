"""The documented health score formula."""

from __future__ import annotations

import pytest

from modeltel.analyzer.orchestration.health import health_score, status_of


def drift(feature: str, status: str, method: str = "psi") -> dict:
    return {"kind": "drift", "feature": feature, "method": method, "status": status, "value": 0.1}


def rec(kind: str, metric: str, status: str, **extra) -> dict:
    return {"kind": kind, "metric": metric, "status": status, "value": 0.5, **extra}


def test_all_ok_is_100() -> None:
    health = health_score(
        [
            drift("a", "ok"),
            rec("performance", "accuracy", "ok"),
            rec("service", "latency_p99", "ok"),
            rec("quality", "missing_ratio", "ok", feature="a"),
        ]
    )
    assert health.score == 100.0
    assert health.status == "ok"
    assert health.reasons == ()


def test_weighted_components() -> None:
    # drift: 2 of 4 features drifted → 0.5; performance alert → 1; service ok → 0;
    # quality: a warning (0.5) and b ok (0) → 0.25
    records = [
        drift("a", "drift"),
        drift("a", "ok", method="ks"),  # a feature takes its worst record
        drift("b", "drift"),
        drift("c", "ok"),
        drift("d", "ok"),
        rec("performance", "accuracy", "alert", source="realized"),
        rec("performance", "f1", "ok", source="realized"),
        rec("performance", "label_coverage", "alert"),  # label metrics do not count
        rec("service", "latency_p99", "ok"),
        rec("service", "throughput", "info"),
        rec("quality", "missing_ratio", "warning", feature="a"),
        rec("quality", "out_of_range_ratio", "ok", feature="b"),
    ]
    health = health_score(records)
    expected = 100 * (1 - (30 * 0.5 + 30 * 1.0 + 20 * 0.0 + 20 * 0.25) / 100)
    assert health.score == pytest.approx(expected)
    assert health.components == {
        "drift": 0.5,
        "performance": 1.0,
        "service": 0.0,
        "quality": 0.25,
    }
    assert health.score == pytest.approx(50.0)
    assert health.status == status_of(expected) == "warning"
    assert any("2 of 4 features drifted (a, b)" in r for r in health.reasons)
    assert any("accuracy" in r for r in health.reasons)


def test_missing_components_renormalise_and_estimated_stands_in() -> None:
    health = health_score(
        [
            rec("performance", "accuracy", "warning", source="estimated"),
            rec("service", "error_ratio", "ok"),
        ]
    )
    # (30·0.5 + 20·0) / 50 = 0.3 → 70
    assert health.score == pytest.approx(70.0)
    assert health.status == "warning"
    assert set(health.components) == {"performance", "service"}


def test_realized_wins_over_estimated() -> None:
    health = health_score(
        [
            rec("performance", "accuracy", "alert", source="estimated"),
            rec("performance", "accuracy", "ok", source="realized"),
        ]
    )
    assert health.score == 100.0


def test_prediction_drift_weighs_at_least_half() -> None:
    health = health_score([drift("a", "ok"), drift("prediction.score", "drift")])
    assert health.components["drift"] == 0.5
    assert health.score == pytest.approx(50.0)
    assert "the predictions drifted" in health.reasons


def test_no_data_means_no_score() -> None:
    health = health_score(
        [rec("service", "latency_p99", "no_data"), rec("service", "throughput", "info")]
    )
    assert health.score is None
    assert health.status == "no_data"
