"""``explain``: planted causes of an accuracy change are ranked first with the right split
between rate and mix, unchanged traffic has nothing material, and every slice's numbers equal
scikit-learn's and pandas' on the same rows."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from modeltel.analyzer.base.errors import ConfigError, NotFoundError
from modeltel.analyzer.orchestration.analyzer import Analyzer
from modeltel.analyzer.orchestration.explain import explain
from support.explain import AFTER, BEFORE, MODEL, plant


def _explain(store, **options):
    return explain(store, MODEL, "1", BEFORE, AFTER, **options)


def test_labels_flipping_in_one_clinic_is_ranked_first_as_a_change_of_rate(store) -> None:
    before, after = plant(store, "flip")
    result = _explain(store)
    assert result.metric.name == "accuracy"
    assert result.material
    assert result.before.mean == pytest.approx(before.accuracy(), abs=1e-12)
    assert result.after.mean == pytest.approx(after.accuracy(), abs=1e-12)
    top = result.slices[0]
    assert top.name == "clinic=east"
    assert top.material
    assert top.part.contribution / result.change > 0.8
    assert abs(top.part.rate) > 5 * abs(top.part.mix)
    assert math.isclose(top.part.rate + top.part.mix, top.part.contribution)
    # the slice's own metric is scikit-learn's accuracy of its labelled rows
    f = after.frame
    east = f[(f.clinic == "east") & f.truth.notna()]
    assert top.after.mean == pytest.approx(accuracy_score(east.truth, east.prediction), abs=1e-12)
    assert top.after.rows == int((f.clinic == "east").sum())
    assert top.after.labels == len(east)
    summary = result.summary()
    assert summary.startswith("accuracy fell from ")
    assert "of the fall is clinic=east" in summary


def test_a_clinic_whose_share_grows_is_ranked_first_as_a_change_of_mix(store) -> None:
    plant(store, "mix")
    result = _explain(store)
    assert result.material and result.change < 0
    top = result.slices[0]
    assert top.name == "clinic=east"
    assert abs(top.part.mix) > 5 * abs(top.part.rate)
    assert top.part.contribution / result.change > 0.5
    assert "whose share of traffic grew" in result.summary()


@pytest.mark.parametrize("cause", ["flip", "mix"])
def test_contributions_of_one_dimension_add_up_to_the_change(store, cause) -> None:
    plant(store, cause)
    result = _explain(store, top=1000)
    for dimension in result.dimensions:
        parts = [s.part.contribution for s in result.slices if s.key[0][0] == dimension]
        assert sum(parts) == pytest.approx(result.change, abs=1e-9), dimension


def test_unchanged_traffic_has_nothing_material(store) -> None:
    plant(store, "none")
    result = _explain(store, top=1000)
    assert not result.material
    assert not any(s.material for s in result.slices)
    assert not any(s.material for s in result.pairs)
    assert result.summary().startswith("accuracy did not change materially")


def test_numeric_features_are_cut_at_deciles_and_pairs_are_ranked(store) -> None:
    before, after = plant(store, "flip")
    result = _explain(store, top=1000)
    ages = [s for s in result.slices if s.key[0][0] == "age"]
    assert len(ages) == 10
    # deciles of the window before: each bin holds about a tenth of its rows
    shares = np.array([s.before.rows for s in ages]) / len(before.frame)
    assert np.allclose(shares, 0.1, atol=0.02)
    assert result.pairs, "the best dimensions are paired"
    assert all(len(p.key) == 2 for p in result.pairs)
    assert "clinic=east" in result.pairs[0].name
    f = after.frame
    (d0, v0), (d1, v1) = result.pairs[0].key
    inside = f[(f[d0] == v0) & (f[d1] == v1)] if d0 != "age" and d1 != "age" else None
    if inside is not None:
        assert result.pairs[0].after.rows == len(inside)


def test_bad_requests_name_the_problem(store) -> None:
    plant(store, "none", n=300)
    with pytest.raises(ConfigError, match="mae"):
        _explain(store, metric="mae")
    with pytest.raises(ConfigError, match="cannot explain metric 'nope'"):
        _explain(store, metric="nope")
    with pytest.raises(ConfigError, match="no feature 'weight'"):
        _explain(store, names=["weight"])
    with pytest.raises(NotFoundError, match="no prediction counted by accuracy"):
        explain(
            store,
            MODEL,
            "1",
            BEFORE,
            AFTER.__class__(AFTER.end, AFTER.end + (AFTER.end - AFTER.start)),
        )


def test_the_analyzer_explains_the_window_against_the_one_before_by_default(store) -> None:
    plant(store, "flip")
    analyzer = Analyzer(store)
    result = analyzer.explain(MODEL, end=AFTER.end)
    assert (result.before_window, result.after_window) == (BEFORE, AFTER)
    assert result.version == "1"
    answer = result.to_dict()
    assert answer["slices"][0]["slice"] == "clinic=east"
    assert answer["summary"] == result.summary()
    json.dumps(answer)  # the API's shape is JSON
    same = analyzer.explain(MODEL, end=AFTER.end, baseline_start=BEFORE.start)
    assert same.to_dict() == answer
    with pytest.raises(ConfigError, match="whole number of windows"):
        analyzer.explain(MODEL, end=AFTER.end, baseline_start=BEFORE.start + timedelta(minutes=5))
