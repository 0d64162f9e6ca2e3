"""References: uploads from DataFrames, CSV and Parquet, schema inference and overrides, clear
errors for bad files, replacement, capture from a production window."""

from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from modeltel.analyzer.base.errors import InputError, NotFoundError
from modeltel.analyzer.inputs.reference import (
    find_reference,
    list_references,
    read_table,
    reference_from_window,
    upload_reference,
)
from support.drift import T0, module_store, write_production


@pytest.fixture(scope="module")
def store(store_url):
    yield from module_store(store_url)


def stored(store, model: str, version: str = "1", name: str = "default") -> pd.DataFrame:
    return store.query_df(
        "SELECT feature, row_id, value, value_num, categorical FROM ml_reference "
        "WHERE model = {m:String} AND version = {v:String} AND reference = {n:String} "
        "ORDER BY feature, row_id",
        parameters={"m": model, "v": version, "n": name},
    )


def test_dataframe_upload_infers_the_schema_and_stores_long_rows(store) -> None:
    frame = pd.DataFrame(
        {
            "age": [31, 45, None],
            "income": [1.5, float("inf"), 3.0],
            "plan": ["gold", None, "basic"],
            "member": [True, False, True],
        }
    )
    summary = upload_reference(store, "churn", frame, version="3")
    assert summary.rows == 3
    assert summary.features == {
        "age": "numerical",
        "income": "numerical",
        "plan": "categorical",
        "member": "categorical",
    }
    rows = stored(store, "churn", "3")
    age = rows[rows.feature == "age"]
    assert list(age.value_num.isna()) == [False, False, True]
    assert age.value.isna().all() and (age.categorical == 0).all()
    assert list(rows[rows.feature == "income"].value_num) == [1.5, float("inf"), 3.0]
    plan = rows[rows.feature == "plan"]
    assert list(plan.value.fillna("∅")) == ["gold", "∅", "basic"] and (plan.categorical == 1).all()
    assert list(rows[rows.feature == "member"].value) == ["true", "false", "true"]


def test_csv_and_parquet_uploads_with_overrides_and_prediction_columns(store, tmp_path) -> None:
    frame = pd.DataFrame(
        {
            "zip": [1010, 2020, 1010, 3030],
            "score_raw": ["1", "2.5", "3", "4"],
            "predicted": ["a", "b", "a", "a"],
            "proba": [0.9, 0.2, 0.8, 0.7],
            "customer_id": [1, 2, 3, 4],
        }
    )
    csv = tmp_path / "train.csv"
    frame.to_csv(csv, index=False)
    parquet = tmp_path / "train.parquet"
    frame.to_parquet(parquet)
    options = dict(
        categorical="zip",
        prediction_column="predicted",
        score_column="proba",
        exclude=["customer_id"],
    )
    for path, version in ((csv, "csv"), (parquet, "parquet")):
        summary = upload_reference(store, "m", path, version=version, **options)
        assert summary.features == {
            "zip": "categorical",
            "score_raw": "numerical" if version == "csv" else "categorical",
            "prediction.label": "categorical",
            "prediction.score": "numerical",
        }
        rows = stored(store, "m", version)
        assert list(rows[rows.feature == "zip"].value) == ["1010", "2020", "1010", "3030"]
        assert list(rows[rows.feature == "prediction.score"].value_num) == [0.9, 0.2, 0.8, 0.7]
    summary = upload_reference(store, "m", parquet, version="forced", numerical="score_raw")
    assert summary.features["score_raw"] == "numerical"
    rows = stored(store, "m", "forced")
    assert list(rows[rows.feature == "score_raw"].value_num) == [1.0, 2.5, 3.0, 4.0]


def test_floats_in_categorical_columns_are_written_as_the_exporter_writes_them(store) -> None:
    upload_reference(store, "fmt", pd.DataFrame({"code": [1.0, 2.5, 1e21]}), categorical="code")
    rows = stored(store, "fmt", "unversioned")
    assert list(rows.value) == ["1", "2.5", "1e+21"]


