"""Performance per segment (``performance.segment_by``), computed in the same statement as the
overall numbers, equal to scikit-learn on the rows of each segment; reached from
``modeltel analyze --only performance --segment-by`` and ``GET …/performance?segment=``."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    recall_score,
    roc_auc_score,
)

from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.inputs.labels import upload_labels
from modeltel.analyzer.inputs.reference import upload_reference
from modeltel.analyzer.orchestration.analyzer import Analyzer
from support.cli_process import modeltel
from support.perfdata import HOUR, T0, at, insert_features, insert_predictions

TOL = 1e-9
REGIONS = {
    "north": 1200,
    "south": 900,
    "east": 500,
    "west": 60,  # among the 4 largest, below min_segment_size
    "isle": 45,  # isle, moon and dune are beyond the 4 largest: "other" (120 predictions)
    "moon": 40,
    "dune": 35,
    None: 50,  # no region: "(missing)", below min_segment_size
}
CONFIG = {"performance": {"segment_by": ["region"], "max_segments": 4, "min_segment_size": 80}}
RANGE = {"start": T0.isoformat(), "end": at(3600).isoformat()}


def binary_with_regions(store, model: str = "churn", seed: int = 11) -> pd.DataFrame:
    """Predictions of a binary classifier with a region each (80% labelled, regions of
    different quality), as one row per prediction."""
    rng = np.random.default_rng(seed)
    region = [r for r, count in REGIONS.items() for _ in range(count)]
    rng.shuffle(region)
    n = len(region)
    ids = [f"{model}-{i}" for i in range(n)]
    times = [at(i * 3000 / n) for i in range(n)]
    y = (rng.random(n) < 0.3).astype(int)
    skill = np.array([{"north": 0.4, "south": 0.1}.get(r, 0.25) for r in region])
    scores = np.clip(np.round(skill * y + rng.random(n) * (1 - skill), 2), 0, 1)
    predicted = (scores >= 0.5).astype(int)
    insert_predictions(store, model, ids, times, labels=[str(p) for p in predicted], scores=scores)
    present = [i for i, r in enumerate(region) if r is not None]
    insert_features(
        store,
        model,
        "region",
        [ids[i] for i in present],
        [times[i] for i in present],
        texts=[region[i] for i in present],
        categorical=True,
    )
    labelled = rng.random(n) < 0.8
    upload_labels(
        store,
        model,
        pd.DataFrame({"prediction_id": np.array(ids)[labelled], "label": y[labelled]}),
    )
    return pd.DataFrame(
        {"id": ids, "region": region, "y": y, "score": scores, "pred": predicted, "has": labelled}
    )


def segment_of(region: object) -> str:
    if not isinstance(region, str):
        return "region=(missing)"
    if REGIONS[region] < 60 and region != "west":
        return "region=other"
    return f"region={region}"


def records(frame: pd.DataFrame, segment: str, source: str = "realized") -> dict[str, pd.Series]:
    rows = frame[(frame.segment == segment) & (frame.source == source)]
    assert rows.metric.is_unique, rows
    return {str(r.metric): r for r in rows.itertuples()}


def test_binary_metrics_per_segment_equal_sklearn(store) -> None:
    truth = binary_with_regions(store)
    out = Analyzer(store, CONFIG).performance("churn", "1", window=HOUR, write=False)
    truth["segment"] = [segment_of(r) for r in truth.region]
    assert set(out.segment) == {"", *truth.segment}
    for segment in ("region=north", "region=south", "region=east", "region=other"):
        rows = truth[truth.segment == segment]
        mine = records(out, segment)
        labelled = rows[rows.has]
        yt, yp, ys = labelled.y, labelled.pred, labelled.score
        assert mine["accuracy"].value == pytest.approx(accuracy_score(yt, yp), abs=TOL)
        assert mine["precision"].value == pytest.approx(precision_score(yt, yp), abs=TOL)
        assert mine["recall"].value == pytest.approx(recall_score(yt, yp), abs=TOL)
        assert mine["f1"].value == pytest.approx(f1_score(yt, yp), abs=TOL)
        assert mine["roc_auc"].value == pytest.approx(roc_auc_score(yt, ys), abs=TOL)
        assert mine["label_coverage"].value == pytest.approx(rows.has.mean(), abs=TOL)
        assert mine["accuracy"].current_size == len(labelled)
        assert mine["label_coverage"].current_size == len(rows)
        estimated = records(out, segment, "estimated")
        assert estimated["accuracy"].status != "no_data"
    # the segments differ as their data do: north's scores separate best
    auc = {s: records(out, s)["roc_auc"].value for s in ("region=north", "region=south")}
    assert auc["region=north"] > auc["region=south"]


def test_small_segments_get_no_data_with_the_reason(store) -> None:
    binary_with_regions(store)
    out = Analyzer(store, CONFIG).performance("churn", "1", window=HOUR, write=False)
    for segment, size in (("region=west", 60), ("region=(missing)", 50)):
        mine = out[out.segment == segment]
        assert not mine.empty
        assert set(mine.status) == {"no_data"} and mine.value.isna().all()
        reason = json.loads(mine.iloc[0].details)["reason"]
        assert f"{size} prediction(s)" in reason and "min_segment_size (80)" in reason
    assert "region=isle" not in set(out.segment)  # beyond the 4 largest: in "other"


def test_overall_records_are_unchanged_by_segments(store) -> None:
    binary_with_regions(store)
    plain = Analyzer(store).performance("churn", "1", window=HOUR, write=False)
    split = Analyzer(store, CONFIG).performance("churn", "1", window=HOUR, write=False)
    assert set(plain.segment) == {""}
    overall = split[split.segment == ""]
    assert len(overall) == len(plain)
    for mine, theirs in zip(overall.itertuples(), plain.itertuples(), strict=True):
        same = ("metric", "source", "status", "current_size", "window_start", "window_end")
        assert [getattr(mine, c) for c in same] == [getattr(theirs, c) for c in same]
        # sums of floats may be added in another order: equal to the last bits
        assert close(mine.value, theirs.value)
        assert close(json.loads(mine.details), json.loads(theirs.details)), mine.metric


def close(a: object, b: object) -> bool:
    """Equal, numbers to 1e-12 relative (NaN equal to NaN), in nested dicts and lists."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-15)
    return a == b


