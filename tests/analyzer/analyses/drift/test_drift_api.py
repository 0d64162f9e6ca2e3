"""HTTP: ``POST /api/references``, ``GET /api/models/{model}/drift``, histograms, analyze."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pandas as pd
import pytest

from modeltel.analyzer.base import settings
from support.drift import module_store, write_production
from support.servers import start_server

RNG = np.random.default_rng(4)
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def store(store_url):
    yield from module_store(store_url)


@pytest.fixture(scope="module")
def client(store):
    start = NOW - timedelta(minutes=30)
    write_production(
        store,
        "api",
        "1",
        {"age": list(RNG.normal(45, 10, 300)), "plan": list(RNG.choice(["a", "b", "c"], 300))},
        categorical=["plan"],
        start=start,
    )
    running, stop = start_server(store)
    try:
        with httpx.Client(base_url=running.url, timeout=120) as test_client:
            yield test_client
    finally:
        stop()


def reference_csv(n: int = 400) -> bytes:
    frame = pd.DataFrame({"age": RNG.normal(40, 10, n), "plan": RNG.choice(["a", "b"], n)})
    return frame.to_csv(index=False).encode()


def test_multipart_upload_then_drift(client) -> None:
    answer = client.post(
        "/api/references",
        files={"file": ("train.csv", reference_csv(), "text/csv")},
        data={"model": "api", "version": "1"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["features"] == {"age": "numerical", "plan": "categorical"}
    drift = client.get("/api/models/api/drift", params={"version": "1", "window": "1h"})
    assert drift.status_code == 200, drift.text
    records = drift.json()
    by_feature = {(r["feature"], r["method"]): r for r in records}
    assert by_feature[("age", "ks")]["status"] == "drift"
    assert by_feature[("plan", "chi_squared")]["status"] == "drift"  # "c" is new
    assert {"window_start", "window_end", "threshold", "reference_size", "details"} <= set(
        records[0]
    )
    latest = client.get("/api/models/api/drift")  # stored results of the latest window
    assert latest.status_code == 200
    assert {(r["feature"], r["method"]) for r in latest.json()} == set(by_feature)


def test_raw_csv_parquet_and_json_uploads(client) -> None:
    raw = client.post(
        "/api/references",
        params={"model": "api", "version": "raw", "categorical": "plan"},
        content=reference_csv(),
        headers={"Content-Type": "text/csv"},
    )
    assert raw.status_code == 201, raw.text
    buffer = io.BytesIO()
    pd.DataFrame({"age": [1.0, 2.0], "plan": ["a", "b"]}).to_parquet(buffer)
    parquet = client.post(
        "/api/references",
        params={"model": "api", "version": "pq"},
        content=buffer.getvalue(),
        headers={"Content-Type": "application/vnd.apache.parquet"},
    )
    assert parquet.status_code == 201, parquet.text
    assert parquet.json()["rows"] == 2
    records = client.post(
        "/api/references",
        json={"model": "api", "version": "json", "records": [{"age": 3, "plan": "a"}]},
    )
    assert records.status_code == 201, records.text
    assert records.json()["features"] == {"age": "numerical", "plan": "categorical"}


@pytest.mark.parametrize(
    "kwargs, status, message",
    [
        ({"content": b"age\n1\n", "headers": {"Content-Type": "text/csv"}}, 400, "which model"),
        (
            {"params": {"model": "api"}, "content": b"", "headers": {"Content-Type": "text/csv"}},
            400,
            "is empty",
        ),
        ({"params": {"model": "api"}, "json": {"records": "nope"}}, 400, '"records"'),
        ({"params": {"model": "api"}, "json": []}, 400, "no rows"),
        (
            {
                "params": {"model": "api"},
                "content": b"{not json",
                "headers": {"Content-Type": "application/json"},
            },
            400,
            "not valid JSON",
        ),
        ({"params": {"model": "api"}, "files": {"other": ("x.csv", b"a\n1\n")}}, 400, "'file'"),
    ],
)
def test_bad_uploads_are_4xx_with_a_message(
    client, kwargs: dict, status: int, message: str
) -> None:
    answer = client.post("/api/references", **kwargs)
    assert answer.status_code == status
    assert message in answer.json()["detail"]


def test_oversized_upload_is_413(client, monkeypatch) -> None:
    monkeypatch.setenv(settings.MODELTEL_MAX_UPLOAD_BYTES, "100")
    answer = client.post(
        "/api/references",
        params={"model": "api"},
        content=reference_csv(),
        headers={"Content-Type": "text/csv"},
    )
    assert answer.status_code == 413
    assert "exceeds the limit" in answer.json()["detail"]


def test_drift_errors_are_404_and_400(client) -> None:
    assert client.get("/api/models/nobody/drift").status_code == 404
    bad_window = client.get("/api/models/api/drift", params={"window": "soon"})
    assert bad_window.status_code == 400
    assert "window 'soon' is not a duration" in bad_window.json()["detail"]


def test_histograms_endpoint(client) -> None:
    client.post(
        "/api/references",
        files={"file": ("train.csv", reference_csv(), "text/csv")},
        data={"model": "api", "version": "1"},
    )
    answer = client.get(
        "/api/models/api/drift/histograms", params={"version": "1", "window": "1h", "bins": 10}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["age"]["labels"]) == 10
    assert sum(body["age"]["current"]) == 300
    assert sum(body["age"]["reference"]) == 400
    assert set(body["plan"]["labels"]) == {"a", "b", "c"}


def test_analyze_endpoint_runs_everything(client) -> None:
    answer = client.post("/api/analyze", params={"model": "api", "window": "1h"})
    assert answer.status_code == 200, answer.text
    kinds = {r["kind"] for r in answer.json()}
    assert "drift" in kinds
    assert json.loads(answer.json()[0]["details"]) is not None
