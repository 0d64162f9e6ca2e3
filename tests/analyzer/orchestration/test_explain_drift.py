"""``explain`` of a feature's drift (``drift:FEATURE``): its PSI between the windows equals the
formula computed with numpy on the same rows and bins, drift planted in one clinic is ranked first
as a change of rate, a clinic of other ages growing as a change of mix, and unchanged traffic
has nothing material."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.query import TimeWindows
from modeltel.analyzer.base.segments import decile_edges
from modeltel.analyzer.cli import main
from modeltel.analyzer.orchestration.analyzer import Analyzer
from modeltel.analyzer.orchestration.explain import explain
from support.explain import AFTER, BEFORE, MODEL, plant

EPSILON = 1e-4


def _psi(before: np.ndarray, after: np.ndarray) -> float:
    """PSI of two count vectors, empty bins raised to EPSILON and renormalised."""

    def smooth(counts: np.ndarray) -> np.ndarray:
        share = counts / counts.sum()
        share = np.where(share > 0, share, EPSILON)
        return share / share.sum()

    b, a = smooth(before.astype(float)), smooth(after.astype(float))
    return float(np.sum((a - b) * np.log(a / b)))


def _age_psi(store, before, after) -> float:
    """The PSI of age over the bins explain cuts it into: the deciles of the hour before."""
    hour = TimeWindows.from_windows([BEFORE])
    edges = np.array(decile_edges(store, MODEL, "1", hour, ["age"])["age"])
    bins = len(edges) + 1

    def counts(frame):
        return np.bincount(np.searchsorted(edges, frame.age, side="right"), minlength=bins)

    return _psi(counts(before.frame), counts(after.frame))


def test_drift_confined_to_one_clinic_is_ranked_first_as_a_change_of_rate(store) -> None:
    before, after = plant(store, "age_east")
    result = explain(store, MODEL, "1", BEFORE, AFTER, metric="drift:age", top=1000)
    assert result.metric.name == "drift:age"
    assert result.change == pytest.approx(_age_psi(store, before, after), rel=1e-9)
    assert result.material and result.value_before == 0.0
    assert result.value_after == result.change
    top = result.slices[0]
    assert top.name == "clinic=east"
    assert top.material
    assert top.part.contribution / result.change > 0.8
    assert abs(top.part.rate) > 5 * abs(top.part.mix)
    assert top.metric_before is None and top.metric_after is None
    for dimension in result.dimensions:
        parts = [s.part.contribution for s in result.slices if s.key[0][0] == dimension]
        assert sum(parts) == pytest.approx(result.change, abs=1e-9), dimension
    # the feature's own bins explain its drift trivially: they are not ranked
    assert "age" not in result.dimensions
    assert all("age" not in dict(s.key) for s in (*result.slices, *result.pairs))
    others = [s for s in result.slices if s.key[0][0] == "clinic" and s.name != "clinic=east"]
    assert len(others) == 3 and not any(s.material for s in others)
    summary = result.summary()
    assert summary.startswith("drift of age (PSI) is ")
    assert "of the drift is clinic=east" in summary


def test_a_clinic_of_other_ages_growing_is_ranked_first_as_a_change_of_mix(store) -> None:
    before, after = plant(store, "age_mix")
    result = explain(store, MODEL, "1", BEFORE, AFTER, metric="drift:age")
    assert result.change == pytest.approx(_age_psi(store, before, after), rel=1e-9)
    assert result.material
    top = result.slices[0]
    assert top.name == "clinic=east"
    assert abs(top.part.mix) > 5 * abs(top.part.rate)
    assert top.part.contribution / result.change > 0.5
    assert "whose share of traffic grew from" in result.summary()


def test_unchanged_traffic_has_no_material_drift(store) -> None:
    plant(store, "none")
    result = explain(store, MODEL, "1", BEFORE, AFTER, metric="drift:dose", top=1000)
    assert not result.material
    assert not any(s.material for s in (*result.slices, *result.pairs))
    assert result.summary().startswith("drift of dose (PSI) is ")
    assert "below 0.1" in result.summary()


def test_a_categorical_feature_s_drift_through_the_analyzer_and_the_cli(store, capsys) -> None:
    before, after = plant(store, "mix")  # east's share grows: clinic itself drifts
    counts = [h.frame.clinic.value_counts().sort_index().to_numpy() for h in (before, after)]
    answer = (
        Analyzer(store)
        .explain(MODEL, metric="drift:clinic", window="1h", end=AFTER.end, dimensions=["gender"])
        .to_dict()
    )
    assert answer["metric"] == "drift:clinic"
    assert answer["before"] == 0.0
    assert answer["after"] == pytest.approx(_psi(*counts), rel=1e-9)
    assert answer["dimensions"] == ["gender"]
    assert all(s["metric_before"] is None for s in answer["slices"])
    code = main([
        "explain", MODEL, "--metric", "drift:clinic", "--dimension", "gender", "--window", "1h",
        "--end", AFTER.end.isoformat(), "--format", "json", "--clickhouse-url", store.url,
        "--database", store.database,
    ])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["after"] == pytest.approx(answer["after"], rel=1e-12)


@pytest.mark.parametrize(
    ("metric", "message"),
    [("drift:", "names no feature"), ("drift:nope", "no feature 'nope'"), ("psi", "drift:FEATURE")],
)
def test_bad_drift_metrics_name_the_problem(store, metric: str, message: str) -> None:
    plant(store, "none", n=300)
    with pytest.raises(ConfigError, match=message):
        explain(store, MODEL, "1", BEFORE, AFTER, metric=metric)
