"""Spans, errors, async, threads, sampling, batch splitting, wide models, prediction ids."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
import pytest
from opentelemetry.sdk.trace import SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from modeltel.instrumentation import last_prediction_ids, monitor, prediction_ids
from support.instrumentation import Telemetry, metric_key, telemetry_fixture  # noqa: F401


def test_span_is_an_internal_child_named_after_the_model(telemetry: Telemetry) -> None:
    tracer = telemetry.tracer_provider.get_tracer("app")
    predict = monitor(lambda x: "y", name="churn", version="7", **telemetry.providers)
    with tracer.start_as_current_span("POST /predict", kind=SpanKind.SERVER) as request:
        predict({"a": 1.0})
    span = telemetry.span()
    assert span.name == "predict churn"
    assert span.kind == SpanKind.INTERNAL
    assert span.parent is not None
    assert span.parent.span_id == request.get_span_context().span_id
    assert span.attributes["ml.model.version"] == "7"
    assert span.attributes["ml.task"] == "classification"


def test_version_defaults(telemetry: Telemetry, monkeypatch) -> None:
    monitor(lambda x: 1, name="a", **telemetry.providers)({"x": 1})
    monkeypatch.setenv("MODELTEL_MODEL_VERSION", "2024-06")
    monitor(lambda x: 1, name="b", **telemetry.providers)({"x": 1})
    versions = {
        s.attributes["ml.model.name"]: s.attributes["ml.model.version"] for s in telemetry.spans()
    }
    assert versions == {"a": "unversioned", "b": "2024-06"}


def test_span_duration_is_the_model_latency(telemetry: Telemetry) -> None:
    def slow(x):
        time.sleep(0.05)
        return 1.0

    called = time.perf_counter()
    monitor(slow, name="slow", **telemetry.providers)({"a": 1.0})
    returned = time.perf_counter()
    span = telemetry.span()
    duration = (span.end_time - span.start_time) / 1e9
    # the model's own time at least, and no more than the call took (however busy the machine)
    assert 0.05 <= duration <= returned - called
    point = telemetry.metrics()[metric_key("ml.prediction.duration", "slow")]
    assert point.count == 1 and 0.05 <= point.sum < duration + 1e-6


def test_spans_created_inside_the_model_are_children(telemetry: Telemetry) -> None:
    tracer = telemetry.tracer_provider.get_tracer("app")

    def model(x):
        with tracer.start_as_current_span("feature-store lookup"):
            return 1

    monitor(model, name="m", **telemetry.providers)({"a": 1})
    spans = {s.name: s for s in telemetry.spans()}
    inner, outer = spans["feature-store lookup"], spans["predict m"]
    assert inner.parent.span_id == outer.context.span_id


def test_user_exception_is_recorded_and_reraised_unchanged(telemetry: Telemetry) -> None:
    error = ValueError("bad row")

    @monitor(name="failing", **telemetry.providers)
    def predict(x):
        raise error

    with pytest.raises(ValueError) as caught:
        predict({"a": 1.0, "b": "x"})
    assert caught.value is error
    span = telemetry.span()
    assert span.status.status_code == StatusCode.ERROR
    assert "ValueError: bad row" in span.status.description
    assert [e.name for e in span.events] == ["exception"]
    assert span.events[0].attributes["exception.type"] == "ValueError"
    assert span.attributes["ml.feature.a"] == 1.0  # the failing input is kept
    assert "ml.prediction.label" not in span.attributes
    metrics = telemetry.metrics()
    assert metrics[metric_key("ml.prediction.errors", "failing", outcome="error")].value == 1
    assert metrics[metric_key("ml.predictions", "failing", outcome="error")].value == 1
    assert metrics[metric_key("ml.prediction.duration", "failing", outcome="error")].count == 1


def test_async_functions_are_awaited(telemetry: Telemetry) -> None:
    tracer = telemetry.tracer_provider.get_tracer("app")

    @monitor(name="async", **telemetry.providers)
    async def predict(row):
        await asyncio.sleep(0.02)
        return row["i"] * 1.5

    async def request(i: int):
        with tracer.start_as_current_span(f"request {i}"):
            value = await predict({"i": i})
            return value, last_prediction_ids()

    async def main():
        return await asyncio.gather(*(request(i) for i in range(20)))

    results = asyncio.run(main())
    assert [value for value, _ in results] == [i * 1.5 for i in range(20)]
    spans = telemetry.spans()
    requests = {s.context.span_id: s for s in spans if s.name.startswith("request")}
    predictions = [s for s in spans if s.name == "predict async"]
    assert len(predictions) == 20
    by_id = {s.attributes["ml.prediction.id"]: s for s in predictions}
    for (value, ids), _ in zip(results, range(20), strict=True):
        span = by_id[ids[0]]  # last_prediction_ids() is per task
        assert span.attributes["ml.prediction.value"] == value
        parent = requests[span.parent.span_id]
        assert parent.name == f"request {int(value / 1.5)}"
        assert (span.end_time - span.start_time) / 1e9 >= 0.02


def test_async_exception(telemetry: Telemetry) -> None:
    @monitor(name="async-fail", **telemetry.providers)
    async def predict(row):
        raise KeyError("k")

    with pytest.raises(KeyError):
        asyncio.run(predict({"a": 1}))
    assert telemetry.span().status.status_code == StatusCode.ERROR


def test_threads(telemetry: Telemetry) -> None:
    predict = monitor(lambda row: str(row["i"]), name="threads", **telemetry.providers)
    seen: dict[int, str | None] = {}
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            for k in range(100):
                i = t * 1000 + k
                assert predict({"i": i}) == str(i)
                seen[i] = last_prediction_ids()[0]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    spans = telemetry.spans()
    assert len(spans) == 800
    by_id = {s.attributes["ml.prediction.id"]: s for s in spans}
    assert len(by_id) == 800  # ids unique
    for i, pid in seen.items():
        span = by_id[pid]
        assert span.attributes["ml.feature.i"] == i
        assert span.attributes["ml.prediction.label"] == str(i)
    assert telemetry.metrics()[metric_key("ml.predictions", "threads")].value == 800


def test_sample_rate_samples_spans_but_not_metrics(telemetry: Telemetry) -> None:
    predict = monitor(lambda x: 1, name="sampled", sample_rate=0.2, **telemetry.providers)
    for i in range(2000):
        predict({"i": i})
    spans = len(telemetry.spans())
    assert 300 < spans < 500  # 400 expected; binomial sd ~18
    metrics = telemetry.metrics()
    assert metrics[metric_key("ml.predictions", "sampled")].value == 2000
    assert metrics[metric_key("ml.prediction.duration", "sampled")].count == 2000


def test_sample_rate_zero_counts_batch_rows(telemetry: Telemetry) -> None:
    predict = monitor(
        lambda x: np.zeros(len(x)), name="off", sample_rate=0.0, **telemetry.providers
    )
    predict(pd.DataFrame({"a": range(10)}))
    predict([{"a": 1}, {"a": 2}])
    predict({"a": 1})
    assert telemetry.spans() == []
    assert telemetry.metrics()[metric_key("ml.predictions", "off")].value == 13
    assert last_prediction_ids() == [None]


def test_sample_rate_from_environment(telemetry: Telemetry, monkeypatch, caplog) -> None:
    monkeypatch.setenv("MODELTEL_SAMPLE_RATE", "0")
    monitor(lambda x: 1, name="env", **telemetry.providers)({"a": 1})
    assert telemetry.spans() == []
    monkeypatch.setenv("MODELTEL_SAMPLE_RATE", "lots")
    monitor(lambda x: 1, name="env2", **telemetry.providers)({"a": 1})
    assert len(telemetry.spans()) == 1  # bad value: warning, default 1
    assert "MODELTEL_SAMPLE_RATE='lots'" in caplog.text
    # the argument wins over the environment
    monkeypatch.setenv("MODELTEL_SAMPLE_RATE", "0")
    monitor(lambda x: 1, name="arg", sample_rate=1.0, **telemetry.providers)({"a": 1})
    assert len(telemetry.spans()) == 2


def test_bad_arguments_raise_at_decoration_time() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        monitor(lambda x: 1, name="m", sample_rate=1.5)
    with pytest.raises(ValueError, match="max_batch_span_rows"):
        monitor(lambda x: 1, name="m", max_batch_span_rows=0)
    with pytest.raises(ValueError, match="batch_overflow"):
        monitor(lambda x: 1, name="m", batch_overflow="drop")
    with pytest.raises(ValueError, match="name"):
        monitor(lambda x: 1, name="")


def test_large_batches_are_split(telemetry: Telemetry) -> None:
    tracer = telemetry.tracer_provider.get_tracer("app")
    frame = pd.DataFrame({"a": np.arange(250.0), "s": ["x"] * 250})
    predict = monitor(
        lambda df: df["a"].to_numpy() * 2,
        name="split",
        max_batch_span_rows=100,
        **telemetry.providers,
    )
    with tracer.start_as_current_span("request") as request:
        predict(frame)
    ids = last_prediction_ids()
    assert len(ids) == 250 and len(set(ids)) == 250
    spans = sorted(
        (s for s in telemetry.spans() if s.name == "predict split"),
        key=lambda s: s.attributes["ml.feature.a"][0],
    )
    assert [s.attributes["ml.batch.size"] for s in spans] == [100, 100, 50]
    assert [len(s.attributes["ml.prediction.id"]) for s in spans] == [100, 100, 50]
    joined = [pid for s in spans for pid in s.attributes["ml.prediction.id"]]
    assert joined == ids
    values = [v for s in spans for v in s.attributes["ml.prediction.value"]]
    assert values == [2.0 * i for i in range(250)]
    for span in spans:
        assert span.parent.span_id == request.get_span_context().span_id
        assert span.start_time == spans[0].start_time and span.end_time == spans[0].end_time
        assert span.attributes["ml.feature.categorical"] == ("s",)
    assert telemetry.metrics()[metric_key("ml.predictions", "split")].value == 250


def test_large_batches_can_be_sampled(telemetry: Telemetry, monkeypatch) -> None:
    monkeypatch.setenv("MODELTEL_MAX_BATCH_SPAN_ROWS", "40")
    monkeypatch.setenv("MODELTEL_BATCH_OVERFLOW", "sample")
    frame = pd.DataFrame({"a": np.arange(100.0)})
    monitor(lambda df: df["a"].to_numpy(), name="sampled", **telemetry.providers)(frame)
    span = telemetry.span()
    a = span.attributes
    assert a["ml.batch.size"] == 40 == len(a["ml.prediction.id"]) == len(a["ml.feature.a"])
    assert list(a["ml.feature.a"]) == sorted(a["ml.feature.a"])
    assert a["ml.prediction.value"] == a["ml.feature.a"]
    ids = last_prediction_ids()
    assert len(ids) == 100 and sum(pid is not None for pid in ids) == 40
    kept = [pid for pid in ids if pid is not None]
    assert kept == list(a["ml.prediction.id"])
    assert telemetry.metrics()[metric_key("ml.predictions", "sampled")].value == 100


def test_more_than_128_features_lose_nothing_with_a_raised_limit() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=SpanLimits.UNSET))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    row = {f"f{i}": float(i) for i in range(300)}
    monitor(lambda x: 1, name="wide", tracer_provider=provider)(row)
    frame = pd.DataFrame([row, row])
    monitor(lambda x: np.ones(2), name="wide-batch", tracer_provider=provider)(frame)
    for span in exporter.get_finished_spans():
        features = [k for k in span.attributes if k.startswith("ml.feature.")]
        assert len(features) == 300
        assert span.dropped_attributes == 0


def test_default_limit_warns_and_keeps_the_contract_attributes(caplog) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=128))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    predict = monitor(lambda x: "y", name="wide", tracer_provider=provider)
    row = {f"f{i}": float(i) for i in range(200)}
    with caplog.at_level(logging.WARNING, logger="modeltel.instrumentation"):
        predict(row)
        predict(row)
    assert caplog.text.count("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT") == 1
    span = exporter.get_finished_spans()[0]
    for key in (
        "ml.model.name",
        "ml.model.version",
        "ml.prediction.id",
        "ml.prediction.label",
        "ml.batch.size",
    ):
        assert key in span.attributes


def test_generated_ids_are_uuid7_and_time_ordered(telemetry: Telemetry) -> None:
    import uuid

    predict = monitor(lambda x: np.zeros(len(x)), name="ids", **telemetry.providers)
    predict(pd.DataFrame({"a": range(5)}))
    first = last_prediction_ids()
    time.sleep(0.002)
    predict(pd.DataFrame({"a": range(5)}))
    second = last_prediction_ids()
    for pid in first + second:
        parsed = uuid.UUID(pid)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert first + second == sorted(first + second)


def test_ids_from_an_id_column(telemetry: Telemetry) -> None:
    frame = pd.DataFrame({"request": ["r1", "r2", None], "a": [1.0, 2.0, 3.0]})
    predict = monitor(
        lambda df: np.zeros(3), name="ids", prediction_id="request", **telemetry.providers
    )
    predict(frame)
    ids = last_prediction_ids()
    assert ids[:2] == ["r1", "r2"] and ids[2] is not None  # missing id generated
    a = telemetry.attributes()
    assert list(a["ml.prediction.id"]) == ids
    assert "ml.feature.request" not in a


def test_ids_from_a_dict_key_and_a_function(telemetry: Telemetry) -> None:
    monitor(lambda x: 1, name="k", prediction_id="id", **telemetry.providers)({"id": 42, "a": 1})
    assert last_prediction_ids() == ["42"]
    monitor(lambda x: 1, name="f", prediction_id=lambda x: f"req-{x['a']}", **telemetry.providers)(
        {"a": 7}
    )
    assert last_prediction_ids() == ["req-7"]
    ids = [s.attributes["ml.prediction.id"] for s in telemetry.spans()]
    assert ids == ["42", "req-7"]


def test_ids_supplied_for_a_block(telemetry: Telemetry) -> None:
    predict = monitor(lambda x: np.zeros(len(x)), name="s", **telemetry.providers)
    with prediction_ids(["a", "b"]):
        predict([{"x": 1}, {"x": 2}])
    assert last_prediction_ids() == ["a", "b"]
    with prediction_ids(np.array([10, 11])):
        predict([{"x": 1}, {"x": 2}])
    assert last_prediction_ids() == ["10", "11"]
    single = monitor(lambda x: 1, name="one", sample_rate=0.0, **telemetry.providers)
    with prediction_ids("req-1"):
        single({"x": 1})
    assert last_prediction_ids() == ["req-1"]  # known even when not recorded


def test_ids_of_unrecorded_calls(telemetry: Telemetry) -> None:
    by_column = monitor(
        lambda x: np.zeros(len(x)),
        name="c",
        prediction_id="rid",
        sample_rate=0.0,
        **telemetry.providers,
    )
    by_column(pd.DataFrame({"rid": ["a", "b"], "x": [1.0, 2.0]}))
    assert last_prediction_ids() == ["a", "b"]
    by_column({"rid": 7, "x": 1.0})
    assert last_prediction_ids() == ["7"]
    by_function = monitor(
        lambda x: 1,
        name="f",
        prediction_id=lambda x: x["k"],
        sample_rate=0.0,
        **telemetry.providers,
    )
    by_function({"k": "z"})
    assert last_prediction_ids() == ["z"]
    generated = monitor(
        lambda x: np.zeros(len(x)), name="g", sample_rate=0.0, **telemetry.providers
    )
    generated([{"x": 1}, {"x": 2}])
    assert last_prediction_ids() == [None, None]  # generated ids exist only when recorded
    assert telemetry.spans() == []


def test_last_prediction_ids_before_any_call() -> None:
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(last_prediction_ids()))
    thread.start()
    thread.join()
    assert result == [[]]


def test_nested_calls(telemetry: Telemetry) -> None:
    inner = monitor(lambda x: 1.0, name="inner", **telemetry.providers)

    @monitor(name="outer", **telemetry.providers)
    def outer(x):
        return inner(x) + 1

    outer({"a": 1})
    names = sorted(s.name for s in telemetry.spans())
    assert names == ["predict inner", "predict outer"]

    @monitor(name="recursive", **telemetry.providers)
    def recursive(x):
        return recursive(x - 1) if x else 0

    recursive(3)
    assert sum(s.name == "predict recursive" for s in telemetry.spans()) == 1


class _BrokenProcessor(SpanProcessor):
    def on_start(self, span, parent_context=None):
        raise RuntimeError("broken processor")


class _BrokenMapping(Mapping):
    def __getitem__(self, key):
        raise RuntimeError("broken input")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("broken input")

    def __len__(self) -> int:
        return 1


def test_telemetry_failures_never_reach_the_caller(caplog) -> None:
    provider = TracerProvider()
    provider.add_span_processor(_BrokenProcessor())
    predict = monitor(lambda x: "ok", name="broken", tracer_provider=provider)
    with caplog.at_level(logging.WARNING, logger="modeltel.instrumentation"):
        assert predict({"a": 1}) == "ok"
        assert predict({"a": 1}) == "ok"
    assert caplog.text.count("modeltel failed before a broken prediction") == 1


def test_unreadable_input_is_logged_once(telemetry: Telemetry, caplog) -> None:
    predict = monitor(lambda x: "ok", name="odd-input", **telemetry.providers)
    with caplog.at_level(logging.WARNING, logger="modeltel.instrumentation"):
        assert predict(_BrokenMapping()) == "ok"
        assert predict(_BrokenMapping()) == "ok"
    assert caplog.text.count("could not read the features") == 1
    assert len(telemetry.spans()) == 2


def test_failing_id_function(telemetry: Telemetry, caplog) -> None:
    def ids(x):
        raise LookupError("no id")

    predict = monitor(lambda x: 1, name="idf", prediction_id=ids, **telemetry.providers)
    assert predict({"a": 1}) == 1
    assert len(last_prediction_ids()[0]) == 36
    assert "prediction_id function" in caplog.text
