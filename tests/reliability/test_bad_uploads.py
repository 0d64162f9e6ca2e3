"""Malformed reference and label files through ``POST /api/references`` and ``/api/labels``:
every one is a 400 whose message names the problem, nothing is half-written, and a good file
afterwards still goes in. Plus property-based garbage (random bytes, random CSV text)."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator

import httpx
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeltel.analyzer.base.store import Store
from support.servers import new_database_name, start_server

CSV = {"Content-Type": "text/csv"}
PARQUET = {"Content-Type": "application/vnd.apache.parquet"}


@pytest.fixture(scope="module")
def api(store_url: str) -> Iterator[tuple[httpx.Client, Store]]:
    store = Store(store_url, new_database_name())
    server, stop = start_server(store)
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            yield client, store
    finally:
        stop()
        store.command(f"DROP DATABASE IF EXISTS `{store.database}`")
        store.close()


def _parquet(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def _count(store: Store, table: str, model: str) -> int:
    return int(
        store.query_rows(f"SELECT count() FROM {table} WHERE model = {{m:String}}", {"m": model})[
            0
        ][0]
    )


GOOD_REFERENCE = "age,plan\n31,gold\n45,basic\n52,gold\n"
REFERENCE_CASES = [
    ("empty file", b"", {}, "empty"),
    ("only whitespace", b"  \n\n ", {}, "empty"),
    ("header only", b"age,plan\n", {}, "no rows"),
    ("mismatched row lengths", b"age,plan\n31,gold,extra,more\n45\n", {}, ""),
    ("duplicate columns", b"age,age\n1,2\n", {}, "duplicate column"),
    (
        "text in a numerical column",
        b"age,plan\n31,gold\nthirty,basic\n",
        {"numerical": "age"},
        "age",
    ),
    ("excluded column not in file", GOOD_REFERENCE.encode(), {"exclude": "income"}, "income"),
    ("every column excluded", GOOD_REFERENCE.encode(), {"exclude": "age,plan"}, "no feature"),
    (
        "column both kinds",
        GOOD_REFERENCE.encode(),
        {"categorical": "age", "numerical": "age"},
        "both",
    ),
    ("unknown categorical column", GOOD_REFERENCE.encode(), {"categorical": "nope"}, "nope"),
    ("unknown score column", GOOD_REFERENCE.encode(), {"score_column": "proba"}, "proba"),
    ("binary garbage", bytes(random.Random(1).randrange(256) for _ in range(4096)), {}, ""),
    (
        "garbage labelled parquet",
        b"PAR1" + b"\x00\x13garbage" * 50,
        {"format": "parquet"},
        "Parquet",
    ),
    ("csv labelled parquet", GOOD_REFERENCE.encode(), {"format": "parquet"}, "Parquet"),
    ("truncated parquet", b"", {"format": "parquet"}, ""),  # body filled in below
    ("invalid utf-8 header", b"\xff\xfeage,plan\n1,a\n", {}, ""),
    ("NUL bytes", b"age,plan\n1\x00,a\x00\n", {"numerical": "age"}, ""),
    ("unterminated quote", b'age,plan\n1,"gold\n2,basic\n', {}, ""),
]


@pytest.mark.parametrize(
    ("case", "body", "options", "says"), REFERENCE_CASES, ids=[c[0] for c in REFERENCE_CASES]
)
def test_malformed_reference_files_are_refused(api, case, body, options, says) -> None:
    client, store = api
    if case == "truncated parquet":
        whole = _parquet(pa.table({"age": list(range(100)), "plan": ["a", "b"] * 50}))
        body = whole[: len(whole) // 2]
    model = f"ref-{case.replace(' ', '-')}"
    answer = client.post(
        "/api/references",
        content=body,
        params={"model": model, **options},
        headers=PARQUET if options.get("format") == "parquet" else CSV,
    )
    assert answer.status_code == 400, (answer.status_code, answer.text[:300])
    detail = answer.json()["detail"]
    assert detail and says.lower() in detail.lower(), detail
    assert "Traceback" not in detail
    assert _count(store, "ml_reference", model) == 0  # nothing half-written


def test_odd_but_valid_reference_files_are_stored(api) -> None:
    client, store = api
    huge = "x" * 2_000_000
    cases = {
        "huge-field": (f"age,note\n31,{huge}\n40,short\n".encode(), CSV, 2),
        "bom-header": ("\ufeffage,plan\n31,gold\n".encode(), CSV, 1),
        "parquet": (
            _parquet(pa.table({"age": [1.5, None, 3.0], "plan": ["a", None, "c"]})),
            PARQUET,
            3,
        ),
    }
    for model, (body, headers, rows) in cases.items():
        answer = client.post(
            "/api/references", content=body, params={"model": model}, headers=headers
        )
        assert answer.status_code == 201, (model, answer.text[:300])
        assert answer.json()["rows"] == rows
        assert _count(store, "ml_reference", model) > 0


def test_parquet_with_unusable_types_is_refused(api) -> None:
    client, store = api
    nested = pa.table({"age": [1, 2], "tags": pa.array([[1, 2], [3]], pa.list_(pa.int64()))})
    answer = client.post(
        "/api/references",
        content=_parquet(nested),
        params={"model": "nested", "numerical": "tags"},
        headers=PARQUET,
    )
    assert 400 <= answer.status_code < 500, answer.text[:300]
    assert answer.json()["detail"]
    assert _count(store, "ml_reference", "nested") == 0


LABEL_CASES = [
    ("empty file", b"", {}, "empty"),
    ("header only", b"prediction_id,label\n", {}, "no rows"),
    ("no id column", b"id,label\np1,1\n", {}, "prediction_id"),
    ("no label column", b"prediction_id,truth\np1,1\n", {}, "label"),
    ("unknown id column option", b"prediction_id,label\np1,1\n", {"id_column": "pid"}, "pid"),
    ("missing id in a row", b"prediction_id,label\np1,1\n,0\n", {}, "prediction_id"),
    ("missing label in a row", b"prediction_id,label\np1,1\np2,\n", {}, "label"),
    (
        "text as regression value",
        b"prediction_id,y\np1,1.5\np2,abc\n",
        {"value_column": "y", "label_column": "y"},
        "y",
    ),
    ("mismatched row lengths", b"prediction_id,label\np1,1,extra,x\np2\n", {}, ""),
    ("binary garbage", bytes(random.Random(2).randrange(256) for _ in range(4096)), {}, ""),
    ("garbage labelled parquet", b"PAR1garbage", {"format": "parquet"}, "Parquet"),
    (
        "bad timestamp",
        b"prediction_id,label,at\np1,1,yesterday-ish\n",
        {"timestamp_column": "at"},
        "at",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "options", "says"), LABEL_CASES, ids=[c[0] for c in LABEL_CASES]
)
def test_malformed_label_files_are_refused(api, case, body, options, says) -> None:
    client, store = api
    model = f"lab-{case.replace(' ', '-')}"
    answer = client.post(
        "/api/labels",
        content=body,
        params={"model": model, **options},
        headers=PARQUET if options.get("format") == "parquet" else CSV,
    )
    assert answer.status_code == 400, (answer.status_code, answer.text[:300])
    detail = answer.json()["detail"]
    assert detail and says.lower() in detail.lower(), detail
    assert _count(store, "ml_labels", model) == 0


@pytest.mark.parametrize("endpoint", ["/api/references", "/api/labels"])
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.one_of(
        st.binary(max_size=2000),
        st.text(alphabet=st.sampled_from(',"\n\r\t;ab1.-\x00é'), max_size=400).map(str.encode),
        st.lists(
            st.lists(st.one_of(st.text(max_size=6), st.floats(), st.integers()), max_size=5),
            max_size=8,
        ).map(lambda rows: "\n".join(",".join(map(str, r)) for r in rows).encode()),
    ),
    as_parquet=st.booleans(),
)
def test_random_files_never_break_the_upload_endpoints(api, endpoint, body, as_parquet) -> None:
    client, _ = api
    answer = client.post(
        endpoint,
        content=body,
        params={"model": "fuzzed", **({"format": "parquet"} if as_parquet else {})},
        headers=PARQUET if as_parquet else CSV,
    )
    assert answer.status_code in (201, 400), (answer.status_code, answer.text[:300])
    if answer.status_code == 400:
        assert answer.json()["detail"]


def test_json_records_of_the_wrong_shape_are_refused(api) -> None:
    client, _ = api
    for body in [{"records": "x"}, {"records": [1, 2]}, {"records": []}, [], {"nothing": 1}, "str"]:
        for endpoint in ("/api/references", "/api/labels"):
            answer = client.post(endpoint, json=body, params={"model": "json-shape"})
            assert answer.status_code == 400, (endpoint, body, answer.text[:300])
            assert answer.json()["detail"]
    frame = pd.DataFrame({"age": [1, 2]})
    assert frame.shape == (2, 1)
