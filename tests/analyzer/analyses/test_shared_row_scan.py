"""Custom metrics and fairness configured together read a version's prediction rows once per
cycle, and give exactly what each gives alone: the second analysis takes the first one's scan
while the data is unchanged, scans again when predictions or labels arrived in between, and a
custom metric that fails at run time fails alone."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from modeltel.analyzer.base.errors import StoreError
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.inputs.labels import upload_labels
from modeltel.analyzer.orchestration.analyzer import Analyzer
from support.drift import T0, write_production

HOUR = Window(T0, T0 + timedelta(hours=1))
CUSTOM = {
    "approval_rate": {"sql": "avg(prediction_label = 'approve')"},
    "mean_age": {"sql": "avg(feature('age'))"},
    "accuracy": {"sql": "avg(label = prediction_label)", "needs_labels": True},
}
FAIRNESS = {"protected": ["gender", "age"], "bins": {"age": [0, 40, 120]}, "favorable": "approve"}


def _seed(store, n: int = 1500, seed: int = 11, start=T0, prefix: str = "p") -> list[str]:
    rng = np.random.default_rng(seed)
    gender = rng.choice(["m", "f"], n).astype(object)
    score = rng.random(n)
    decision = np.where(score >= 0.5, "approve", "deny")
    ids = write_production(
        store,
        "loans",
        "1",
        {"gender": list(gender), "age": list(np.round(rng.uniform(18, 90, n), 1))},
        categorical=["gender"],
        labels=list(decision),
        scores=list(score),
        start=start,
        step=timedelta(seconds=1),
        id_prefix=prefix,
    )
    labelled = rng.random(n) < 0.6
    upload_labels(
        store,
        "loans",
        pd.DataFrame({"prediction_id": np.array(ids)[labelled], "label": decision[labelled]}),
    )
    return ids


def _values(frame: pd.DataFrame) -> dict[tuple, float]:
    return {
        (r.metric, r.feature, r.segment): r.value
        for r in frame.itertuples()
        if r.value is not None and not (isinstance(r.value, float) and math.isnan(r.value))
    }


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    x, y = _values(a), _values(b)
    assert x.keys() == y.keys()
    for key in x:
        assert x[key] == pytest.approx(y[key], rel=1e-12), key


def _statements(store, monkeypatch) -> list[str]:
    seen: list[str] = []
    query_rows = store.query_rows

    def counting(sql, *args, **kwargs):
        seen.append(sql)
        return query_rows(sql, *args, **kwargs)

    monkeypatch.setattr(store, "query_rows", counting)
    return seen


def test_one_scan_serves_both_and_equals_each_alone(store, monkeypatch) -> None:
    _seed(store)
    alone_custom = Analyzer(store, {"custom_metrics": CUSTOM}).run("custom", "loans", window=HOUR)
    alone_fair = Analyzer(store, {"fairness": FAIRNESS}).run("fairness", "loans", window=HOUR)
    both = Analyzer(store, {"custom_metrics": CUSTOM, "fairness": FAIRNESS})
    seen = _statements(store, monkeypatch)
    custom = both.run("custom", "loans", window=HOUR)
    scans = [s for s in seen if "ml_features" in s and "GROUPING SETS" in s]
    assert len(scans) == 1
    seen.clear()
    fairness = both.run("fairness", "loans", window=HOUR)
    assert not [s for s in seen if "ml_features" in s], "fairness scanned the rows again"
    _same(custom, alone_custom)
    _same(fairness, alone_fair)
    assert len(fairness) == len(alone_fair) and len(custom) == len(alone_custom)


def test_data_arriving_between_the_two_is_counted(store) -> None:
    _seed(store)
    both = Analyzer(store, {"custom_metrics": CUSTOM, "fairness": FAIRNESS})
    both.run("custom", "loans", window=HOUR)
    _seed(store, n=300, seed=12, start=T0 + timedelta(minutes=30), prefix="q")
    fairness = both.run("fairness", "loans", window=HOUR)
    fresh = Analyzer(store, {"fairness": FAIRNESS}).run("fairness", "loans", window=HOUR)
    _same(fairness, fresh)
    sizes = fairness[fairness.metric == "selection_rate"].current_size.sum()
    assert sizes == 2 * 1800  # every prediction, once per protected attribute


def test_a_custom_metric_failing_at_run_time_fails_alone(store) -> None:
    _seed(store)
    failing = {"ratio": {"sql": "avg(intDiv(1, toInt64(is_error) - toInt64(is_error)))"}}
    both = Analyzer(store, {"custom_metrics": failing, "fairness": FAIRNESS})
    fairness = both.run("fairness", "loans", window=HOUR)
    alone = Analyzer(store, {"fairness": FAIRNESS}).run("fairness", "loans", window=HOUR)
    _same(fairness, alone)
    with pytest.raises(StoreError, match=r"(?i)division by zero"):
        both.run("custom", "loans", window=HOUR)
