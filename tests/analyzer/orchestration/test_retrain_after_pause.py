"""The retrain policy follows the data: windows the loop writes after traffic stopped (every
record ``no_data``) neither end nor break a recommendation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modeltel.analyzer.base.results import make_results, write_results
from modeltel.analyzer.orchestration.retrain import DriftRule, MetricRule, RetrainPolicy, evaluate

T0 = datetime(2026, 5, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _records(data_windows: int, empty_windows: int) -> list[dict]:
    out = []
    for k in range(data_windows + empty_windows):
        base = {
            "model": "m",
            "version": "1",
            "window_start": T0 + k * HOUR,
            "window_end": T0 + (k + 1) * HOUR,
        }
        empty = k >= data_windows
        for feature in ("a", "b", "c"):
            out.append(
                {
                    **base,
                    "kind": "drift",
                    "feature": feature,
                    "method": "psi",
                    "value": None if empty else 0.5,
                    "threshold": 0.2,
                    "status": "no_data" if empty else "drift",
                }
            )
        out.append(
            {
                **base,
                "kind": "performance",
                "metric": "accuracy",
                "value": None if empty else 0.6,
                "threshold": 0.8,
                "status": "no_data" if empty else "alert",
            }
        )
    return out


def test_a_pause_keeps_the_recommendation_of_the_latest_data(store) -> None:
    write_results(store, make_results(_records(data_windows=3, empty_windows=4)))
    drift = RetrainPolicy((DriftRule(3),), None)
    accuracy = RetrainPolicy((MetricRule("accuracy", below=0.8, windows=3),), None)
    decision = evaluate(store, "m", "1", drift)
    assert decision.recommended, decision
    assert "3 features drifted" in decision.reasons[0]
    decision = evaluate(store, "m", "1", accuracy)
    assert decision.recommended, decision
    assert "(0.6, 0.6, 0.6)" in decision.reasons[0]


def test_too_few_data_windows_still_do_not_recommend(store) -> None:
    write_results(store, make_results(_records(data_windows=2, empty_windows=4)))
    accuracy = RetrainPolicy((MetricRule("accuracy", below=0.8, windows=3),), None)
    assert not evaluate(store, "m", "1", accuracy).recommended
