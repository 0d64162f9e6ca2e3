"""Fairness computed in ClickHouse equals fairlearn's on the same rows: selection rates and
true positive rates per group (``MetricFrame``), ``demographic_parity_difference``,
``demographic_parity_ratio`` and ``equalized_odds_difference`` — for a categorical attribute,
a binned numeric one, a score cut-off and partial labels; small groups are left out with the
reason, and the configuration is validated."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.export.catalog import observations
from modeltel.analyzer.inputs.labels import upload_labels
from modeltel.analyzer.orchestration.analyzer import Analyzer
from support.drift import T0, write_production

TOL = 1e-9
HOUR = Window(T0, T0 + timedelta(hours=1))
AGE_BINS = [0, 30, 50, 120]


def _seed(store, n: int = 3000, seed: int = 5, *, small_group: int = 0):
    """Loan decisions biased by gender, a numeric age, scores, labels for 70 %."""
    rng = np.random.default_rng(seed)
    gender = rng.choice(["m", "f", "x"], n, p=[0.5, 0.45, 0.05]).astype(object)
    if small_group:
        gender[:small_group] = "tiny"
    age = np.round(rng.uniform(18, 90, n), 1)
    score = np.clip(rng.random(n) + np.where(gender == "m", 0.1, -0.05), 0, 1)
    decision = np.where(score >= 0.5, "approve", "deny")
    ids = write_production(
        store,
        "loans",
        "1",
        {"gender": list(gender), "age": list(age)},
        categorical=["gender"],
        labels=list(decision),
        scores=list(score),
        step=timedelta(seconds=1),
    )
    truth = np.where(
        rng.random(n) < 0.8, decision, np.where(decision == "approve", "deny", "approve")
    )
    labelled = rng.random(n) < 0.7
    upload_labels(
        store,
        "loans",
        pd.DataFrame({"prediction_id": np.array(ids)[labelled], "label": truth[labelled]}),
    )
    return gender, age, score, decision, truth, labelled


def _records(frame: pd.DataFrame, feature: str) -> dict[tuple[str, str], pd.Series]:
    part = frame[frame.feature == feature]
    return {(r["segment"], r["metric"]): r for _, r in part.iterrows()}


def _check_against_fairlearn(records, sensitive, y_pred, y_true, labelled, attribute) -> None:
    dpd = demographic_parity_difference(y_true, y_pred, sensitive_features=sensitive)
    dpr = demographic_parity_ratio(y_true, y_pred, sensitive_features=sensitive)
    eod = equalized_odds_difference(
        y_true[labelled], y_pred[labelled], sensitive_features=sensitive[labelled]
    )
    tpr = MetricFrame(
        metrics=true_positive_rate,
        y_true=y_true[labelled],
        y_pred=y_pred[labelled],
        sensitive_features=sensitive[labelled],
    ).by_group
    assert records[("", "statistical_parity_difference")]["value"] == pytest.approx(dpd, abs=TOL)
    assert records[("", "disparate_impact_ratio")]["value"] == pytest.approx(dpr, abs=TOL)
    assert records[("", "equalized_odds_difference")]["value"] == pytest.approx(eod, abs=TOL)
    assert records[("", "equal_opportunity_difference")]["value"] == pytest.approx(
        tpr.max() - tpr.min(), abs=TOL
    )
    by_group = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "accuracy": accuracy_score,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=sensitive,
    ).by_group
    labelled_frame = MetricFrame(
        metrics={
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "accuracy": accuracy_score,
        },
        y_true=y_true[labelled],
        y_pred=y_pred[labelled],
        sensitive_features=sensitive[labelled],
    ).by_group
    for group in by_group.index:
        segment = f"{attribute}={group}"
        assert records[(segment, "selection_rate")]["value"] == pytest.approx(
            by_group.loc[group, "selection_rate"], abs=TOL
        )
        for metric in ("true_positive_rate", "false_positive_rate", "accuracy"):
            assert records[(segment, metric)]["value"] == pytest.approx(
                labelled_frame.loc[group, metric], abs=TOL
            ), (segment, metric)


def test_categorical_and_binned_attributes_equal_fairlearn(store) -> None:
    gender, age, _score, decision, truth, labelled = _seed(store)
    config = {
        "fairness": {
            "protected": ["gender", "age"],
            "bins": {"age": AGE_BINS},
            "favorable": "approve",
            "reference_group": {"gender": "m"},
            "min_group_size": 30,
        }
    }
    out = Analyzer(store, config).run("fairness", "loans", window=HOUR)
    y_pred = (decision == "approve").astype(int)
    y_true = (truth == "approve").astype(int)
    records = _records(out, "gender")
    _check_against_fairlearn(records, gender, y_pred, y_true, labelled, "gender")

    age_group = pd.cut(age, AGE_BINS, right=False).astype(str)
    labels = {"[0, 30)": "[0, 30)", "[30, 50)": "[30, 50)", "[50, 120)": "[50, 120]"}
    age_group = np.array([labels[g] for g in age_group])
    _check_against_fairlearn(_records(out, "age"), age_group, y_pred, y_true, labelled, "age")

    male = y_pred[gender == "m"].mean()
    female = y_pred[gender == "f"].mean()
    assert records[("gender=f", "selection_rate_difference")]["value"] == pytest.approx(
        female - male, abs=TOL
    )
    assert records[("gender=f", "selection_rate_ratio")]["value"] == pytest.approx(
        female / male, abs=TOL
    )
    impact = records[("", "disparate_impact_ratio")]
    assert impact["threshold"] == 0.8
    assert impact["status"] == ("alert" if impact["value"] < 0.8 else "ok")
    parity = records[("", "statistical_parity_difference")]
    assert parity["status"] == ("alert" if parity["value"] > 0.1 else "ok")
    assert parity["current_size"] == len(gender)

    published = list(observations(impact.to_dict()))
    assert {o.gauge for o in published} == {
        "ml.fairness",
        "ml.fairness.threshold",
        "ml.fairness.breached",
    }
    summary = next(o for o in published if o.gauge == "ml.fairness")
    assert summary.attributes["ml.metric"] == "disparate_impact_ratio"
    assert summary.attributes["ml.feature.name"] == "gender"
    group = next(iter(observations(records[("gender=f", "selection_rate")].to_dict())))
    assert group.gauge == "ml.fairness.group" and group.attributes["ml.segment"] == "gender=f"


def test_score_cut_off_and_small_groups_left_out_with_the_reason(store) -> None:
    gender, _age, score, _decision, truth, labelled = _seed(store, small_group=12)
    config = {
        "fairness": {
            "protected": ["gender"],
            "favorable_score": 0.7,
            "favorable_label": "approve",
            "min_group_size": 20,
        }
    }
    out = Analyzer(store, config).run("fairness", "loans", window=HOUR, write=False)
    records = _records(out, "gender")
    kept = gender != "tiny"
    y_pred = (score >= 0.7).astype(int)
    y_true = (truth == "approve").astype(int)
    _check_against_fairlearn(
        records, gender[kept], y_pred[kept], y_true[kept], labelled[kept], "gender"
    )
    assert ("gender=tiny", "selection_rate") not in records
    details = json.loads(records[("", "statistical_parity_difference")]["details"])
    assert details["left_out"] == {"tiny": "12 predictions, fewer than min_group_size 20"}


def test_one_group_is_no_data_and_without_protected_nothing_runs(store) -> None:
    write_production(
        store, "loans", "1", {"gender": ["m"] * 50}, categorical=["gender"], labels=["approve"] * 50
    )
    out = Analyzer(store, {"fairness": {"protected": ["gender"], "favorable": "approve"}}).run(
        "fairness", "loans", window=HOUR, write=False
    )
    parity = _records(out, "gender")[("", "statistical_parity_difference")]
    assert parity["status"] == "no_data" and pd.isna(parity["value"])
    assert "fewer than two groups" in json.loads(parity["details"])["reason"]
    assert Analyzer(store).run("fairness", "loans", window=HOUR, write=False).empty


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"protected": ["gender"]}, "fairness.favorable is missing"),
        ({"protected": "gender", "favorable": "a"}, "fairness.protected must be a list"),
        ({"protected": ["age"], "favorable": "a", "bins": {"age": [3, 1]}}, "increasing"),
        ({"protected": ["g"], "favorable": "a", "favorable_score": 0.5}, "not both"),
        (
            {"protected": ["g"], "favorable": "a", "reference_group": {"h": "x"}},
            "names no protected",
        ),
        ({"protected": ["g"], "favorable": "a", "min_group_size": 0}, "at least 1"),
        (
            {"protected": ["g"], "favorable": "a", "thresholds": {"parity": 1}},
            "thresholds.parity is not known",
        ),
        ({"protected": ["g"], "favorable": "a", "groups": 3}, "fairness.groups is not known"),
    ],
)
def test_bad_fairness_settings_name_the_key(store, section, message) -> None:
    with pytest.raises(ConfigError, match=message):
        Analyzer(store, {"fairness": section})
