"""Ingest benchmark: pre-encoded OTLP/HTTP protobuf requests from a separate process into
``modeltel serve`` on a fresh embedded store; prints acknowledged and stored counts, rates,
rejections and the server's peak RSS.

    python bench/ingest.py                     # both scenarios, 20 s each
    python bench/ingest.py --seconds 60 --clients 4 --scenario batch

Scenarios (20 features per prediction, like the issue's targets):
  single  requests of 500 single-prediction spans  (target ≥ 20,000 spans/s)
  batch   requests of 1 span × 1,000 predictions   (target ≥ 200,000 predictions/s)
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

FEATURES = 20


def kv(key: str, value: AnyValue) -> KeyValue:
    return KeyValue(key=key, value=value)


def s(v: str) -> AnyValue:
    return AnyValue(string_value=v)


def d(v: float) -> AnyValue:
    return AnyValue(double_value=v)


def doubles(values: np.ndarray) -> AnyValue:
    return AnyValue(array_value=ArrayValue(values=[d(float(x)) for x in values]))


def strings(values: list[str]) -> AnyValue:
    return AnyValue(array_value=ArrayValue(values=[s(x) for x in values]))


def make_span(rng: np.random.Generator, batch: int, now_ns: int) -> Span:
    trace_id = rng.bytes(16)
    attrs = [
        kv("ml.model.name", s("bench")),
        kv("ml.model.version", s("1")),
        kv("ml.task", s("classification")),
        kv("ml.batch.size", AnyValue(int_value=batch)),
    ]
    if batch == 1:
        attrs.append(kv("ml.prediction.id", s(str(uuid.UUID(bytes=rng.bytes(16))))))
        attrs += [kv(f"ml.feature.f{i}", d(float(rng.normal()))) for i in range(FEATURES)]
        attrs.append(kv("ml.prediction.label", s(str(int(rng.integers(0, 2))))))
        attrs.append(kv("ml.prediction.score", d(float(rng.random()))))
    else:
        ids = [str(uuid.UUID(bytes=rng.bytes(16))) for _ in range(batch)]
        attrs.append(kv("ml.prediction.id", strings(ids)))
        attrs += [kv(f"ml.feature.f{i}", doubles(rng.normal(size=batch))) for i in range(FEATURES)]
        attrs.append(
            kv("ml.prediction.label", strings([str(x) for x in rng.integers(0, 2, batch)]))
        )
        attrs.append(kv("ml.prediction.score", doubles(rng.random(batch))))
    return Span(
        trace_id=trace_id,
        span_id=rng.bytes(8),
        name="predict bench",
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=now_ns,
        end_time_unix_nano=now_ns + 1_500_000,
        attributes=attrs,
    )


def make_bodies(scenario: str, count: int, seed: int) -> tuple[list[bytes], int, int]:
    """Distinct pre-encoded requests; returns (bodies, spans per body, predictions per body)."""
    rng = np.random.default_rng(seed)
    spans_per, batch = (500, 1) if scenario == "single" else (1, 1000)
    now = time.time_ns()
    bodies = []
    resource = Resource(attributes=[kv("service.name", s("bench-api"))])
    for _ in range(count):
        spans = [make_span(rng, batch, now) for _ in range(spans_per)]
        request = ExportTraceServiceRequest(
            resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=spans)])]
        )
        bodies.append(request.SerializeToString())
    return bodies, spans_per, spans_per * batch


def load(port: int, bodies: list[bytes], seconds: float, clients: int, out: mp.Queue) -> None:
    """Post bodies round-robin from ``clients`` threads for ``seconds``; retry 429/503."""
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    totals = {"ok": 0, "retried": 0, "failed": 0, "latencies": []}

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        i = offset
        ok = retried = failed = 0
        latencies = []
        while time.monotonic() < deadline:
            body = bodies[i % len(bodies)]
            i += clients
            while True:
                started = time.perf_counter()
                try:
                    conn.request(
                        "POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"}
                    )
                    response = conn.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                    failed += 1
                    break
                if response.status == 200:
                    ok += 1
                    latencies.append(time.perf_counter() - started)
                    break
                if response.status in (429, 503):
                    retried += 1
                    time.sleep(float(response.getheader("Retry-After", "1")) * random.random())
                    continue
                failed += 1
                break
        with lock:
            totals["ok"] += ok
            totals["retried"] += retried
            totals["failed"] += failed
            totals["latencies"] += latencies

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    totals["elapsed"] = time.monotonic() - started
    out.put(totals)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(scenario: str, seconds: float, clients: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="modeltel-bench-")) / "store"
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modeltel.analyzer.cli",
            "serve",
            "--clickhouse-url",
            f"chdb://{data}",
            "--port",
            str(port),
            "--grpc-port",
            "0",
            "--analyze-every",
            "0",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(
                    "server did not start: " + (server.stderr.read() if server.stderr else "")
                )
            time.sleep(0.2)
        bodies, spans_per, predictions_per = make_bodies(
            scenario, 40 if scenario == "single" else 60, 1
        )
        size = sum(map(len, bodies)) / len(bodies)
        out: mp.Queue = mp.Queue()
        cpu_before = cpu_seconds(server.pid)
        loader = mp.Process(target=load, args=(port, bodies, seconds, clients, out))
        loader.start()
        totals = out.get()
        loader.join()
        cpu_used = cpu_seconds(server.pid) - cpu_before
        rss = peak_rss_mib(server.pid)
        server.send_signal(signal.SIGTERM)
        server.wait(120)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    from modeltel.analyzer.base.store import Store

    store = Store(f"chdb://{data}")
    stored_spans = store.query_rows("SELECT count() FROM otel_traces")[0][0]
    stored_predictions = store.query_rows("SELECT count() FROM ml_predictions")[0][0]
    stored_features = store.query_rows("SELECT count() FROM ml_features")[0][0]
    acked_spans = totals["ok"] * spans_per
    acked_predictions = totals["ok"] * predictions_per
    lat = np.array(totals["latencies"]) * 1000
    elapsed = totals["elapsed"]
    print(
        f"\n== {scenario}: {spans_per} span(s) × {predictions_per // spans_per} prediction(s) "
        f"× {FEATURES} features per request, {size / 1024:.0f} KiB/request, "
        f"{clients} clients, {elapsed:.1f} s"
    )
    print(
        f"acknowledged requests   {totals['ok']:>12,}   (429/503 retried: {totals['retried']:,}, "
        f"failed: {totals['failed']:,})"
    )
    print(f"acknowledged spans      {acked_spans:>12,}   {acked_spans / elapsed:>12,.0f} spans/s")
    print(
        f"acknowledged predictions{acked_predictions:>12,}   "
        f"{acked_predictions / elapsed:>12,.0f} predictions/s"
    )
    print(
        f"stored spans            {stored_spans:>12,}   predictions {stored_predictions:,}   "
        f"feature rows {stored_features:,}"
    )
    loss = acked_predictions - stored_predictions
    print(
        f"loss (acknowledged - stored predictions): {loss}   "
        f"{'ZERO LOSS' if loss == 0 and stored_spans == acked_spans else 'MISMATCH'}"
    )
    if len(lat):
        p50, p95, p99 = np.percentile(lat, [50, 95, 99])
        print(f"request latency ms      p50 {p50:.1f}   p95 {p95:.1f}   p99 {p99:.1f}")
    print(f"server peak RSS         {rss:,.0f} MiB")
    if acked_predictions:
        per_span = cpu_used / max(acked_spans, 1) * 1e6
        per_prediction = cpu_used / acked_predictions * 1e6
        cores = os.cpu_count() or 1
        print(
            f"server CPU              {cpu_used:.1f} s = {per_span:,.1f} µs/span, "
            f"{per_prediction:,.2f} µs/prediction "
            f"(all {cores} cores busy: ≈ {cores / per_span * 1e6:,.0f} spans/s, "
            f"{cores / per_prediction * 1e6:,.0f} predictions/s)"
        )
    load_avg = os.getloadavg()[0]
    print(f"machine load average    {load_avg:.1f} on {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", choices=["single", "batch", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    print(f"modeltel ingest benchmark — {os.cpu_count()} CPUs")
    for scenario in ["single", "batch"] if args.scenario == "both" else [args.scenario]:
        run(scenario, args.seconds, args.clients)


if __name__ == "__main__":
    main()
