"""Reference uploads apply the capture settings of the instrumentation: columns production does
not record are left out, hashed ones hashed with the same salt (so they equal what the
monitored model sends), from the Python API, the CLI (on the store or through a server) and
``POST /api/references``; bad settings are refused with a sentence naming them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pandas as pd
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from modeltel.analyzer.base.errors import InputError
from modeltel.analyzer.cli import main
from modeltel.analyzer.inputs.reference import upload_reference
from modeltel.instrumentation import monitor
from modeltel.instrumentation.capture import hash_value

TRAIN = pd.DataFrame(
    {
        "age": [31.0, 45.0, 52.0, 38.0],
        "postcode": [75011, 10115, None, 75011],
        "name": ["Ada", "Alan", "Grace", "Edsger"],
        "plan": ["gold", "basic", "gold", None],
        "predicted": ["1", "0", "1", "0"],
    }
)


@pytest.fixture(autouse=True)
def _no_capture_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "MODELTEL_FEATURES_INCLUDE",
        "MODELTEL_FEATURES_EXCLUDE",
        "MODELTEL_FEATURE_TREATMENTS",
        "MODELTEL_HASH_SALT",
    ):
        monkeypatch.delenv(name, raising=False)


def stored(store, model: str, version: str = "1") -> pd.DataFrame:
    return store.query_df(
        "SELECT feature, row_id, value, value_num, categorical FROM ml_reference "
        "WHERE model = {m:String} AND version = {v:String} ORDER BY feature, row_id",
        parameters={"m": model, "v": version},
    )


def test_treatments_leave_out_and_hash_columns(store, monkeypatch) -> None:
    monkeypatch.setenv("MODELTEL_HASH_SALT", "pepper")
    summary = upload_reference(
        store,
        "churn",
        TRAIN,
        version="1",
        treatments="postcode:hash,name:drop",
        prediction_column="predicted",
    )
    assert summary.features == {
        "age": "numerical",
        "postcode": "categorical",
        "plan": "categorical",
        "prediction.label": "categorical",
    }
    assert (summary.left_out, summary.hashed, summary.warnings) == (["name"], ["postcode"], [])
    rows = stored(store, "churn")
    assert set(rows.feature) == {"age", "postcode", "plan", "prediction.label"}
    postcode = rows[rows.feature == "postcode"]
    assert list(postcode.value.fillna("∅")) == [
        hash_value(75011, "pepper"),
        hash_value(10115, "pepper"),
        "∅",
        hash_value(75011, "pepper"),
    ]
    assert (postcode.categorical == 1).all() and postcode.value_num.isna().all()
    assert list(rows[rows.feature == "prediction.label"].value) == ["1", "0", "1", "0"]


def test_allowlist_and_denylist_from_the_variables(store, monkeypatch) -> None:
    monkeypatch.setenv("MODELTEL_FEATURES_INCLUDE", "age,plan")
    summary = upload_reference(store, "allow", TRAIN, version="1", exclude="predicted")
    assert set(summary.features) == {"age", "plan"}
    assert sorted(summary.left_out) == ["name", "postcode"]
    assert set(stored(store, "allow").feature) == {"age", "plan"}
    explicit = upload_reference(store, "allow", TRAIN, version="2", features_include=["name"])
    assert set(explicit.features) == {"name"}  # the argument wins over the variable
    monkeypatch.delenv("MODELTEL_FEATURES_INCLUDE")
    monkeypatch.setenv("MODELTEL_FEATURES_EXCLUDE", "postcode,name")
    denied = upload_reference(store, "allow", TRAIN, version="3")
    assert set(denied.features) == {"age", "plan", "predicted"}
    assert set(stored(store, "allow", "3").feature) == {"age", "plan", "predicted"}


def test_the_same_salt_hashes_as_the_monitored_model_and_another_salt_does_not(
    server, monkeypatch
) -> None:
    monkeypatch.setenv("MODELTEL_FEATURE_TREATMENTS", "postcode:hash")
    monkeypatch.setenv("MODELTEL_HASH_SALT", "shared-secret")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(server.url + "/v1/traces")))
    predict = monitor(
        lambda frame: [0] * len(frame), name="geo", version="1", tracer_provider=provider
    )
    predict(TRAIN[["age", "postcode", "plan"]])
    provider.shutdown()
    sent = server.store.query_rows(
        "SELECT DISTINCT value FROM ml_features WHERE model = 'geo' AND feature = 'postcode' "
        "AND value IS NOT NULL"
    )
    upload_reference(server.store, "geo", TRAIN, version="1")
    reference = set(stored(server.store, "geo").query("feature == 'postcode'").value.dropna())
    assert reference == {v for (v,) in sent} and len(reference) == 2

    monkeypatch.setenv("MODELTEL_HASH_SALT", "another-secret")
    upload_reference(server.store, "geo", TRAIN, version="2")
    other = set(stored(server.store, "geo", "2").query("feature == 'postcode'").value.dropna())
    assert len(other) == 2 and not other & reference


def test_cli_and_api_take_the_treatments(server, store_url, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MODELTEL_HASH_SALT", "pepper")
    train = tmp_path / "train.csv"
    TRAIN.to_csv(train, index=False)
    store = ["--clickhouse-url", store_url, "--database", server.store.database]
    common = ["--features-exclude", "name", "--treatments", "postcode:hash"]
    assert main(["reference", "upload", "cli", str(train), "--version", "1", *common, *store]) == 0
    via_server = ["--server", server.url]
    assert (
        main(["reference", "upload", "cli", str(train), "--version", "2", *common, *via_server])
        == 0
    )
    with httpx.Client(base_url=server.url, timeout=60) as client:
        answer = client.post(
            "/api/references",
            params={"model": "cli", "version": "3"},
            json={
                "records": TRAIN.astype(object).where(TRAIN.notna(), None).to_dict("records"),
                "treatments": {"postcode": "hash", "name": "drop"},
            },
        )
        assert answer.status_code == 201, answer.text
        assert (answer.json()["hashed"], answer.json()["left_out"]) == (["postcode"], ["name"])
        refused = client.post(
            "/api/references",
            params={"model": "cli", "version": "4", "treatments": "postcode:blur"},
            content=train.read_bytes(),
            headers={"Content-Type": "text/csv"},
        )
        assert refused.status_code == 400
        assert "treatments: the treatment of 'postcode' must be 'hash' or 'drop'" in refused.text
    expected = {hash_value(75011, "pepper"), hash_value(10115, "pepper")}
    for version in ("1", "2", "3"):
        rows = stored(server.store, "cli", version)
        assert set(rows.feature) == {"age", "postcode", "plan", "predicted"}, version
        assert set(rows[rows.feature == "postcode"].value.dropna()) == expected, version


def test_cli_refuses_a_bad_treatment_with_exit_2(store_url, store, tmp_path, capsys) -> None:
    train = tmp_path / "train.csv"
    TRAIN.to_csv(train, index=False)
    code = main(
        [
            "reference",
            "upload",
            "cli",
            str(train),
            "--treatments",
            "postcode",
            "--clickhouse-url",
            store_url,
            "--database",
            store.database,
        ]
    )
    assert code == 2
    assert "'postcode' is not" in capsys.readouterr().err


def test_hashing_without_a_salt_warns_in_the_summary(store) -> None:
    summary = upload_reference(
        store, "unsalted", TRAIN, version="1", treatments={"postcode": "hash"}
    )
    assert len(summary.warnings) == 1
    assert "MODELTEL_HASH_SALT" in summary.warnings[0] and "postcode" in summary.warnings[0]
    postcode = stored(store, "unsalted").query("feature == 'postcode'")
    assert set(postcode.value.dropna()) == {hash_value(75011), hash_value(10115)}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"treatments": "postcode:blur"}, "treatments: the treatment of 'postcode' must be"),
        ({"treatments": {"postcode": "hash"}, "numerical": "postcode"}, "postcode are hashed"),
        (
            {"features_include": "age,plan", "features_exclude": "plan"},
            "plan are both in features_include and features_exclude",
        ),
        ({"features_include": ["nothing"]}, "the capture settings leave out every column"),
    ],
)
def test_bad_capture_settings_are_refused_before_anything_is_stored(
    store, options, message
) -> None:
    with pytest.raises(InputError, match=message):
        upload_reference(store, "bad", TRAIN, version="1", **options)
    assert stored(store, "bad").empty
