"""A store whose otel_* tables are the exporter's JSON tables projects the same ml rows, and
gives the same analyses, as one in the exporter's default Map schema fed the same telemetry."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from modeltel.analyzer.base.errors import ConfigError, StoreError
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.cli import main
from modeltel.instrumentation import log_labels, monitor, prediction_ids
from support.instrumentation import Telemetry, telemetry_fixture  # noqa: F401
from support.json_exporter import (
    JSON_TEMPLATES,
    create_json_tables,
    insert_logs,
    insert_spans,
    render,
)
from support.servers import new_database_name

LABELS = {"s1": "yes", "s2": "no", "b0": "no", "b1": "yes", "b2": "no", "b3": "yes"}


def telemetry_of_a_model(telemetry: Telemetry) -> tuple:
    """Single predictions, one batch span with numeric, categorical and missing values, and
    their labels (single and batch log records), as the instrumentation sends them."""
    single = monitor(lambda x: "yes", name="churn", version="2", task="classification",
                     **telemetry.providers)  # fmt: skip
    with prediction_ids(["s1"]):
        single({"age": 31, "plan": "gold", "income": 1e21, "tiny": 1e-7, "vip": True})
    with prediction_ids(["s2"]):
        single({"age": 45, "plan": "silver <&>", "income": 0.1, "tiny": -2.5, "vip": False})
    batch = monitor(lambda x: np.array(["yes", "no", "no", "yes"]), name="churn", version="2",
                    task="classification", **telemetry.providers)  # fmt: skip
    frame = pd.DataFrame({
        "age": [20.5, math.nan, 3.0, 7.0],
        "plan": ["gold", None, 'q"uote', "ünï"],
        "visits": [1, 2, 3, 9007199254740993],
        "vip": [True, False, True, False],
    })  # fmt: skip
    with prediction_ids(["b0", "b1", "b2", "b3"]):
        batch(frame)
    log_labels("churn", "s1", LABELS["s1"], logger_provider=telemetry.logger_provider)
    log_labels("churn", "s2", LABELS["s2"], logger_provider=telemetry.logger_provider)
    batch_ids = ["b0", "b1", "b2", "b3"]
    log_labels("churn", batch_ids, [LABELS[i] for i in batch_ids],
               logger_provider=telemetry.logger_provider)  # fmt: skip
    spans = encode_spans(telemetry.spans())
    logs = encode_logs(telemetry.log_exporter.get_finished_logs())
    return spans, logs


@pytest.fixture
def two_stores(store_url: str) -> Iterator[tuple[Store, Store]]:
    """(Map store, JSON store): the second's tables made by the exporter's JSON templates
    before modeltel first opens it."""
    map_store = Store(store_url, new_database_name("map"))
    database = new_database_name("json")
    create_json_tables(map_store, database)
    json_store = Store(store_url, database)
    try:
        yield map_store, json_store
    finally:
        for s in (map_store, json_store):
            s.command(f"DROP DATABASE IF EXISTS `{s.database}`")
            s.close()


ROWS = {
    "ml_predictions": "SELECT * FROM ml_predictions ORDER BY prediction_id",
    "ml_features": "SELECT * FROM ml_features ORDER BY prediction_id, feature",
    "ml_labels": "SELECT * EXCEPT received_at FROM ml_labels FINAL ORDER BY prediction_id",
}


def test_the_json_schema_projects_the_rows_of_the_map_schema(
    telemetry: Telemetry, two_stores: tuple[Store, Store]
) -> None:
    map_store, json_store = two_stores
    assert json_store.layout.__class__.__name__ == "JsonLayout"
    assert map_store.layout.__class__.__name__ == "Layout"
    spans, logs = telemetry_of_a_model(telemetry)
    for s, json_schema in ((map_store, False), (json_store, True)):
        assert insert_spans(s, spans, json_schema) == 3
        assert insert_logs(s, logs, json_schema) == 3  # the batch is one record
    stored = json_store.query_rows(
        "SELECT JSONAllPathsWithTypes(SpanAttributes) FROM otel_traces "
        "WHERE toString(SpanAttributes.ml.prediction.id) = 's1'"
    )[0][0]
    assert stored["ml.feature.income"] == "Float64" and stored["ml.feature.age"] == "Int64"
    for table, sql in ROWS.items():
        rows = json_store.query_rows(sql)
        assert rows == map_store.query_rows(sql), table
        assert rows, table
    features = {
        (pid, feature): (num, value)
        for pid, feature, num, value in json_store.query_rows(
            "SELECT prediction_id, feature, value_num, value FROM ml_features"
        )
    }
    assert features[("s1", "income")] == (1e21, None)
    assert features[("s1", "tiny")] == (1e-7, None)
    assert features[("s2", "plan")] == (None, "silver <&>")
    assert features[("b1", "age")] == (None, None)
    assert features[("b2", "plan")] == (None, 'q"uote')
    assert features[("b3", "visits")][0] == 9007199254740993.0
    labels = dict(json_store.query_rows("SELECT prediction_id, label FROM ml_labels FINAL"))
    assert labels == LABELS


def _performance(
    store: Store, capsys: pytest.CaptureFixture[str], kind: str = "performance"
) -> list[dict]:
    code = main([
        "analyze", "--model", "churn", "--only", kind, "--window", "1d", "--format",
        "json", "--no-write", "--clickhouse-url", store.url, "--database", store.database,
    ])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    records = json.loads(out)
    for record in records:
        for moment in ("computed_at", "run_id", "window_start", "window_end"):
            record.pop(moment, None)
    return records


def test_an_analysis_gives_the_same_result_on_both_schemas(
    telemetry: Telemetry, two_stores: tuple[Store, Store], capsys: pytest.CaptureFixture[str]
) -> None:
    map_store, json_store = two_stores
    spans, logs = telemetry_of_a_model(telemetry)
    for s, json_schema in ((map_store, False), (json_store, True)):
        insert_spans(s, spans, json_schema)
        insert_logs(s, logs, json_schema)
    from_map = _performance(map_store, capsys)
    from_json = _performance(json_store, capsys)
    assert from_json == from_map
    accuracy = [r["value"] for r in from_json if r.get("metric") == "accuracy"]
    assert accuracy[0] == pytest.approx(3 / 6)  # s1, b2 and b3 right


def test_a_new_json_store_has_the_columns_of_the_exporter_templates(store_url: str) -> None:
    ours = Store(store_url, new_database_name("ours"), otel_schema="json")
    theirs = new_database_name("theirs")
    try:
        ours.command(f"CREATE DATABASE `{theirs}`")
        for table, template in JSON_TEMPLATES.items():
            ours.command(render(template, theirs, table))
        sql = (
            "SELECT table, name, type FROM system.columns WHERE database = '{}' "
            "AND table IN ('otel_traces', 'otel_logs') ORDER BY table, name"
        )
        template_columns = set(ours.query_rows(sql.format(theirs)))
        assert template_columns <= set(ours.query_rows(sql.format(ours.database)))
    finally:
        ours.command(f"DROP DATABASE IF EXISTS `{theirs}`")
        ours.command(f"DROP DATABASE IF EXISTS `{ours.database}`")
        ours.close()


def test_asking_for_the_other_schema_is_refused_with_one_sentence(two_stores) -> None:
    map_store, json_store = two_stores
    with pytest.raises(StoreError, match="the otel schema map was asked for, but the otel_"
                       r".* are in the json schema \(otel_logs.LogAttributes is JSON"):  # fmt: skip
        Store(json_store.url, json_store.database, otel_schema="map")
    with pytest.raises(StoreError, match="the otel schema json was asked for"):
        Store(map_store.url, map_store.database, otel_schema="json")


def test_a_bad_schema_setting_is_a_config_error(monkeypatch, store_url: str) -> None:
    monkeypatch.setenv("MODELTEL_OTEL_SCHEMA", "yaml")
    with pytest.raises(ConfigError, match="MODELTEL_OTEL_SCHEMA='yaml' is not an otel schema"):
        Store(store_url, new_database_name())


def test_the_cli_option_creates_a_json_store(store_url: str, capsys) -> None:
    database = new_database_name("cli")
    code = main(["models", "--clickhouse-url", store_url, "--database", database,
                 "--otel-schema", "json"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    s = Store(store_url, database)
    try:
        types = dict(s.query_rows(
            f"SELECT table, type FROM system.columns WHERE database = '{database}' "
            "AND name IN ('SpanAttributes', 'LogAttributes') "
            "AND table IN ('otel_traces', 'otel_logs')"
        ))  # fmt: skip
        assert types == {"otel_traces": "JSON", "otel_logs": "JSON"}
    finally:
        s.command(f"DROP DATABASE IF EXISTS `{database}`")
        s.close()


def test_the_receiver_writes_into_a_json_store(
    telemetry: Telemetry, two_stores: tuple[Store, Store], capsys: pytest.CaptureFixture[str]
) -> None:
    """modeltel's own receiver, fed by the SDK's OTLP exporters, fills a JSON store's otel_*
    tables (spans, label records, metric points) and projects the same ml rows as into a Map
    store."""
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    from support.servers import start_server

    telemetry_of_a_model(telemetry)
    points = telemetry.reader.get_metrics_data()
    for s in two_stores:
        running, stop = start_server(s)
        try:
            spans = OTLPSpanExporter(endpoint=running.url + "/v1/traces")
            assert spans.export(telemetry.spans()) == SpanExportResult.SUCCESS
            logs = OTLPLogExporter(endpoint=running.url + "/v1/logs")
            records = telemetry.log_exporter.get_finished_logs()
            assert logs.export(records).name == "SUCCESS"
            metrics = OTLPMetricExporter(endpoint=running.url + "/v1/metrics")
            assert metrics.export(points).name == "SUCCESS"
        finally:
            stop()
    map_store, json_store = two_stores
    assert json_store.query_rows("SELECT count() FROM otel_traces") == [(3,)]
    assert json_store.query_rows("SELECT count() FROM otel_logs") == [(3,)]
    metric_rows = "SELECT count() FROM merge(currentDatabase(), '^otel_metrics_')"
    assert json_store.query_rows(metric_rows) == map_store.query_rows(metric_rows) != [(0,)]
    for table, sql in ROWS.items():
        rows = json_store.query_rows(sql)
        assert rows == map_store.query_rows(sql), table
        assert rows, table

    # the service analysis counts predictions from otel_metrics_sum's attributes
    def service(s: Store) -> list[dict]:  # staleness is measured against the clock
        return [r for r in _performance(s, capsys, "service") if r["metric"] != "staleness"]

    from_json = service(json_store)
    assert from_json == service(map_store)
    assert from_json


def test_any_json_attribute_is_read_without_failing_the_insert(two_stores) -> None:
    """Values the instrumentation never sends (mixed, nested and object arrays, dates, a
    kvlist, huge numbers) neither fail the insert nor stop the span's prediction."""
    _, json_store = two_stores
    odd = {
        "ml.model.name": "odd", "ml.prediction.id": "o1", "ml.prediction.score": 0.5,
        "ml.feature.mixed": [1, "a", None, 2.5], "ml.feature.nested": [[1, 2], [3]],
        "ml.feature.objects": [{"k": 1}], "ml.feature.when": "2026-01-31T12:00:00Z",
        "ml.feature.day": ["2026-01-31"], "ml.feature.kv": {"a": 1}, "ml.feature.big": 1e300,
        "ml.feature.huge": 18446744073709551615, "ml.feature.empty": [], "other": "x\\'\"",
    }  # fmt: skip
    json_store.insert(
        "otel_traces",
        [["2026-01-31 12:00:00", "t", "s", "svc", json.dumps(odd), 1000]],
        ["Timestamp", "TraceId", "SpanId", "ServiceName", "SpanAttributes", "Duration"],
    )
    assert json_store.query_rows(
        "SELECT prediction_id, prediction_score FROM ml_predictions WHERE model = 'odd'"
    ) == [("o1", 0.5)]
    features = dict(json_store.query_rows(
        "SELECT feature, value FROM ml_features WHERE model = 'odd'"
    ))  # fmt: skip
    assert json.loads(features["mixed"]) == [1, "a", None, 2.5]
    assert json.loads(features["nested"]) == [[1, 2], [3]]
    assert json.loads(features["day"]) == ["2026-01-31"]
    assert features["kv.a"] is None  # a kvlist's members are paths of their own: 1 is a number
    assert features["empty"] == "[]"
