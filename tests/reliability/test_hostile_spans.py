"""Hostile prediction spans mixed into batches of good ones, sent as a serving app sends them
(the OTel SDK's OTLP exporters, to ``modeltel serve``) and as a Collector writes them (one
insert into ``otel_traces`` of a ClickHouse reached over HTTP): every good span is stored and
projected, the bad ones are counted, and the servers' peak memory stays within the envelope
of the same good traffic (each test prints the figures).

The envelope is measured, not assumed: the peak RSS (``VmHWM``) after good batches alone,
then again after batches of the same good spans with the hostile ones mixed in. Without the
bounds, the first hostile span alone (``ml.batch.size`` of a billion) asks for tens of GiB.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import clickhouse_connect
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from support.chdb_http_store import HttpStore
from support.reliability import ServeProcess
from support.servers import free_port

MIB = 1 << 20
GOOD_SINGLE = 300
GOOD_BATCHES = 12
BATCH_ROWS = 1_000
FEATURES = 20
ENVELOPE_MARGIN_MIB = 192
"""Growth of the peak RSS allowed over the good traffic's own peak (the hostile spans' bytes
are decoded and most are stored: a few tens of MiB; unbounded, they ask for tens of GiB)."""


def memory_mib(pid: int) -> tuple[float, float]:
    """(peak, current) resident set of process ``pid`` in MiB (``VmHWM``, ``VmRSS``)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmHWM"], fields["VmRSS"]


def good_attributes(prefix: str) -> list[dict]:
    """Single-prediction spans and 1,000-row batch spans, as the instrumentation makes them."""
    spans: list[dict] = []
    for i in range(GOOD_SINGLE):
        spans.append(
            {
                "ml.model.name": "churn",
                "ml.model.version": "3",
                "ml.batch.size": 1,
                "ml.prediction.id": f"{prefix}-s{i}",
                **{f"ml.feature.f{k}": float(i + k) for k in range(FEATURES)},
                "ml.prediction.score": (i % 10) / 10,
            }
        )
    for b in range(GOOD_BATCHES):
        ids = [f"{prefix}-b{b}-{r}" for r in range(BATCH_ROWS)]
        spans.append(
            {
                "ml.model.name": "churn",
                "ml.model.version": "3",
                "ml.batch.size": BATCH_ROWS,
                "ml.prediction.id": ids,
                **{
                    f"ml.feature.f{k}": [r * 0.5 + k for r in range(BATCH_ROWS)]
                    for k in range(FEATURES)
                },
                "ml.prediction.score": [(r % 10) / 10 for r in range(BATCH_ROWS)],
            }
        )
    return spans


def good_ids(prefix: str) -> int:
    return GOOD_SINGLE + GOOD_BATCHES * BATCH_ROWS


def hostile_attributes(prefix: str) -> dict[str, dict]:
    """Spans a hostile client sends, by the reason they are counted under."""
    model = {"ml.model.name": "churn", "ml.model.version": "3"}
    padding = {**model, "ml.prediction.id": [f"{prefix}-p{k}" for k in range(2_000)]}
    padding.update({f"ml.feature.pad{k}": () for k in range(1_000)})
    many = {f"k{k}": k for k in range(10_000)}
    return {
        "batch_size_mismatch": {**model, "ml.prediction.id": f"{prefix}-x", "ml.batch.size": 10**9},
        "mismatch_1e8": {**model, "ml.prediction.id": f"{prefix}-y", "ml.batch.size": 10**8},
        "size_only": {**model, "ml.batch.size": 10**9, "ml.feature.f0": [1.0, 2.0, 3.0]},
        "uneven_arrays": {
            **model,
            "ml.prediction.id": [f"{prefix}-u0", f"{prefix}-u1", f"{prefix}-u2"],
            "ml.feature.f0": [1.0] * 50,
            "ml.feature.f1": [2.0],
        },
        "span_rows": {**model, "ml.prediction.id": [f"{prefix}-r{k}" for k in range(100_001)]},
        "projected_rows": padding,
        "attributes": {**model, "ml.prediction.id": f"{prefix}-a", **many},
        "key_length": {**model, "ml.prediction.id": f"{prefix}-k", "ml.feature." + "k" * MIB: 1.0},
        "value_length": {**model, "ml.prediction.id": f"{prefix}-v", "ml.feature.t": "v" * 2 * MIB},
    }


