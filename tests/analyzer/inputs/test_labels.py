"""Labels: bulk loads (CSV, Parquet, DataFrame), bad files, unknown ids, late labels, OTLP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score

from modeltel.analyzer.base.errors import InputError
from modeltel.analyzer.base.results import read_results
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.inputs.labels import upload_labels
from modeltel.analyzer.orchestration.analyzer import Analyzer
from modeltel.instrumentation import instrument, last_prediction_ids, log_labels
from support.perfdata import T0, at, insert_predictions, value


def stored_labels(store, model: str) -> dict[str, tuple]:
    rows = store.query_rows(
        "SELECT prediction_id, label, label_value FROM ml_labels FINAL WHERE model = {m:String}",
        parameters={"m": model},
    )
    return {r[0]: (r[1], r[2]) for r in rows}


def test_csv_and_parquet_uploads_with_default_and_custom_columns(store, tmp_path) -> None:
    insert_predictions(store, "m", ["007", "a", "b"], [at(0), at(1), at(2)], labels=["1"] * 3)
    csv = tmp_path / "labels.csv"
    csv.write_text("prediction_id,label\n007,1\na,0\nb,1.0\n")
    summary = upload_labels(store, "m", csv)
    assert (summary.rows, summary.stored, summary.duplicates, summary.unknown_ids) == (3, 3, 0, 0)
    # ids keep leading zeros; 1.0 is written as the exporter writes it, "1"
    assert stored_labels(store, "m") == {"007": ("1", 1.0), "a": ("0", 0.0), "b": ("1", 1.0)}

    parquet = tmp_path / "truth.parquet"
    pd.DataFrame({"req": ["a", "b"], "churned": [True, False]}).to_parquet(parquet)
    upload_labels(store, "m", parquet, id_column="req", label_column="churned")
    assert stored_labels(store, "m")["a"] == ("true", None)  # as the ml_labels view reads it
    assert stored_labels(store, "m")["b"] == ("false", None)


def test_unknown_ids_and_repeats_are_reported_not_dropped(store) -> None:
    insert_predictions(store, "m", ["p1", "p2"], [at(0), at(1)], labels=["x", "y"])
    frame = pd.DataFrame(
        {
            "prediction_id": ["p1", "p2", "ghost1", "ghost2", "p1"],
            "label": ["x", "y", "x", "y", "y"],
        }
    )
    summary = upload_labels(store, "m", frame)
    assert summary.stored == 4 and summary.duplicates == 1
    assert summary.unknown_ids == 2 and sorted(summary.unknown_sample) == ["ghost1", "ghost2"]
    assert any("ghost" in w for w in summary.warnings)
    labels = stored_labels(store, "m")
    assert labels["p1"] == ("y", None)  # the last row of a repeated id wins
    assert "ghost1" in labels  # kept: its prediction may still arrive


BAD_FILES = [
    ("id,label\n1,0\n", {}, "no id column 'prediction_id'"),
    ("prediction_id,truth\n1,0\n", {}, "no label column 'label'"),
    ("prediction_id,label\n,1\nb,0\n", {}, "1 empty prediction id(s) (first at data row 1)"),
    ("prediction_id,label\na,\nb,0\n", {}, "'label' is empty in 1 row(s)"),
    ("prediction_id,y\na,3.5\nb,many\n", {"value_column": "y"}, "'many' at data row 2"),
    ("prediction_id,label\n", {}, "header but no rows"),
    ("", {}, "is empty"),
    (
        "prediction_id,label,t\na,1,yesterday\n",
        {"timestamp_column": "t"},
        "must hold timestamps",
    ),
]


def test_bad_label_files_name_the_problem(store, tmp_path) -> None:
    for content, options, message in BAD_FILES:
        path = tmp_path / "bad.csv"
        path.write_text(content)
        with pytest.raises(InputError) as caught:
            upload_labels(store, "m", path, **options)
        assert message in str(caught.value)
    assert store.query_rows("SELECT count() FROM ml_labels") == [(0,)]


def test_late_labels_recompute_their_windows(store) -> None:
    """Hour 0's labels arrive after it was analysed: the next analysis rewrites hour 0."""
    n = 200
    ids = [f"h{i}" for i in range(2 * n)]
    times = [at(i * 3600 / n) for i in range(2 * n)]  # hours 0 and 1
    insert_predictions(store, "late", ids, times, labels=["1"] * (2 * n), scores=[0.7] * (2 * n))
    insert_predictions(store, "late", ["hour2"], [at(7300)], labels=["1"], scores=[0.7])
    upload_labels(store, "late", pd.DataFrame({"prediction_id": ids[: n // 2], "label": "1"}))
    analyzer = Analyzer(store)
    analyzer.performance("late", "1", window="1h", start=T0, end=at(7200))

    def hour0(metric: str) -> float:
        rows = read_results(store, model="late", kind="performance")
        rows = rows[(rows.metric == metric) & (rows.source == "realized")]
        start = pd.to_datetime(rows.window_start, utc=True)
        return float(rows[start == pd.Timestamp(T0)].value.iloc[0])

    assert hour0("label_coverage") == 0.5 and hour0("accuracy") == 1.0
    late = pd.DataFrame({"prediction_id": ids[n // 2 : n], "label": "0"})
    upload_labels(store, "late", late)
    # the loop analyses the current hour only; hour 0 is recomputed because of its labels
    out = analyzer.performance("late", "1", window=Window(at(3600), at(7200)))
    assert hour0("label_coverage") == 1.0 and hour0("accuracy") == 0.5
    starts = set(pd.to_datetime(out.window_start, utc=True))
    assert starts == {pd.Timestamp(T0), pd.Timestamp(at(3600))}  # hour 2 got no labels


def test_labels_through_otlp_join_an_instrumented_model(server) -> None:
    """A real scikit-learn model monitored through spans, labels sent with log_labels."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    y = (x[:, 0] + 0.5 * rng.normal(size=600) > 0).astype(int)
    model = LogisticRegression().fit(x[:300], y[:300])
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(server.url + "/v1/traces"))
    )
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(server.url + "/v1/logs"))
    )
    monitored = instrument(model, name="otlp-churn", version="2", tracer_provider=tracer_provider)
    ids: list[str] = []
    for start in range(300, 600, 50):
        monitored.predict_proba(x[start : start + 50])
        ids += [str(i) for i in last_prediction_ids()]
    tracer_provider.shutdown()
    assert log_labels("otlp-churn", ids[:250], y[300:550], logger_provider=logger_provider) == 250
    logger_provider.shutdown()

    now = datetime.now(UTC)
    window = Window(now - timedelta(hours=1), now + timedelta(minutes=1))
    out = Analyzer(server.store).performance("otlp-churn", "2", window=window, write=False)
    proba = model.predict_proba(x[300:550])[:, 1]
    assert value(out, "label_coverage") == pytest.approx(250 / 300)
    assert value(out, "accuracy") == pytest.approx(
        accuracy_score(y[300:550], model.predict(x[300:550])), abs=1e-9
    )
    assert value(out, "roc_auc") == pytest.approx(roc_auc_score(y[300:550], proba), abs=1e-9)
