"""``explain``: planted causes of an accuracy change are ranked first with the right split
between rate and mix, unchanged traffic has nothing material, and every slice's numbers equal
scikit-learn's and pandas' on the same rows."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, mean_absolute_error, mean_squared_error

from modeltel.analyzer.base.errors import ConfigError, NotFoundError
from modeltel.analyzer.inputs.labels import upload_labels
from modeltel.analyzer.orchestration.analyzer import Analyzer
from modeltel.analyzer.orchestration.explain import explain
from support.drift import write_production
from support.explain import AFTER, BEFORE, MODEL, plant
from support.perfdata import insert_features, insert_predictions


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


def _service_hours(store, rng, errors_after_west: float):
    """Two hours of scored predictions of a binary classifier from two services; after, the
    west service fails ``errors_after_west`` of its calls (2 % elsewhere)."""
    frames = []
    for hour, window in enumerate((BEFORE, AFTER)):
        n = 2000
        ids = [f"s{hour}-{i}" for i in range(n)]
        times = [window.start + (window.end - window.start) * i / n for i in range(n)]
        region = rng.choice(["east", "west"], n)
        rate = np.where((region == "west") & (hour == 1), errors_after_west, 0.02)
        errors = (rng.random(n) < rate).astype(int)
        scores = rng.random(n)
        labels = np.where(scores >= 0.5, "1", "0")
        insert_predictions(
            store, "svc", ids, times, labels=labels, scores=scores, errors=errors.tolist()
        )
        insert_features(store, "svc", "region", ids, times, texts=region, categorical=True)
        frames.append(pd.DataFrame({"region": region, "error": errors, "score": scores}))
    return frames


def test_error_ratio_and_estimated_accuracy_equal_pandas_per_slice(store) -> None:
    _, after = _service_hours(store, np.random.default_rng(3), 0.3)
    result = explain(store, "svc", "1", BEFORE, AFTER, metric="error_ratio")
    assert result.after.mean == pytest.approx(after.error.mean(), abs=1e-12)
    assert result.slices[0].name == "region=west" and result.slices[0].material
    west = after[after.region == "west"]
    assert result.slices[0].after.mean == pytest.approx(west.error.mean(), abs=1e-12)
    assert "error ratio rose from" in result.summary()
    estimated = explain(store, "svc", "1", BEFORE, AFTER, metric="estimated_accuracy")
    expected = np.maximum(after.score, 1 - after.score).mean()  # predicted class's score
    assert estimated.after.mean == pytest.approx(expected, abs=1e-12)
    assert not estimated.material  # the scores did not move


def test_mae_of_a_regressor_equals_scikit_learn_per_slice(store) -> None:
    rng = np.random.default_rng(5)
    truth_after = None
    for hour, window in enumerate((BEFORE, AFTER)):
        n = 1500
        site = rng.choice(["a", "b", "c"], n)
        truth = rng.normal(100, 10, n)
        noise = np.where((site == "c") & (hour == 1), 15.0, 2.0)
        predicted = truth + rng.normal(0, 1, n) * noise
        ids = write_production(
            store,
            "price",
            "1",
            {"site": site.tolist()},
            categorical=["site"],
            values=predicted.tolist(),
            start=window.start,
            step=(window.end - window.start) / n,
            id_prefix=f"h{hour}-",
        )
        upload_labels(
            store,
            "price",
            pd.DataFrame({"prediction_id": ids, "value": truth}),
            label_column=None,
            value_column="value",
        )
        truth_after = (site, truth, predicted)
    site, truth, predicted = truth_after
    # the rows say classification; the configuration says what the model is
    analyzer = Analyzer(store, {"performance": {"task": "regression"}})
    result = analyzer.explain("price", end=AFTER.end)
    assert result.metric.name == "mae"
    assert result.after.mean == pytest.approx(mean_absolute_error(truth, predicted), rel=1e-9)
    top = result.slices[0]
    assert top.name == "site=c" and top.material
    c = site == "c"
    assert top.after.mean == pytest.approx(mean_absolute_error(truth[c], predicted[c]), rel=1e-9)
    mse = analyzer.explain("price", end=AFTER.end, metric="mse")
    assert mse.after.mean == pytest.approx(mean_squared_error(truth, predicted), rel=1e-9)
    assert "mean absolute error rose from" in result.summary()
