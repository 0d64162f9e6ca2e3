"""The HTTP API (FastAPI app on a real store) and the ``modeltel labels``/``outliers`` commands."""

from __future__ import annotations

import subprocess
import sys

import httpx
import numpy as np
import pandas as pd
import pytest

from modeltel.analyzer.inputs.reference import upload_reference
from support.perfdata import T0, at, insert_features, insert_predictions

RANGE = {"start": T0.isoformat(), "end": at(3600).isoformat()}


@pytest.fixture
def client(server):
    """An HTTP client of the app running under uvicorn on the test's store."""
    with httpx.Client(base_url=server.url, timeout=120) as http:
        yield http


def seed(store) -> list[str]:
    ids = [f"a{i}" for i in range(40)]
    times = [at(i * 60) for i in range(40)]
    insert_predictions(store, "api", ids, times, labels=["1", "0"] * 20, scores=[0.8, 0.3] * 20)
    return ids


def test_post_labels_json_csv_and_errors(client, server) -> None:
    store = server.store
    ids = seed(store)
    answer = client.post(
        "/api/labels",
        json={"model": "api", "labels": [{"prediction_id": i, "label": "1"} for i in ids[:10]]},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["stored"] == 10 and answer.json()["unknown_ids"] == 0
    csv = "req,truth\n" + "".join(f"{i},0\n" for i in ids[10:]) + "nobody,1\n"
    answer = client.post(
        "/api/labels?model=api&id_column=req&label_column=truth",
        content=csv,
        headers={"Content-Type": "text/csv"},
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (
        body["stored"] == 31 and body["unknown_ids"] == 1 and body["unknown_sample"] == ["nobody"]
    )

    bad = client.post(
        "/api/labels?model=api", content="id,label\n1,2\n", headers={"Content-Type": "text/csv"}
    )
    assert bad.status_code == 400 and "no id column 'prediction_id'" in bad.json()["detail"]
    nomodel = client.post("/api/labels", json={"labels": [{"prediction_id": "x", "label": "1"}]})
    assert nomodel.status_code == 400 and "model" in nomodel.json()["detail"]
    notjson = client.post("/api/labels", content="{", headers={"Content-Type": "application/json"})
    assert notjson.status_code == 400 and "not valid JSON" in notjson.json()["detail"]


def test_get_performance_service_quality_and_outliers(client, server) -> None:
    store = server.store
    ids = seed(store)
    labels = ["1", "1"] * 10 + ["0", "0"] * 10  # first half always 1, second half always 0
    client.post(
        "/api/labels",
        json={
            "model": "api",
            "labels": [{"prediction_id": i, "label": y} for i, y in zip(ids, labels, strict=True)],
        },
    )
    answer = client.get("/api/models/api/performance", params={**RANGE, "window": "1h"})
    assert answer.status_code == 200, answer.text
    records = {(r["metric"], r["source"]): r for r in answer.json()}
    assert records[("accuracy", "realized")]["value"] == pytest.approx(0.5)
    assert records[("label_coverage", "realized")]["value"] == 1.0
    assert {"model", "version", "window_start", "window_end", "kind", "status"} <= set(
        records[("accuracy", "realized")]
    )
    stored = client.get("/api/models/api/performance")  # the latest stored window
    assert {r["metric"] for r in stored.json()} == {m for m, _ in records}

    sliding = client.get(
        "/api/models/api/performance", params={**RANGE, "sliding_size": 20, "sliding_step": 20}
    )
    accuracy = [
        r for r in sliding.json() if r["metric"] == "accuracy" and r["source"] == "realized"
    ]
    assert [r["value"] for r in accuracy] == [0.5, 0.5]
    assert accuracy[0]["segment"] == "sliding:20/20"

    service = client.get("/api/models/api/service", params=RANGE).json()
    assert {r["metric"] for r in service} >= {"latency_p99", "volume", "error_ratio"}
    assert next(r for r in service if r["metric"] == "volume")["value"] == 40

    upload_reference(store, "api", pd.DataFrame({"x": np.linspace(0, 1, 200)}), version="1")
    insert_features(
        store, "api", "x", ids, [at(i * 60) for i in range(40)], numbers=[0.5] * 39 + [9.0]
    )
    quality = client.get("/api/models/api/quality", params=RANGE).json()
    ratio = next(r for r in quality if r["metric"] == "out_of_range_ratio")
    assert ratio["feature"] == "x" and ratio["value"] == pytest.approx(1 / 40)
    outliers = client.get("/api/models/api/outliers", params={**RANGE, "limit": 3})
    assert outliers.status_code == 200
    assert [(r["prediction_id"], r["features"]) for r in outliers.json()] == [("a39", ["x"])]

    assert client.get("/api/models/nobody/performance", params=RANGE).status_code == 404
    bad = client.get("/api/models/api/outliers", params={"limit": 0})
    assert bad.status_code == 400 and "limit" in bad.json()["detail"]
    bad = client.get("/api/models/api/performance", params={"sliding_step": 5})
    assert bad.status_code == 400


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modeltel.analyzer.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_labels_upload_and_outliers(tmp_path) -> None:
    url = f"chdb://{tmp_path / 'store'}"
    good = tmp_path / "labels.csv"
    good.write_text("prediction_id,label\np1,1\np2,0\n")
    done = run_cli("labels", "upload", "churn", str(good), "--clickhouse-url", url)
    assert done.returncode == 0, done.stderr
    assert "stored 2 label(s) for churn" in done.stdout
    assert "2 unknown id(s)" in done.stdout and "match no prediction" in done.stderr

    bad = tmp_path / "bad.csv"
    bad.write_text("id,truth\np1,1\n")
    done = run_cli("labels", "upload", "churn", str(bad), "--clickhouse-url", url)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("modeltel: error:") and "--id-column" in done.stderr
    assert "Traceback" not in done.stderr

    done = run_cli("outliers", "churn", "--clickhouse-url", url)
    assert done.returncode == 4 and "no predictions" in done.stderr
