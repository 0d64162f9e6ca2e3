"""Every combination of input and output shape yields spans that keep the contract, and the
contract's names and value rules (``modeltel.instrumentation.attributes``) are what the analyzer
reads."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from modeltel.analyzer.base.store import Store
from modeltel.analyzer.inputs.labels import upload_labels
from modeltel.instrumentation import attributes as A
from modeltel.instrumentation import log_labels, monitor, prediction_ids
from support.instrumentation import Telemetry, assert_contract, telemetry_fixture  # noqa: F401
from support.servers import new_database_name

ROWS = 3
INPUTS = {
    "dataframe": pd.DataFrame(
        {"a": [1.0, math.nan, 3.0], "b": ["x", None, "z"], "c": [1, 2, 3], "d": [True, False, True]}
    ),
    "one-row-dataframe": pd.DataFrame({"a": [1.0], "b": ["x"]}),
    "matrix": np.array([[1.0, math.nan], [2.0, 3.0], [math.inf, 0.0]]),
    "records": [{"a": 1, "b": "x"}, {"a": None}, {"b": "z", "c": 2.5}],
    "rows": [[1, "a"], [2, None], [3, "c"]],
    "columns": {"a": [1.0, 2.0, math.nan], "b": ["x", "y", None]},
    "dict": {"a": 1.0, "b": "x", "c": math.nan, "d": None, "e": 3},
    "series": pd.Series({"a": 1.0, "b": "k"}),
    "vector": np.array([1.0, math.nan, 2.0]),
    "scalars": [1.0, "x", None],
    "scalar": 2.5,
}


def outputs_for(rows: int, batch: bool) -> dict[str, object]:
    n = rows if batch else 1
    return {
        "labels": np.array(["a", "b", "a"][:n]) if batch else "a",
        "int-labels": np.arange(n),
        "proba": np.tile([[0.3, 0.7]], (n, 1)),
        "proba-nan": np.array([[math.nan, math.nan]] * n),
        "values": np.linspace(0, 1, n) if batch else 0.5,
        "values-nan": np.array([math.nan] * n),
        "dicts": [{"label": "x", "score": 0.1}] * n if batch else {"label": "x", "score": 0.1},
        "none": None,
    }


CASES = [(input_name, output_name) for input_name in INPUTS for output_name in outputs_for(1, True)]


@pytest.mark.parametrize(("input_name", "output_name"), CASES)
def test_contract(telemetry: Telemetry, input_name: str, output_name: str) -> None:
    x = INPUTS[input_name]
    batch = input_name in ("dataframe", "one-row-dataframe", "matrix", "records", "rows", "columns")
    rows = (1 if input_name == "one-row-dataframe" else ROWS) if batch else 1
    result = outputs_for(rows, batch)[output_name]
    predict = monitor(lambda _x: result, name="contract", **telemetry.providers)
    assert predict(x) is result
    attributes = telemetry.attributes()
    assert_contract(attributes)
    assert attributes["ml.batch.size"] == rows
    assert isinstance(attributes["ml.prediction.id"], tuple) == batch


@pytest.mark.parametrize("overflow", ["split", "sample"])
def test_contract_of_split_and_sampled_batches(telemetry: Telemetry, overflow: str) -> None:
    frame = pd.DataFrame({"a": np.arange(7.0), "b": list("abcdefg")})
    predict = monitor(
        lambda x: np.arange(len(x)),
        name="big",
        max_batch_span_rows=3,
        batch_overflow=overflow,
        **telemetry.providers,
    )
    predict(frame)
    spans = telemetry.spans()
    assert len(spans) == (3 if overflow == "split" else 1)
    for span in spans:
        assert_contract(dict(span.attributes))


# -- the names and value rules are what the analyzer reads ---------------------------------


def _exporters(url: str) -> tuple[TracerProvider, LoggerProvider]:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(url + "/v1/traces")))
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(url + "/v1/logs"))
    )
    return tracer_provider, logger_provider


def _rows(store: Store) -> dict[str, list[tuple]]:
    queries = {
        "predictions": "SELECT model, version, task, prediction_id, prediction_label, "
        "prediction_score, prediction_value, batch_size FROM ml_predictions ORDER BY prediction_id",
        "features": "SELECT prediction_id, feature, value_num, value, categorical "
        "FROM ml_features ORDER BY prediction_id, feature",
        "attributions": "SELECT prediction_id, feature, value FROM ml_attributions "
        "ORDER BY prediction_id, feature",
        "labels": "SELECT model, prediction_id, label, label_value FROM ml_labels FINAL "
        "ORDER BY prediction_id",
    }
    return {name: [tuple(r) for r in store.query_rows(sql)] for name, sql in queries.items()}


def test_spans_and_labels_written_with_the_constants_are_what_the_analyzer_reads(
    server, store_url
) -> None:
    """A span and a label record made by hand from the contract's constants, as another SDK
    would, become the expected ml_* rows through the receiver and through the exporter's
    strings (the rows a Collector writes)."""
    tracer_provider, logger_provider = _exporters(server.url)
    tracer = tracer_provider.get_tracer("contract-test")
    batch = {
        A.ML_MODEL_NAME: "contract",
        A.ML_MODEL_VERSION: "7",
        A.ML_TASK: A.TASK_CLASSIFICATION,
        A.ML_BATCH_SIZE: 2,
        A.ML_PREDICTION_ID: ["c1", "c2"],
        A.ML_PREDICTION_LABEL: ["yes", "no"],
        A.ML_PREDICTION_SCORE: [0.75, 0.25],
        A.feature_key("age"): [31.0, None],
        A.feature_key("categorical"): ["a", "b"],
        A.ML_FEATURE_CATEGORICAL: [A.sent_name("categorical")],
        A.attribution_key("age"): [0.5, -0.5],
    }
    single = {
        A.ML_MODEL_NAME: "contract-r",
        A.ML_BATCH_SIZE: 1,
        A.ML_PREDICTION_ID: "r1",
        A.ML_PREDICTION_VALUE: 12.5,
        A.feature_key("x"): 2.0,
    }
    for model, attributes in (("contract", batch), ("contract-r", single)):
        tracer.start_span(A.span_name(model), attributes=attributes).end()
    logger_provider.get_logger("contract-test").emit(
        event_name=A.LABEL_EVENT_NAME,
        attributes={
            A.EVENT_NAME: A.LABEL_EVENT_NAME,
            A.ML_MODEL_NAME: "contract",
            A.ML_PREDICTION_ID: ["c1", "c2"],
            A.ML_LABEL: ["yes", "yes"],
        },
    )
    tracer_provider.shutdown()
    logger_provider.shutdown()

    expected = {
        "predictions": [
            ("contract", "7", "classification", "c1", "yes", 0.75, None, 2),
            ("contract", "7", "classification", "c2", "no", 0.25, None, 2),
            ("contract-r", A.UNVERSIONED, "", "r1", None, None, 12.5, 1),
        ],
        "features": [
            ("c1", "age", 31.0, None, 0),
            ("c1", "categorical_", None, "a", 1),
            ("c2", "age", None, None, 0),
            ("c2", "categorical_", None, "b", 1),
            ("r1", "x", 2.0, None, 0),
        ],
        "attributions": [("c1", "age", 0.5), ("c2", "age", -0.5)],
        "labels": [("contract", "c1", "yes", None), ("contract", "c2", "yes", None)],
    }
    received = server.store
    assert _rows(received) == expected
    collector = Store(store_url, new_database_name("collector"))
    try:
        for table in ("otel_traces", "otel_logs"):
            collector.command(f"INSERT INTO {table} SELECT * FROM `{received.database}`.{table}")
        assert _rows(collector) == expected
    finally:
        collector.command(f"DROP DATABASE IF EXISTS `{collector.database}`")
        collector.close()


def test_float_labels_join_whoever_wrote_them(server, tmp_path) -> None:
    """Class labels that are floats are written by one rule: predicted by the instrumentation,
    sent by log_labels or uploaded in a file, they are the same text and join."""
    tracer_provider, logger_provider = _exporters(server.url)
    classes = np.array([1e-05, 2.0, 1e17, 0.5])
    predict = monitor(
        lambda x: classes[: len(x)],
        name="floats",
        task="classification",
        tracer_provider=tracer_provider,
    )
    with prediction_ids(["f1", "f2", "f3", "f4"]):
        predict(np.zeros((4, 1)))
    tracer_provider.shutdown()
    log_labels("floats", ["f4"], [0.5], logger_provider=logger_provider)
    logger_provider.shutdown()
    labels = tmp_path / "labels.csv"
    labels.write_text("prediction_id,label\nf1,0.00001\nf2,2.0\nf3,1e17\n")
    upload_labels(server.store, "floats", labels)

    rows = server.store.query_rows(
        "SELECT p.prediction_id, p.prediction_label, l.label FROM ml_predictions AS p "
        "INNER JOIN (SELECT prediction_id, label FROM ml_labels FINAL) AS l USING (prediction_id) "
        "WHERE p.model = 'floats' ORDER BY p.prediction_id"
    )
    assert [tuple(r) for r in rows] == [
        ("f1", "0.00001", "0.00001"),
        ("f2", "2", "2"),
        ("f3", "100000000000000000", "100000000000000000"),
        ("f4", "0.5", "0.5"),
    ]
