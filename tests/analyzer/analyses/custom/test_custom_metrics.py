"""Custom SQL metrics equal the same aggregate computed by pandas on the rows — with missing
feature values, late and replaced labels, several windows and per-model settings — and a
hostile or broken expression is refused when the Analyzer starts, naming the metric. With
``segment_by``, every metric per value of the feature as well, equal to pandas on each
segment's rows, the values beyond ``max_segments`` as one ``other`` segment, the segment on the
records and the gauges."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import httpx
import numpy as np
import pandas as pd
import pytest

from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.export.catalog import observations
from modeltel.analyzer.inputs.labels import upload_labels
from modeltel.analyzer.orchestration.analyzer import Analyzer
from support.drift import T0, write_production

TOL = 1e-9
TWO_HOURS = {"start": T0, "end": T0 + timedelta(hours=2), "window": "1h"}
METRICS = {
    "approval_rate": {
        "sql": "avg(prediction_label = 'approve')",
        "higher_is_better": True,
        "thresholds": {"min": 0.3},
    },
    "high_risk_share": {"sql": "avg(prediction_score > 0.9)", "max": 0.05},
    "mean_amount": {"sql": "avg(feature('amount'))"},
    "north_share": {"sql": "countIf(feature('region') = 'north') / count()"},
    "error_cost": {
        "sql": "sum(if(label != prediction_label, feature('amount'), 0))",
        "needs_labels": True,
    },
    "accuracy_big": {
        "sql": "avgIf(label = prediction_label, feature('amount') > 100)",
        "needs_labels": True,
    },
}


def _seed(store, n: int = 2400, seed: int = 3) -> pd.DataFrame:
    """``n`` predictions over two hours (3 s apart) with an amount missing for one in nine."""
    rng = np.random.default_rng(seed)
    amount = rng.exponential(100, n)
    amount[::9] = np.nan
    region = rng.choice(["north", "south", "east"], n, p=[0.2, 0.5, 0.3])
    decision = rng.choice(["approve", "deny"], n, p=[0.6, 0.4])
    score = rng.random(n)
    ids = write_production(
        store,
        "loans",
        "1",
        {"amount": list(amount), "region": list(region)},
        categorical=["region"],
        labels=list(decision),
        scores=list(score),
        step=timedelta(seconds=3),
    )
    return pd.DataFrame(
        {
            "prediction_id": ids,
            "window": np.arange(n) * 3 // 3600,
            "amount": amount,
            "region": region,
            "prediction_label": decision,
            "prediction_score": score,
        }
    )


def _expected(rows: pd.DataFrame, labels: pd.DataFrame) -> dict[tuple[int, str], float]:
    """Each metric per window, computed by pandas on the same rows."""
    joined = rows.merge(labels, on="prediction_id", how="left")
    out = {}
    for w, part in joined.groupby("window"):
        labelled = part[part["label"].notna()]
        wrong = labelled["label"] != labelled["prediction_label"]
        big = labelled[labelled["amount"] > 100]
        out[(w, "approval_rate")] = (part["prediction_label"] == "approve").mean()
        out[(w, "high_risk_share")] = (part["prediction_score"] > 0.9).mean()
        out[(w, "mean_amount")] = part["amount"].mean()  # NaN skipped, as SQL skips NULL
        out[(w, "north_share")] = (part["region"] == "north").mean()
        out[(w, "error_cost")] = labelled["amount"].where(wrong, 0).fillna(0).sum()
        out[(w, "accuracy_big")] = (big["label"] == big["prediction_label"]).mean()
    return out


def _values(frame: pd.DataFrame) -> dict[tuple[int, str], float]:
    starts = sorted(frame["window_start"].unique())
    return {
        (starts.index(r.window_start), r.metric): r.value for r in frame.itertuples(index=False)
    }


def test_custom_metrics_equal_pandas_with_missing_values_and_late_labels(store) -> None:
    rows = _seed(store)
    rng = np.random.default_rng(4)
    first = rows.sample(frac=0.5, random_state=1)
    early = pd.DataFrame(
        {
            "prediction_id": first["prediction_id"],
            "label": rng.choice(["approve", "deny"], len(first)),
        }
    )
    upload_labels(store, "loans", early)
    analyzer = Analyzer(store, {"custom_metrics": METRICS})
    out = analyzer.run("custom", "loans", **TWO_HOURS)
    assert set(out["kind"]) == {"custom"} and len(out) == 2 * len(METRICS)
    for key, value in _values(out).items():
        assert value == pytest.approx(_expected(rows, early)[key], abs=TOL), key

    # late labels: more arrive, and some of the early ones are replaced; the latest one wins
    late = rows.drop(first.index).sample(frac=0.6, random_state=2)
    replaced = early.iloc[:200].assign(
        label=lambda f: np.where(f.label == "approve", "deny", "approve")
    )
    more = pd.DataFrame(
        {
            "prediction_id": late["prediction_id"],
            "label": rng.choice(["approve", "deny"], len(late)),
        }
    )
    upload_labels(store, "loans", pd.concat([replaced, more]))
    labels = pd.concat([early.iloc[200:], replaced, more])
    out = analyzer.run("custom", "loans", **TWO_HOURS)
    for key, value in _values(out).items():
        assert value == pytest.approx(_expected(rows, labels)[key], abs=TOL), key
    sizes = out.set_index(["metric", "window_start"])["current_size"]
    labelled = rows.merge(labels, on="prediction_id").groupby("window").size().tolist()
    assert sorted(sizes["error_cost"].tolist()) == sorted(labelled)
    assert sizes["approval_rate"].tolist() == [1200, 1200]


def test_statuses_follow_the_bounds_and_the_model_overrides(store) -> None:
    rows = _seed(store, n=600)
    config = {
        "custom_metrics": {
            **METRICS,
            "models": {
                "loans": {
                    "high_risk_share": None,
                    "approval_rate": {"sql": "avg(prediction_label = 'approve')", "min": 0.9},
                }
            },
        }
    }
    out = Analyzer(store, config).run("custom", "loans", window=Window(T0, T0 + timedelta(hours=1)))
    by_metric = out.set_index("metric")
    assert "high_risk_share" not in by_metric.index
    share = (rows["prediction_label"] == "approve").mean()
    assert by_metric.loc["approval_rate", "value"] == pytest.approx(share)
    assert by_metric.loc["approval_rate", "threshold"] == 0.9
    assert by_metric.loc["approval_rate", "status"] == "alert"  # 0.6 is below the minimum 0.9
    assert by_metric.loc["mean_amount", "status"] == "info"
    assert by_metric.loc["error_cost", "status"] == "no_data"  # no label has arrived
    assert (
        "no predictions with a label"
        in json.loads(by_metric.loc["error_cost", "details"])["reason"]
    )

    plain = Analyzer(store, {"custom_metrics": METRICS}).run(
        "custom", "loans", window=Window(T0, T0 + timedelta(hours=1)), write=False
    )
    risk = plain.set_index("metric").loc["high_risk_share"]
    expected = (rows["prediction_score"] > 0.9).mean()
    assert risk["value"] == pytest.approx(expected)
    assert risk["status"] == ("alert" if expected > 0.05 else "ok")
    details = json.loads(risk["details"])
    assert details["sql"] == "avg(prediction_score > 0.9)" and details["max"] == 0.05


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("sum(length(file('/etc/passwd')))", "the function file() is not allowed"),
        ("count() FROM url('http://127.0.0.1:1/x', CSV)", "nothing after it"),
        ("avg(url('http://127.0.0.1:1/x'))", "the function url() is not allowed"),
        ("avg((SELECT count() FROM system.tables))", "a subquery is not allowed"),
        ("avg(prediction_id IN (SELECT name FROM system.users))", "a subquery is not allowed"),
        ("avg(prediction_score) SETTINGS max_threads = 1", "nothing after it"),
        ("avg(prediction_score); DROP TABLE ml_results", "no ';'"),
        ("avg(prediction_score), count()", "not a list"),
        ("avg(prediction_score) WHERE 1", "nothing after it"),
        ("avg(prediction_scor", "is not a valid SQL expression: Syntax error"),
        ("avg(nosuchcolumn)", "failed its dry run"),
        ("prediction_score", "not under aggregate function"),
        ("any(prediction_label)", "not a number"),
        ("avg(label = prediction_label)", "add needs_labels: true"),
        ("avg(feature(amount))", "feature() takes one feature name in single quotes"),
    ],
)
def test_hostile_or_broken_expressions_are_refused_at_start(store, sql, message) -> None:
    with pytest.raises(ConfigError) as caught:
        Analyzer(store, {"custom_metrics": {"bad_one": {"sql": sql}}})
    text = str(caught.value)
    assert "custom metric 'bad_one'" in text and message in text, text
    assert store.query_rows("SELECT count() FROM ml_results")[0][0] == 0


def test_refused_per_model_expression_and_bad_keys_name_the_key(store) -> None:
    with pytest.raises(ConfigError, match=r"custom metric 'x'.*file"):
        Analyzer(store, {"custom_metrics": {"models": {"m": {"x": {"sql": "max(file('a'))"}}}}})
    bad_keys = [
        ({"m": {"sql": "count()", "maximum": 1}}, "custom_metrics.m.maximum is not known"),
        ({"m": {"sql": ""}}, "custom_metrics.m.sql must be a SQL aggregate"),
        ({"m": {"sql": "count()", "min": 2, "max": 1}}, "min 2.0 is above max 1.0"),
        ({"m": {"sql": "count()", "needs_labels": "yes"}}, "needs_labels must be true or false"),
        ({"bad name": {"sql": "count()"}}, "is not a metric name"),
        ({"m": "count()"}, "custom_metrics.m must be a mapping"),
    ]
    for section, message in bad_keys:
        with pytest.raises(ConfigError, match=message):
            Analyzer(store, {"custom_metrics": section})


def test_unknown_feature_type_is_tried_both_ways_before_any_data(store) -> None:
    config = {
        "custom_metrics": {
            "de_share": {"sql": "avg(feature('country') = 'de')"},
            "mean_income": {"sql": "avg(feature('income'))"},
        }
    }
    Analyzer(store, config)  # no prediction yet: the feature types are not known


def test_cli_and_api_compute_custom_metrics(server, monkeypatch, tmp_path) -> None:
    rows = _seed(server.store, n=400)
    config = tmp_path / "modeltel.yaml"
    config.write_text(
        "custom_metrics:\n  approval_rate: {sql: \"avg(prediction_label = 'approve')\", min: 0.3}\n"
    )
    monkeypatch.setenv("MODELTEL_CONFIG", str(config))
    hour = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat()}
    answer = httpx.get(
        f"{server.url}/api/models/loans/custom", params={**hour, "compute": "true"}, timeout=120
    )
    assert answer.status_code == 200, answer.text
    share = (rows["prediction_label"] == "approve").mean()
    [record] = answer.json()
    assert record["metric"] == "approval_rate" and record["value"] == pytest.approx(share)

    done = subprocess.run(
        [sys.executable, "-m", "modeltel.analyzer.cli", "analyze", "--server", server.url,
         "--model", "loans", "--only", "custom", "--start", hour["start"], "--end", hour["end"],
         "--window", "1h", "--format", "json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [record] = json.loads(done.stdout)
    assert record["kind"] == "custom" and record["value"] == pytest.approx(share)
    assert record["status"] == "ok"

    published = {o.gauge: o for o in observations(record)}
    assert published["ml.custom_metric"].value == pytest.approx(share)
    assert published["ml.custom_metric"].attributes["ml.metric.name"] == "approval_rate"
    assert published["ml.custom_metric.breached"].value == 0.0
    assert published["ml.custom_metric.threshold"].value == 0.3


def _labels(rows: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(8)
    some = rows.sample(frac=0.6, random_state=3)
    return pd.DataFrame(
        {
            "prediction_id": some["prediction_id"],
            "label": rng.choice(["approve", "deny"], len(some)),
        }
    )


def _pandas(part: pd.DataFrame) -> dict[str, float]:
    labelled = part[part["label"].notna()]
    wrong = labelled["label"] != labelled["prediction_label"]
    big = labelled[labelled["amount"] > 100]
    return {
        "approval_rate": (part["prediction_label"] == "approve").mean(),
        "high_risk_share": (part["prediction_score"] > 0.9).mean(),
        "mean_amount": part["amount"].mean(),
        "north_share": (part["region"] == "north").mean(),
        "error_cost": labelled["amount"].where(wrong, 0).fillna(0).sum(),
        "accuracy_big": (big["label"] == big["prediction_label"]).mean(),
    }


def _by_segment(frame: pd.DataFrame) -> dict[tuple[int, str, str], float]:
    starts = sorted(frame["window_start"].unique())
    return {
        (starts.index(r.window_start), r.segment, r.metric): r.value
        for r in frame.itertuples(index=False)
    }


def test_every_metric_per_segment_equals_pandas(store) -> None:
    rows = _seed(store)
    labels = _labels(rows)
    upload_labels(store, "loans", labels)
    joined = rows.merge(labels, on="prediction_id", how="left")
    config = {"custom_metrics": {**METRICS, "segment_by": "region"}}
    out = Analyzer(store, config).run("custom", "loans", **TWO_HOURS)
    got = _by_segment(out)
    assert {s for _, s, _ in got} == {"", "region=north", "region=south", "region=east"}
    for (w, region), part in joined.groupby(["window", "region"]):
        for metric, value in _pandas(part).items():
            assert got[(w, f"region={region}", metric)] == pytest.approx(value, abs=TOL)
    for w, part in joined.groupby("window"):
        for metric, value in _pandas(part).items():
            assert got[(w, "", metric)] == pytest.approx(value, abs=TOL)
    sizes = out[(out.metric == "approval_rate") & (out.segment == "region=south")]
    assert sorted(sizes.current_size) == sorted(
        joined[joined.region == "south"].groupby("window").size()
    )
    gauges = [
        o
        for record in out.to_dict("records")
        for o in observations(record)
        if o.gauge == "ml.custom_metric"
    ]
    assert {o.attributes.get("ml.segment") for o in gauges} == {
        None,
        "region=north",
        "region=south",
        "region=east",
    }


def test_values_beyond_max_segments_are_other(store) -> None:
    rows = _seed(store)
    labels = _labels(rows)
    upload_labels(store, "loans", labels)
    joined = rows.merge(labels, on="prediction_id", how="left")
    config = {"custom_metrics": {**METRICS, "segment_by": "region", "max_segments": 1}}
    got = _by_segment(Analyzer(store, config).run("custom", "loans", **TWO_HOURS))
    for w, part in joined.groupby("window"):
        top = part["region"].value_counts().index[0]  # south: half of the traffic
        assert {s for ww, s, _ in got if ww == w} == {"", f"region={top}", "region=other"}
        rest = part[part["region"] != top]
        for metric, value in _pandas(rest).items():
            assert got[(w, "region=other", metric)] == pytest.approx(value, abs=TOL)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"segment_by": 3}, "custom_metrics.segment_by must be a feature name"),
        ({"max_segments": 0}, "custom_metrics.max_segments must be between 1 and 200"),
        ({"max_segments": "many"}, "custom_metrics.max_segments must be a whole number"),
    ],
)
def test_bad_segment_settings_name_the_key(store, section, message) -> None:
    with pytest.raises(ConfigError, match=message):
        Analyzer(store, {"custom_metrics": {**METRICS, **section}})