def test_regression_per_numeric_bin_and_service_equal_sklearn(store) -> None:
    rng = np.random.default_rng(5)
    n = 2000
    ids = [f"r{i}" for i in range(n)]
    times = [at(i * 1.5) for i in range(n)]
    age = np.round(rng.uniform(18, 80, n), 1)
    y = 2 * age + rng.normal(0, 5, n)
    y_pred = 2 * age + rng.normal(0, 1, n) * (age / 10)  # errors grow with age
    insert_predictions(store, "price", ids, times, task="regression", values=y_pred)
    insert_features(store, "price", "age", ids, times, numbers=age)
    upload_labels(
        store,
        "price",
        pd.DataFrame({"id": ids, "truth": y}),
        id_column="id",
        label_column=None,
        value_column="truth",
    )
    upload_reference(store, "price", pd.DataFrame({"age": np.arange(20.0, 71.0)}), version="1")
    edges = np.unique(np.quantile(np.arange(20.0, 71.0), np.arange(1, 10) / 10))
    out = Analyzer(store).run(
        "performance", "price", "1", window=HOUR, write=False, segment_by=["age", "service.name"]
    )
    bins = np.searchsorted(edges, age, side="right")  # the number of edges ≤ age
    for index in range(len(edges) + 1):
        if index == 0:
            name = f"age=< {edges[0]:.4g}"
        elif index == len(edges):
            name = f"age=≥ {edges[-1]:.4g}"
        else:
            name = f"age=[{edges[index - 1]:.4g}, {edges[index]:.4g})"
        rows = bins == index
        mine = records(out, name)
        assert mine["mae"].value == pytest.approx(
            mean_absolute_error(y[rows], y_pred[rows]), rel=TOL
        )
        assert mine["mse"].value == pytest.approx(
            mean_squared_error(y[rows], y_pred[rows]), rel=TOL
        )
        assert mine["mae"].current_size == rows.sum()
    service = records(out, "service.name=svc")  # every prediction served by one service
    assert service["mae"].value == pytest.approx(mean_absolute_error(y, y_pred), rel=TOL)
    assert records(out, "")["mse"].value == pytest.approx(mean_squared_error(y, y_pred), rel=TOL)