REJECTED = {"span_rows", "projected_rows", "attributes", "key_length", "value_length"}
PROJECTED_HOSTILE = 1 + 1 + 3 + 3  # the mismatches (x, y), the size-only batch, the uneven one


def sdk_spans(attribute_sets: list[dict]) -> list[ReadableSpan]:
    """Finished spans made by the OTel SDK (no attribute limits: the receiver's are tested)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "churn-api"}),
        span_limits=SpanLimits(max_span_attributes=100_000, max_attribute_length=None),
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("serving")
    for attributes in attribute_sets:
        with tracer.start_as_current_span("predict churn", attributes=attributes):
            pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def metrics_text(server: ServeProcess) -> str:
    status, body = server.get("/metrics")
    assert status == 200
    return body.decode()


def counter(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_hostile_spans_from_the_sdk_exporter(tmp_path: Path, transport: str) -> None:
    server = ServeProcess(
        store_url=f"chdb://{tmp_path / 'store'}",
        log=tmp_path / "serve.log",
        grpc_port=free_port() if transport == "grpc" else 0,
    ).start()
    try:
        if transport == "http":
            exporter = OTLPSpanExporter(endpoint=server.url + "/v1/traces", timeout=300)
        else:
            exporter = GrpcSpanExporter(
                endpoint=f"127.0.0.1:{server.grpc_port}", insecure=True, timeout=300
            )
        assert server.process is not None
        pid = server.process.pid
        for round_ in range(2):  # the good traffic alone: its peak is the envelope
            result = exporter.export(sdk_spans(good_attributes(f"warm{round_}")))
            assert result is SpanExportResult.SUCCESS
        envelope, _ = memory_mib(pid)
        hostile = hostile_attributes("bad")
        mixed = good_attributes("good")
        for position, attributes in enumerate(hostile.values()):
            mixed.insert(position * 37, attributes)  # spread among the good ones
        assert exporter.export(sdk_spans(mixed)) is SpanExportResult.SUCCESS
        peak, current = memory_mib(pid)
        print(
            f"\nmodeltel serve ({transport}) peak RSS: good traffic {envelope:.0f} MiB, "
            f"with the hostile spans {peak:.0f} MiB (now {current:.0f} MiB)"
        )
        assert peak <= envelope + ENVELOPE_MARGIN_MIB

        rows = server.sql(
            "SELECT countIf(prediction_id LIKE 'good-%'), countIf(prediction_id LIKE 'bad-%'), "
            "count() FROM ml_predictions WHERE prediction_id NOT LIKE 'warm%'"
        )
        good, bad_ids, total = rows[0]
        assert good == good_ids("good")  # every good span stored and projected
        assert bad_ids == 2 + 3  # x, y and the three uneven rows; the size-only batch's ids
        assert total == good + PROJECTED_HOSTILE  # are generated from its span id
        features = server.sql("SELECT count() FROM ml_features WHERE prediction_id LIKE 'good-%'")
        assert features == [[good * FEATURES]]
        stored = server.sql("SELECT count() FROM otel_traces WHERE SpanName = 'predict churn'")
        assert stored == [[3 * (GOOD_SINGLE + GOOD_BATCHES) + len(hostile) - 3]]  # 3 refused

        text = metrics_text(server)
        for reason in REJECTED:
            assert counter(
                text, "modeltel_ingest_rejected_total", path="receiver", signal="traces",
                reason=reason,
            ) == 1.0, reason  # fmt: skip
        assert counter(text, "modeltel_ingest_batch_size_mismatch_total", path="receiver") == 3
        exporter.shutdown()
    finally:
        server.stop()


def collector_rows(attribute_sets: list[dict], first_index: int) -> list[list]:
    """``otel_traces`` rows as the clickhouseexporter writes them: every attribute a string,
    arrays as compact JSON."""
    rows = []
    for offset, attributes in enumerate(attribute_sets):
        strings = {
            key: json.dumps(list(value), separators=(",", ":"))
            if isinstance(value, (list, tuple))
            else str(value)
            for key, value in attributes.items()
        }
        i = first_index + offset
        rows.append(
            [time.time_ns(), "ab" * 16, f"{i:016x}", "predict churn", "churn-api", strings, 1_000]
        )
    return rows


COLUMNS = [
    "Timestamp",
    "TraceId",
    "SpanId",
    "SpanName",
    "ServiceName",
    "SpanAttributes",
    "Duration",
]


def test_hostile_spans_in_a_collector_insert(tmp_path: Path) -> None:
    clickhouse = HttpStore(tmp_path / "clickhouse", 0, tmp_path / "store.log").start()
    server = None
    try:
        server = ServeProcess(store_url=clickhouse.url, log=tmp_path / "serve.log").start()
        client = clickhouse_connect.get_client(dsn=clickhouse.url, database="otel")
        assert clickhouse.process is not None and server.process is not None
        for round_ in range(2):  # the good traffic alone: its peak is the envelope
            client.insert(
                "otel_traces",
                collector_rows(good_attributes(f"warm{round_}"), 10_000 * (round_ + 1)),
                column_names=COLUMNS,
            )
        store_envelope, _ = memory_mib(clickhouse.process.pid)
        serve_envelope, _ = memory_mib(server.process.pid)
        hostile = hostile_attributes("bad")
        mixed = good_attributes("good")
        for position, attributes in enumerate(hostile.values()):
            mixed.insert(position * 37, attributes)
        client.insert(
            "otel_traces", collector_rows(mixed, 50_000), column_names=COLUMNS
        )  # must not fail
        store_peak, store_now = memory_mib(clickhouse.process.pid)
        serve_peak, _ = memory_mib(server.process.pid)
        print(
            f"\nClickHouse (chDB over HTTP) peak RSS: good inserts {store_envelope:.0f} MiB, "
            f"with the hostile rows {store_peak:.0f} MiB (now {store_now:.0f} MiB); "
            f"modeltel serve {serve_envelope:.0f} → {serve_peak:.0f} MiB"
        )
        assert store_peak <= store_envelope + ENVELOPE_MARGIN_MIB
        assert serve_peak <= serve_envelope + ENVELOPE_MARGIN_MIB

        rows = server.sql(
            "SELECT countIf(prediction_id LIKE 'good-%'), countIf(prediction_id LIKE 'bad-%'), "
            "count() FROM ml_predictions WHERE prediction_id NOT LIKE 'warm%'"
        )
        good, bad_ids, total = rows[0]
        assert good == good_ids("good")
        assert bad_ids == 2 + 3
        assert total == good + PROJECTED_HOSTILE
        stored = server.sql("SELECT count() FROM otel_traces")
        assert stored == [[3 * (GOOD_SINGLE + GOOD_BATCHES) + len(hostile)]]  # every raw row
        issues = dict(
            server.sql(
                "SELECT reason, count() FROM ml_ingest_issues WHERE source = 'otel_traces' "
                "GROUP BY reason"
            )
        )
        assert issues == {**{reason: 1 for reason in REJECTED}, "batch_size_mismatch": 3}
        text = metrics_text(server)
        for reason in REJECTED:
            assert counter(
                text, "modeltel_ingest_rejected_total", path="otel_traces", signal="traces",
                reason=reason,
            ) == 1.0, reason  # fmt: skip
        assert counter(text, "modeltel_ingest_batch_size_mismatch_total", path="otel_traces") == 3
        client.close()
    finally:
        if server is not None:
            server.stop()
        clickhouse.kill()