@pytest.mark.parametrize(
    "content, options, message",
    [
        (b"", {}, "is empty"),
        (b"age,plan\n", {}, "header but no rows"),
        (b"age,plan\n1,a\nx,b\n", {"numerical": "age"}, "row 2 holds 'x', which is not a number"),
        (b"age,plan\n1,a\n", {"categorical": "nope"}, "categorical column(s) nope not in the file"),
        (b"age,plan\n1,a\n", {"score_column": "proba"}, "score column 'proba' is not in the file"),
        (b"age,plan\n1,a\n", {"exclude": "age,plan"}, "no feature columns"),
        (b"age,age\n1,2\n", {}, "duplicate column names"),
        (b"age,plan\n1,a\n", {"categorical": "age", "numerical": "age"}, "both categorical"),
        (b'a,b\n1,"unclosed\n', {}, "not a readable CSV file"),
        (b"PAR1 not really parquet", {}, "not a readable PARQUET file"),
    ],
)
def test_bad_files_get_a_clear_error_and_nothing_is_stored(
    store, content: bytes, options: dict, message: str
) -> None:
    with pytest.raises(InputError) as info:
        upload_reference(store, "bad", content, **options)
    assert message in str(info.value)
    assert list_references(store, "bad").empty


def test_date_columns_are_refused_with_advice(store) -> None:
    frame = pd.DataFrame({"when": pd.to_datetime(["2026-01-01", "2026-01-02"]), "x": [1, 2]})
    with pytest.raises(InputError, match="'when' holds dates"):
        upload_reference(store, "dates", frame)


def test_columns_unknown_to_production_are_refused_or_reported(store) -> None:
    write_production(store, "known", "1", {"age": [30.0], "plan": ["a"]}, categorical=["plan"])
    with pytest.raises(InputError, match="none of the file's columns"):
        upload_reference(store, "known", pd.DataFrame({"agee": [1], "plann": ["a"]}))
    summary = upload_reference(store, "known", pd.DataFrame({"age": [1], "extra": [2]}))
    assert summary.warnings == ["column(s) extra are not features that model 'known' sends"]


def test_uploading_again_replaces_the_reference(store) -> None:
    upload_reference(store, "r", pd.DataFrame({"x": np.arange(10.0)}), version="1")
    upload_reference(store, "r", pd.DataFrame({"x": [7.0, 8.0]}), version="1")
    upload_reference(store, "r", pd.DataFrame({"x": [1.0]}), version="1", name="other")
    assert list(stored(store, "r").value_num) == [7.0, 8.0]
    listing = list_references(store, "r")
    assert list(listing["name"]) == ["default", "other"]
    assert list(listing["rows"]) == [2, 1]


def test_find_reference_prefers_the_version_then_the_latest(store) -> None:
    upload_reference(store, "f", pd.DataFrame({"x": [1.0]}), version="1")
    upload_reference(store, "f", pd.DataFrame({"x": [1.0]}), version="2")
    assert find_reference(store, "f", "1").version == "1"
    assert find_reference(store, "f", "9").version == "2"
    assert find_reference(store, "f", "1", "missing") is None


def test_reference_from_a_production_window(store) -> None:
    write_production(
        store,
        "cap",
        "1",
        {"x": [1.0, 2.0, None, 4.0], "plan": ["a", "b", "a", None]},
        categorical=["plan"],
        scores=[0.1, 0.2, 0.3, 0.4],
        labels=["y", "n", "y", "y"],
    )
    summary = reference_from_window(
        store, "cap", "1", T0, T0 + timedelta(seconds=3), target_version="2"
    )
    assert summary.version == "2" and summary.rows == 3
    assert summary.features == {
        "plan": "categorical",
        "prediction.label": "categorical",
        "prediction.score": "numerical",
        "x": "numerical",
    }
    rows = stored(store, "cap", "2")
    assert sorted(rows[rows.feature == "x"].value_num.dropna()) == [1.0, 2.0]
    assert sorted(rows[rows.feature == "plan"].value.dropna()) == ["a", "a", "b"]
    with pytest.raises(NotFoundError):
        reference_from_window(store, "cap", "1", T0 + timedelta(days=1), T0 + timedelta(days=2))


def test_read_table_detects_parquet_by_content() -> None:
    buffer = io.BytesIO()
    pd.DataFrame({"a": [1, 2]}).to_parquet(buffer)
    assert list(read_table(buffer.getvalue())["a"]) == [1, 2]
    assert list(read_table(b"a\n1\n2\n")["a"]) == [1, 2]
