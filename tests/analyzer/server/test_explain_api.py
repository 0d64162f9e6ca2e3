"""``GET /api/models/{model}/explain`` of a running server: the analyzer's explanation of the
planted cause as JSON, its options taken from the query string, and bad parameters answered
400 (unknown model 404) with a sentence naming the problem."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from modeltel.analyzer.orchestration.analyzer import Analyzer
from support.explain import AFTER, BEFORE, MODEL, plant

END = AFTER.end.isoformat()


def test_the_answer_is_the_explanation_of_the_flipped_clinic(store, server) -> None:
    plant(store, "flip")
    answer = httpx.get(f"{server.url}/api/models/{MODEL}/explain", params={"end": END})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body == Analyzer(store).explain(MODEL, end=AFTER.end).to_dict()
    assert body["slices"][0]["slice"] == "clinic=east"
    assert body["slices"][0]["material"]
    assert body["summary"].startswith("accuracy fell from ")
    assert (body["before_window"]["start"], body["after_window"]["end"]) == (
        BEFORE.start.isoformat(),
        AFTER.end.isoformat(),
    )


def test_the_query_string_reaches_the_explanation(store, server) -> None:
    plant(store, "flip", n=1000)
    params = [
        ("version", "1"),
        ("metric", "accuracy"),
        ("window", "1h"),
        ("end", END),
        ("baseline_start", BEFORE.start.isoformat()),
        ("dimension", "clinic"),
        ("dimension", "gender"),
        ("max_values", "2"),
        ("top", "5"),
    ]
    answer = httpx.get(f"{server.url}/api/models/{MODEL}/explain", params=params)
    assert answer.status_code == 200, answer.text
    expected = (
        Analyzer(store)
        .explain(
            MODEL,
            "1",
            metric="accuracy",
            window="1h",
            end=AFTER.end,
            baseline_start=BEFORE.start,
            dimensions=["clinic", "gender"],
            max_values=2,
            top=5,
        )
        .to_dict()
    )
    assert answer.json() == expected
    assert expected["dimensions"] == ["clinic", "gender"]
    # two clinics and the others, two genders; five of their six pairs
    names = [s["slice"] for s in expected["slices"]]
    assert len(names) == 5 and "clinic=other" in names
    assert sorted(n for n in names if n.startswith("gender=")) == ["gender=f", "gender=m"]
    assert len(expected["pairs"]) == 5


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"metric": "nope"}, 400, "cannot explain metric 'nope'"),
        ({"metric": "mae"}, 400, "mae"),
        ({"window": "abc"}, 400, "window 'abc' is not a duration"),
        (
            {"baseline_start": (BEFORE.start + timedelta(minutes=5)).isoformat()},
            400,
            "whole number of windows",
        ),
        ({"baseline_start": "soon"}, 400, "baseline_start='soon' is not a time"),
        ({"end": "abc"}, 400, "end='abc' is not a time"),
        ({"dimension": "weight"}, 400, "no feature 'weight'"),
        ({"max_values": "0"}, 400, "max_values must be between 1 and 200"),
        ({"top": "0"}, 400, "top must be a positive number"),
        ({"version": "9"}, 404, "no predictions of version '9'"),
    ],
)
def test_bad_parameters_answer_400_naming_the_problem(store, server, params, status, needle):
    plant(store, "flip", n=300)
    answer = httpx.get(f"{server.url}/api/models/{MODEL}/explain", params={"end": END, **params})
    assert answer.status_code == status, answer.text
    assert needle in answer.json()["detail"]


def test_an_unknown_model_answers_404(store, server) -> None:
    plant(store, "none", n=300)
    answer = httpx.get(f"{server.url}/api/models/nobody/explain", params={"end": END})
    assert answer.status_code == 404
    assert "'nobody'" in answer.json()["detail"]