def test_a_bad_dimension_is_a_config_error_naming_it(store) -> None:
    binary_with_regions(store)
    with pytest.raises(ConfigError, match="'regoin'"):
        Analyzer(store).run("performance", "churn", "1", window=HOUR, segment_by="regoin")
    with pytest.raises(ConfigError, match=r"performance\.max_segments"):
        Analyzer(store, {"performance": {"max_segments": 0}})
    with pytest.raises(ConfigError, match=r"performance\.segment_by"):
        Analyzer(store, {"performance": {"segment_by": [3]}})


def test_cli_and_api_reach_segments(server) -> None:
    truth = binary_with_regions(server.store)
    when = ["--start", RANGE["start"], "--end", RANGE["end"], "--window", "1h"]
    done = modeltel(
        "analyze", "--model", "churn", "--only", "performance", "--segment-by", "region",
        *when, "--server", server.url, "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    north = truth[(truth.region == "north") & truth.has]
    accuracy = {
        r["segment"]: r["value"]
        for r in printed
        if r["metric"] == "accuracy" and r["source"] == "realized"
    }
    assert accuracy["region=north"] == pytest.approx(accuracy_score(north.y, north.pred), abs=TOL)
    # the server's configuration is the default: 20 segments, at least 100 predictions
    assert set(accuracy) == {"", *(f"region={r}" for r in REGIONS if r), "region=(missing)"}
    assert accuracy["region=moon"] is None and accuracy["region=south"] is not None

    with httpx.Client(base_url=server.url, timeout=120) as http:
        stored = http.get("/api/models/churn/performance", params={"segment": "region=north"})
        assert stored.status_code == 200, stored.text
        body = stored.json()
        assert body and {r["segment"] for r in body} == {"region=north"}
        assert next(
            r["value"] for r in body if r["metric"] == "accuracy" and r["source"] == "realized"
        ) == pytest.approx(accuracy["region=north"])
        overall = http.get("/api/models/churn/performance").json()
        assert {r["segment"] for r in overall} == {""}
        bad = http.get("/api/models/churn/performance", params={"segment": "north"})
        assert bad.status_code == 400 and "'north'" in bad.json()["detail"]
        bad = http.get("/api/models/churn/service", params={"segment": "region="})
        assert bad.status_code == 400 and "dimension=value" in bad.json()["detail"]
        absent = http.get("/api/models/churn/performance", params={"segment": "region=mars"})
        assert absent.status_code == 404 and "region=mars" in absent.json()["detail"]
        wrong = http.get("/api/models/churn/performance", params={**RANGE, "segment_by": "regoin"})
        assert wrong.status_code == 400 and "'regoin'" in wrong.json()["detail"]

    done = modeltel(
        "analyze", "--model", "churn", "--only", "performance", "--segment-by", "regoin",
        *when, "--server", server.url,
    )  # fmt: skip
    assert done.returncode == 2 and "'regoin'" in done.stderr and "Traceback" not in done.stderr
    done = modeltel(
        "analyze", "--model", "churn", "--only", "multivariate", "--segment-by", "region",
        "--server", server.url,
    )  # fmt: skip
    assert done.returncode == 2 and "--segment-by needs --only drift, performance" in done.stderr
    # quality and service split by the same dimensions through the server
    counted = {}
    for kind, metric in (("service", "volume"), ("quality", "missing_ratio")):
        done = modeltel(
            "analyze", "--model", "churn", "--only", kind, "--segment-by", "region", *when,
            "--server", server.url, "--format", "json",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        records = [r for r in json.loads(done.stdout) if r["metric"] == metric]
        assert {"", "region=north", "region=south"} <= {r["segment"] for r in records}, kind
        counted[kind] = records
    north = [r["value"] for r in counted["service"] if r["segment"] == "region=north"]
    assert sum(north) == (truth.region == "north").sum()


def test_the_cli_on_the_store_itself_splits_by_segment(store, capsys) -> None:
    from modeltel.analyzer.cli import main

    truth = binary_with_regions(store)
    when = ["--start", RANGE["start"], "--end", RANGE["end"], "--window", "1h"]
    where = ["--clickhouse-url", store.url, "--database", store.database]
    argv = ["analyze", "--model", "churn", "--only", "performance", "--segment-by", "region"]
    assert main([*argv, *when, *where, "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    south = truth[(truth.region == "south") & truth.has]
    accuracy = {
        r["segment"]: r["value"]
        for r in printed
        if r["metric"] == "accuracy" and r["source"] == "realized"
    }
    assert accuracy["region=south"] == pytest.approx(accuracy_score(south.y, south.pred), abs=TOL)
    assert accuracy[""] is not None
