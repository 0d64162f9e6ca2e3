"""SQL injection through API parameters: hostile model names, versions, windows, segments and
methods in ``/api/models/{model}/…``, the page and the query strings fail safely: never a 500,
never another model's data, never a changed store."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from modeltel.analyzer.base.store import Store
from support.reliability import PROTOBUF, prediction_spans
from support.servers import new_database_name, start_server

SECRET_MODEL = "secret-model-7c2"

NAMES = [
    "churn' OR '1'='1",
    "churn' OR 1=1 --",
    "churn'; DROP TABLE ml_predictions; --",
    "churn\\' OR 1=1 --",
    "x') UNION ALL SELECT model FROM ml_predictions --",
    "' || (SELECT groupArray(model) FROM ml_predictions) || '",
    "{model:String}",
    "churn` OR 1=1 --",
    'churn" OR "1"="1',
    "churn\n OR 1=1",
    "churn\x00",
    "churn%",
    "%",
    "_",
    ".*",
    "file('/etc/passwd')",
    "😀" * 50,
    "m" * 5000,
]
PARAMS = {
    "version": ["1' OR '1'='1", "1'; DROP TABLE ml_results; --", "%", "\\'"],
    "window": [
        "1h; DROP TABLE ml_results",
        "1h' OR 1=1 --",
        "99999999999999d",
        "-1h",
        "0s",
        "NaN",
        "inf",
    ],
    "segment_by": ["plan; DROP TABLE ml_features", "plan) UNION SELECT 1 --", "`plan`", "'"],
    "methods": ["psi; DROP TABLE x", "psi' OR 1=1", "psi,ks,'"],
    "reference": ["default' OR '1'='1", "x'; DROP TABLE ml_reference; --"],
    "baseline_version": ["1' OR 1=1 --"],
    "start": ["2026-01-01' OR 1=1 --"],
    "last_n": ["1; DROP TABLE x", "-5", "99999999999999999999999"],
    "period": ["week' OR 1=1", "month; DROP"],
}
ENDPOINTS = ["drift", "performance", "service", "quality", "outliers", "drift/histograms"]


@pytest.fixture(scope="module")
def seeded(store_url: str) -> Iterator[tuple[httpx.Client, Store]]:
    store = Store(store_url, new_database_name())
    server, stop = start_server(store)
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            for model in ("churn", SECRET_MODEL):
                spans = prediction_spans([f"{model}-{i}" for i in range(30)], model=model)
                assert client.post("/v1/traces", content=spans, headers=PROTOBUF).status_code == 200
            reference = "age,income,plan\n" + "".join(
                f"{30 + i % 40},{1000.0 * (i % 7)},{['basic', 'gold'][i % 2]}\n" for i in range(50)
            )
            answer = client.post(
                "/api/references",
                content=reference,
                params={"model": "churn", "version": "1"},
                headers={"Content-Type": "text/csv"},
            )
            assert answer.status_code == 201, answer.text
            yield client, store
    finally:
        stop()
        store.command(f"DROP DATABASE IF EXISTS `{store.database}`")
        store.close()


def _state(store: Store) -> tuple:
    """Every table, and the rows of each but the results (computing an analysis adds those)."""
    tables = store.query_rows(
        "SELECT name, if(name LIKE 'ml_results%', 0, total_rows) FROM system.tables "
        "WHERE database = currentDatabase() ORDER BY name"
    )
    return tuple(tables)


def _safe(answer: httpx.Response) -> None:
    assert answer.status_code < 500, (answer.request.url, answer.status_code, answer.text[:300])
    assert SECRET_MODEL not in answer.text, answer.request.url
    assert "Traceback" not in answer.text


@pytest.mark.parametrize("name", NAMES, ids=range(len(NAMES)))
def test_hostile_model_names_in_paths(seeded, name: str) -> None:
    client, store = seeded
    before = _state(store)
    segment = quote(name, safe="")
    for endpoint in ENDPOINTS:
        answer = client.get(f"/api/models/{segment}/{endpoint}", params={"version": "1"})
        _safe(answer)
        if answer.status_code == 200:
            body = answer.json()
            records = body if isinstance(body, list) else body.get("records", body)
            assert not records or all(r.get("model") in (name, None) for r in records), body
    for path in (f"/models/{segment}", f"/models/{segment}/report"):
        _safe(client.get(path))
    _safe(client.post("/api/analyze", params={"model": name}))
    assert _state(store) == before


@pytest.mark.parametrize(
    ("param", "value"), [(p, v) for p, values in PARAMS.items() for v in values]
)
def test_hostile_query_parameters(seeded, param: str, value: str) -> None:
    client, store = seeded
    before = _state(store)
    for endpoint in ENDPOINTS:
        answer = client.get(
            f"/api/models/churn/{endpoint}",
            params={"version": "1", param: value, "compute": "true"},
        )
        _safe(answer)
    _safe(client.get("/models/churn/report", params={param: value}))
    _safe(client.get("/models/churn", params={param: value}))
    assert _state(store) == before


def test_legitimate_requests_still_answer(seeded) -> None:
    client, _ = seeded
    answer = client.get("/api/models/churn/drift", params={"version": "1", "compute": "true"})
    assert answer.status_code == 200, answer.text[:300]
    records = answer.json()
    assert records and {r["model"] for r in records} == {"churn"}
    models = {m["model"] for m in client.get("/api/models").json()}
    assert {"churn", SECRET_MODEL} <= models
