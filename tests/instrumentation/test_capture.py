"""What gets captured, end to end: monitored calls exported by the OTel SDK's OTLP/HTTP exporter
to the receiver, rows in the store, drift computed by the analyzer. Excluded and dropped
features never reach the store; hashed ones arrive as categories whose drift and segments
equal the raw values'; bad settings are refused when the monitor is made."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sklearn.linear_model import LogisticRegression

from modeltel.analyzer import Analyzer
from modeltel.analyzer.inputs.reference import upload_reference
from modeltel.instrumentation import _config, instrument, monitor
from modeltel.instrumentation.auto import SklearnInstrumentor
from modeltel.instrumentation.capture import hash_value

CAPTURE_VARIABLES = (
    "MODELTEL_FEATURES_INCLUDE",
    "MODELTEL_FEATURES_EXCLUDE",
    "MODELTEL_FEATURE_TREATMENTS",
    "MODELTEL_HASH_SALT",
)


@pytest.fixture(autouse=True)
def _no_capture_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CAPTURE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def exporting(server) -> Iterator[TracerProvider]:
    """A tracer provider exporting over OTLP/HTTP to the receiver of ``server``."""
    provider = TracerProvider()
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=server.url + "/v1/traces"))
    )
    try:
        yield provider
    finally:
        provider.shutdown()


def predict(x):  # the application's predict function: a rule on the age
    ages = x["age"] if isinstance(x, dict) else x["age"].tolist()
    return [int(a > 40) for a in ages] if isinstance(ages, list) else int(ages > 40)


def span_attribute_keys(store, model: str) -> set[str]:
    rows = store.query_rows(
        "SELECT DISTINCT arrayJoin(mapKeys(SpanAttributes)) FROM otel_traces "
        "WHERE SpanAttributes['ml.model.name'] = {m:String}",
        parameters={"m": model},
    )
    return {r[0] for r in rows}


def stored_features(store, model: str) -> pd.DataFrame:
    return store.query_df(
        "SELECT feature, value, value_num, categorical FROM ml_features WHERE model = {m:String}",
        parameters={"m": model},
    )


def test_excluded_and_dropped_features_never_reach_the_store(server, exporting) -> None:
    frame = pd.DataFrame(
        {
            "age": [31.0, 52.0, 47.0],
            "ssn": ["078-05-1120", "219-09-9999", "457-55-5462"],
            "name": ["Ada Lovelace", "Alan Turing", "Grace Hopper"],
            "postcode": [75011, None, 10115],
            "plan": ["gold", "basic", "gold"],
        }
    )
    monitored = monitor(
        predict,
        name="private",
        version="1",
        tracer_provider=exporting,
        features_exclude=["ssn"],
        feature_treatments={"name": "drop", "postcode": "hash"},
        hash_salt="pepper",
    )
    assert monitored(frame) == [0, 1, 1]
    assert monitored({"age": 60.0, "ssn": "111-22-3333", "name": "Edsger", "postcode": 75011}) == 1
    assert exporting.force_flush(30_000)

    keys = span_attribute_keys(server.store, "private")
    assert {"ml.feature.age", "ml.feature.plan", "ml.feature.postcode"} <= keys
    assert not {"ml.feature.ssn", "ml.feature.name"} & keys
    texts = server.store.query_rows(
        "SELECT count() FROM otel_traces WHERE SpanAttributes['ml.model.name'] = 'private' AND "
        "arrayExists(v -> v LIKE '%Lovelace%' OR v LIKE '%078-05%' OR v LIKE '%75011%', "
        "mapValues(mapFilter((k, v) -> startsWith(k, 'ml.feature.'), SpanAttributes)))"
    )
    assert texts == [(0,)]  # no raw value of a left-out or hashed feature, anywhere

    features = stored_features(server.store, "private")
    assert set(features.feature) == {"age", "plan", "postcode"}
    postcode = features[features.feature == "postcode"]
    assert (postcode.categorical == 1).all() and postcode.value_num.isna().all()
    assert sorted(postcode.value.dropna()) == sorted(
        [hash_value(75011, "pepper")] * 2 + [hash_value(10115, "pepper")]
    )
    assert postcode.value.isna().sum() == 1  # the missing postcode stays missing
    assert all(v.startswith("h:") and len(v) == 18 for v in postcode.value.dropna())


def test_the_allowlist_from_the_environment_records_only_its_features(
    server, exporting, monkeypatch
) -> None:
    monkeypatch.setenv("MODELTEL_FEATURES_INCLUDE", "age, plan")
    model = LogisticRegression().fit(
        pd.DataFrame({"age": [20.0, 30.0, 50.0, 60.0], "income": [1.0, 2.0, 3.0, 4.0]}),
        [0, 0, 1, 1],
    )
    instrument(model, name="allow", version="1", tracer_provider=exporting)
    model.predict(pd.DataFrame({"age": [25.0, 55.0], "income": [9e4, 3e4]}))
    assert exporting.force_flush(30_000)
    assert set(stored_features(server.store, "allow").feature) == {"age"}
    assert "ml.feature.income" not in span_attribute_keys(server.store, "allow")


def test_hashed_drift_and_segments_equal_the_raw_categories(server, exporting, monkeypatch) -> None:
    rng = np.random.default_rng(7)
    shops = np.array(["paris-1", "paris-2", "lyon", "lille"])
    reference = pd.DataFrame(
        {"shop": rng.choice(shops, 600, p=[0.4, 0.3, 0.2, 0.1]), "age": rng.normal(40, 9, 600)}
    )
    production = pd.DataFrame(
        {"shop": rng.choice(shops, 500, p=[0.2, 0.3, 0.2, 0.3]), "age": rng.normal(44, 9, 500)}
    )
    start = datetime.now(UTC) - timedelta(minutes=1)
    raw = monitor(predict, name="shops-raw", version="1", tracer_provider=exporting)
    upload_reference(server.store, "shops-raw", reference, version="1")
    # One setting for both sides: the variables the app and the reference upload read.
    monkeypatch.setenv("MODELTEL_FEATURE_TREATMENTS", "shop:hash")
    monkeypatch.setenv("MODELTEL_HASH_SALT", "s3cret")
    hashed = monitor(predict, name="shops-hashed", version="1", tracer_provider=exporting)
    summary = upload_reference(server.store, "shops-hashed", reference, version="1")
    assert summary.hashed == ["shop"] and summary.features["shop"] == "categorical"
    for i in range(0, len(production), 100):
        batch = production.iloc[i : i + 100]
        raw(batch)
        hashed(batch)
    assert exporting.force_flush(30_000)
    end = datetime.now(UTC) + timedelta(minutes=1)

    stored = stored_features(server.store, "shops-hashed")
    assert set(stored[stored.feature == "shop"].value) == {hash_value(s, "s3cret") for s in shops}

    analyzer = Analyzer(server.store)
    kept = ["feature", "method", "value", "reference_size", "current_size"]
    raw_drift = analyzer.drift("shops-raw", "1", start=start, end=end, methods=["all"])
    hashed_drift = analyzer.drift("shops-hashed", "1", start=start, end=end, methods=["all"])
    left = raw_drift[raw_drift.feature == "shop"][kept].sort_values("method")
    right = hashed_drift[hashed_drift.feature == "shop"][kept].sort_values("method")
    assert len(left) >= 6 and list(left.method) == list(right.method)
    assert left.value.tolist() == pytest.approx(right.value.tolist(), rel=1e-12, abs=1e-15)
    assert left.current_size.tolist() == right.current_size.tolist() == [500] * len(left)

    def age_by_segment(model: str) -> pd.DataFrame:
        results = analyzer.drift(
            model, "1", start=start, end=end, segment_by="shop", methods=["ks"]
        )
        per_shop = results[(results.feature == "age") & (results.segment != "")]
        return per_shop.set_index("segment")

    by_shop, by_hash = age_by_segment("shops-raw"), age_by_segment("shops-hashed")
    assert len(by_shop) == len(by_hash) == len(shops)
    for shop in shops:
        raw_row, hashed_row = (
            by_shop.loc[f"shop={shop}"],
            by_hash.loc[f"shop={hash_value(shop, 's3cret')}"],
        )
        assert raw_row.value == pytest.approx(hashed_row.value, rel=1e-12)
        assert raw_row.current_size == hashed_row.current_size == (production.shop == shop).sum()


def test_the_same_salt_gives_the_same_hash_and_another_salt_another(server, exporting) -> None:
    for name, salt in (("salt-a", "one"), ("salt-b", "one"), ("salt-c", "two")):
        monitor(
            predict,
            name=name,
            tracer_provider=exporting,
            feature_treatments={"postcode": "hash"},
            hash_salt=salt,
        )({"age": 30.0, "postcode": "75011"})
    assert exporting.force_flush(30_000)
    value = {
        name: stored_features(server.store, name).set_index("feature").loc["postcode", "value"]
        for name in ("salt-a", "salt-b", "salt-c")
    }
    assert value["salt-a"] == value["salt-b"] == hash_value("75011", "one")
    assert value["salt-c"] != value["salt-a"]


def test_hashing_without_a_salt_warns_once(caplog) -> None:
    _config._reported.discard(("capture", "unsalted"))
    with caplog.at_level(logging.WARNING, logger="modeltel.instrumentation"):
        monitor(predict, name="unsalted", feature_treatments={"postcode": "hash"})
        monitor(predict, name="unsalted-2", feature_treatments={"postcode": "hash"})
    warnings = [r.getMessage() for r in caplog.records if "MODELTEL_HASH_SALT" in r.getMessage()]
    assert len(warnings) == 1 and "postcode" in warnings[0]


@pytest.mark.parametrize(
    ("options", "variables", "message"),
    [
        ({"feature_treatments": {"postcode": "blur"}}, {}, "feature_treatments: the treatment of"),
        ({}, {"MODELTEL_FEATURE_TREATMENTS": "postcode:mask"}, "MODELTEL_FEATURE_TREATMENTS: "),
        ({}, {"MODELTEL_FEATURE_TREATMENTS": "postcode"}, "is not a list of feature:treatment"),
        (
            {"features_include": ["age", "plan"], "features_exclude": ["plan"]},
            {},
            "plan are both in features_include and features_exclude",
        ),
        (
            {"features_include": ["plan"]},
            {"MODELTEL_FEATURES_EXCLUDE": "plan"},
            "both in features_include and MODELTEL_FEATURES_EXCLUDE",
        ),
        ({}, {"MODELTEL_FEATURES_INCLUDE": "age,,plan"}, "MODELTEL_FEATURES_INCLUDE='age,,plan'"),
        ({"feature_treatments": ["postcode"]}, {}, "feature_treatments must map feature names"),
        ({"hash_salt": ""}, {}, "hash_salt must be a non-empty string"),
    ],
)
def test_bad_capture_settings_are_refused_naming_the_option(
    monkeypatch, options, variables, message
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(ValueError, match=message.replace("(", r"\(")) as monitor_error:
        monitor(predict, name="bad", **options)
    with pytest.raises(ValueError) as instrument_error:
        instrument(model, name="bad", **options)
    assert str(instrument_error.value) == str(monitor_error.value)
    assert "predict" not in model.__dict__  # nothing was instrumented
    with pytest.raises(ValueError) as auto_error:
        SklearnInstrumentor().instrument(**options)
    assert str(auto_error.value) == str(monitor_error.value)
    assert not SklearnInstrumentor().is_instrumented_by_opentelemetry


def test_a_left_out_feature_has_no_attribution_either(server, exporting) -> None:
    from modeltel.instrumentation import attributions

    monitored = monitor(
        predict, name="explained", version="1", tracer_provider=exporting,
        features_exclude=["ssn"], feature_treatments={"name": "drop"},
    )  # fmt: skip
    row = {"age": 60.0, "ssn": "111-22-3333", "name": "Edsger", "plan": "gold"}
    with attributions({"age": 0.5, "ssn": 0.25, "name": 0.125, "plan": -0.1}):
        assert monitored(row) == 1
    assert exporting.force_flush(30_000)
    keys = span_attribute_keys(server.store, "explained")
    assert {"ml.attribution.age", "ml.attribution.plan"} <= keys
    assert not {"ml.attribution.ssn", "ml.attribution.name"} & keys
