"""Soak test: OTLP/HTTP at a steady rate into ``modeltel serve`` for a long time.

Starts ``modeltel serve`` in a subprocess on a fresh embedded store, sends prediction spans
(unique ids, 20 features each) at a fixed open-loop rate for ``--minutes``, and prints every
``--report-every`` seconds what was sent, acknowledged and retried, the receiver's latency
percentiles and the server's RSS. At the end the server is stopped with SIGTERM, the store is
opened and every acknowledged request is looked up: the verdict is ZERO LOSS or the count of
acknowledged spans missing, and FLAT MEMORY when the server's RSS in the last third of the run
stays within ``--rss-tolerance`` of the middle third.

    python bench/soak.py                           # 10 minutes at 10,000 spans/s
    python bench/soak.py --rate 8000 --minutes 2
    python bench/soak.py --peak 21000 --fraction 0.5    # half of a measured peak
    python bench/soak.py --store http --outage-at 60 --outage-for 30 --minutes 3

``--store http`` puts the store behind ClickHouse's HTTP interface in its own process
(``tests/support/chdb_http_store.py``: chDB serving it) and ``modeltel serve`` reaches it over an
``http://`` URL, as in production; ``--outage-at``/``--outage-for`` then SIGKILL that store
during the run and start it again on the same data: while it is away the receiver answers 503,
the clients retry, and the verdict still counts every acknowledged span.

Requests that get 429/503 are retried after their Retry-After (counted as retried); a request
is acknowledged once it gets 200. Latency is per acknowledged request, from send to answer
(the last attempt), measured at the client over loopback.
"""

from __future__ import annotations

import argparse
import http.client
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

FEATURES = 20
PROTOBUF = {"Content-Type": "application/x-protobuf"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Bodies:
    """Request bodies of ``spans`` prediction spans with ids ``r{request}-{k}``."""

    def __init__(self, spans: int, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.spans = spans
        template = []
        for k in range(spans):
            attrs = [
                KeyValue(key="ml.model.name", value=AnyValue(string_value="soak")),
                KeyValue(key="ml.model.version", value=AnyValue(string_value="1")),
                KeyValue(key="ml.task", value=AnyValue(string_value="classification")),
                KeyValue(key="ml.prediction.id", value=AnyValue(string_value="")),
                KeyValue(key="ml.prediction.label", value=AnyValue(string_value=str(k % 2))),
                KeyValue(key="ml.prediction.score", value=AnyValue(double_value=rng.random())),
            ]
            attrs += [
                KeyValue(key=f"ml.feature.f{i}", value=AnyValue(double_value=rng.normal()))
                for i in range(FEATURES)
            ]
            template.append(
                Span(
                    trace_id=rng.bytes(16),
                    span_id=rng.bytes(8),
                    name="predict soak",
                    kind=Span.SPAN_KIND_INTERNAL,
                    attributes=attrs,
                )
            )
        self.request = ExportTraceServiceRequest(
            resource_spans=[
                ResourceSpans(
                    resource=Resource(
                        attributes=[
                            KeyValue(key="service.name", value=AnyValue(string_value="soak"))
                        ]
                    ),
                    scope_spans=[ScopeSpans(spans=template)],
                )
            ]
        )
        self.lock = threading.Lock()

    def make(self, number: int) -> bytes:
        now = time.time_ns()
        with self.lock:
            for k, span in enumerate(self.request.resource_spans[0].scope_spans[0].spans):
                span.attributes[3].value.string_value = f"r{number}-{k}"
                span.span_id = (number * self.spans + k).to_bytes(8, "big")
                span.start_time_unix_nano = now
                span.end_time_unix_nano = now + 2_000_000
            return self.request.SerializeToString()


@dataclass
class Counters:
    sent: int = 0
    acked: int = 0
    retried: int = 0
    failed: int = 0
    acked_numbers: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def worker(port: int, jobs: queue.Queue, bodies: Bodies, counters: Counters) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while True:
        job = jobs.get()
        if job is None:
            break
        number = job
        body = bodies.make(number)
        for _attempt in range(30):
            started = time.perf_counter()
            try:
                conn.request("POST", "/v1/traces", body, PROTOBUF)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                with counters.lock:
                    counters.failed += 1
                time.sleep(0.5)
                continue
            if response.status == 200:
                with counters.lock:
                    counters.acked += 1
                    counters.acked_numbers.append(number)
                    counters.latencies.append(time.perf_counter() - started)
                break
            if response.status in (429, 503):
                with counters.lock:
                    counters.retried += 1
                delay = float(response.getheader("Retry-After", "1"))
                time.sleep(delay * (0.5 + random.random()))
                # The server closes connections idle for 5 s: resend on a fresh one.
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                continue
            with counters.lock:
                counters.failed += 1
            print(f"request {number}: HTTP {response.status} {response.read()[:200]!r}")
            break
    conn.close()


def wait_healthy(port: int, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("modeltel serve exited during start-up")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("modeltel serve did not become healthy")


def stored_requests(store_url: str, spans: int) -> tuple[int, int, set[int]]:
    """(spans stored, distinct ids stored, request numbers with all their spans stored)."""
    from modeltel.analyzer.base.store import Store

    store = Store(store_url)
    try:
        total, distinct = store.query_rows(
            "SELECT count(), uniqExact(SpanAttributes['ml.prediction.id']) FROM otel_traces"
        )[0]
        rows = store.query_rows(
            "SELECT toUInt64(substring(splitByChar('-', id)[1], 2)) AS n, uniqExact(id) AS c "
            "FROM (SELECT SpanAttributes['ml.prediction.id'] AS id FROM otel_traces) "
            "GROUP BY n HAVING c = {spans:UInt64}",
            {"spans": spans},
        )
    finally:
        store.close()
    return int(total), int(distinct), {int(r[0]) for r in rows}


def percentiles(values: list[float]) -> str:
    if not values:
        return "p50 -  p95 -  p99 -  max -"
    p50, p95, p99 = np.percentile(np.array(values) * 1000, [50, 95, 99])
    return f"p50 {p50:6.1f}  p95 {p95:6.1f}  p99 {p99:6.1f}  max {max(values) * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=None, help="spans per second")
    parser.add_argument("--peak", type=float, default=None, help="measured peak, spans/s")
    parser.add_argument("--fraction", type=float, default=0.5, help="share of --peak to send")
    parser.add_argument("--minutes", type=float, default=10.0, help="how long (default 10)")
    parser.add_argument("--spans", type=int, default=100, help="spans per request (100)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections (8)")
    parser.add_argument("--report-every", type=float, default=30.0, help="seconds (30)")
    parser.add_argument("--rss-tolerance", type=float, default=0.10, help="flat memory (0.10)")
    parser.add_argument(
        "--store", choices=["embedded", "http"], default="embedded", help="(embedded)"
    )
    parser.add_argument("--outage-at", type=float, default=None, help="seconds (--store http)")
    parser.add_argument("--outage-for", type=float, default=30.0, help="seconds (30)")
    args = parser.parse_args()
    if args.outage_at is not None and args.store != "http":
        parser.error("--outage-at needs --store http")
    rate = args.rate or (args.peak * args.fraction if args.peak else 10_000.0)
    seconds = args.minutes * 60
    interval = args.spans / rate

    data = Path(tempfile.mkdtemp(prefix="modeltel-soak-")) / "store"
    port = free_port()
    log = data.parent / "serve.log"
    http_store = None
    store_url = f"chdb://{data}"
    if args.store == "http":
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from support.chdb_http_store import HttpStore

        http_store = HttpStore(data, free_port(), data.parent / "store.log").start()
        store_url = http_store.url
    outage = (
        ""
        if args.outage_at is None
        else (f"; store killed at {args.outage_at:g} s for {args.outage_for:g} s")
    )
    print(
        f"modeltel soak — {rate:,.0f} spans/s ({rate / args.spans:,.1f} requests/s of "
        f"{args.spans} spans × {FEATURES} features) for {args.minutes:g} min, "
        f"{args.clients} connections; {args.store} store{outage}; {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "modeltel.analyzer.cli",
                "serve",
                "--clickhouse-url",
                store_url,
                "--port",
                str(port),
                "--grpc-port",
                "0",
                "--analyze-every",
                "0",
            ],
            stdout=log_file,
            stderr=log_file,
        )
    counters = Counters()
    jobs: queue.Queue = queue.Queue()
    bodies = Bodies(args.spans)
    rss_series: list[tuple[float, float]] = []
    try:
        wait_healthy(port, server)
        cpu_start = cpu_seconds(server.pid)
        threads = [
            threading.Thread(target=worker, args=(port, jobs, bodies, counters), daemon=True)
            for _ in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        start = time.monotonic()
        next_report = start + args.report_every
        last = {"acked": 0, "lat": 0, "retried": 0}
        number = 0
        print(
            f"{'t':>6} {'sent':>9} {'acked':>9} {'spans/s':>9} {'retried':>8} {'failed':>6} "
            f"{'backlog':>7}  latency of this interval                          RSS MiB"
        )
        outage_state = "before"
        while True:
            now = time.monotonic()
            if now - start >= seconds:
                break
            if http_store is not None and args.outage_at is not None:
                if outage_state == "before" and now - start >= args.outage_at:
                    http_store.kill()
                    outage_state = "during"
                    print(f"{now - start:5.0f}s store killed (SIGKILL)", flush=True)
                elif outage_state == "during" and now - start >= args.outage_at + args.outage_for:
                    http_store.start()
                    outage_state = "after"
                    print(f"{time.monotonic() - start:5.0f}s store back", flush=True)
            due = start + number * interval
            if due <= now:
                jobs.put(number)
                number += 1
                counters.sent = number
                continue
            if now >= next_report:
                with counters.lock:
                    acked, lat = counters.acked, counters.latencies[last["lat"] :]
                    last["lat"] = len(counters.latencies)
                    retried, failed = counters.retried, counters.failed
                rss = rss_mib(server.pid)
                rss_series.append((now - start, rss))
                span_rate = (acked - last["acked"]) * args.spans / args.report_every
                last["acked"] = acked
                print(
                    f"{now - start:5.0f}s {number * args.spans:9,} {acked * args.spans:9,} "
                    f"{span_rate:9,.0f} {retried:8,} {failed:6,} {jobs.qsize():7,}  "
                    f"{percentiles(lat)}  {rss:7.0f}",
                    flush=True,
                )
                next_report += args.report_every
                continue
            time.sleep(min(due, next_report) - now)
        elapsed = time.monotonic() - start
        if http_store is not None and outage_state == "during":  # ended inside the outage
            http_store.start()
        for _ in threads:
            jobs.put(None)
        for thread in threads:
            thread.join(300)
        drained = time.monotonic() - start - elapsed
        cpu_used = cpu_seconds(server.pid) - cpu_start
        rss_end = rss_mib(server.pid)
        server.send_signal(signal.SIGTERM)
        exit_code = server.wait(180)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    try:
        total, distinct, complete = stored_requests(store_url, args.spans)
    finally:
        if http_store is not None:
            http_store.kill()
    acked_numbers = set(counters.acked_numbers)
    missing = acked_numbers - complete
    acked_spans = len(acked_numbers) * args.spans
    print()
    print(f"== result after {elapsed:.0f} s (+{drained:.1f} s to drain the last requests)")
    print(
        f"sent        {counters.sent * args.spans:>12,} spans in {counters.sent:,} requests "
        f"(target {rate:,.0f}/s, achieved {counters.sent * args.spans / elapsed:,.0f}/s)"
    )
    print(
        f"accepted    {acked_spans:>12,} spans ({acked_spans / (elapsed + drained):,.0f}/s over "
        f"{elapsed + drained:.0f} s) in {len(acked_numbers):,} acknowledged requests"
    )
    print(f"retried     {counters.retried:>12,} answers 429/503 with Retry-After (then resent)")
    print(f"failed      {counters.failed:>12,} connection errors or other statuses")
    print(
        f"stored      {total:>12,} spans, {distinct:,} distinct ids; "
        f"{len(complete):,} requests complete"
    )
    loss = len(missing) * args.spans
    print(
        f"loss        {loss:>12,} acknowledged spans missing   "
        f"{'ZERO LOSS' if not missing else 'LOSS'}"
    )
    print(f"latency     {percentiles(counters.latencies)} (all acknowledged requests)")
    if rss_series:
        values = [r for _, r in rss_series]
        third = max(1, len(values) // 3)
        middle = float(np.mean(values[third : 2 * third] or values))
        final = float(np.mean(values[-third:]))
        growth = (final - middle) / middle if middle else 0.0
        flat = abs(growth) <= args.rss_tolerance
        print(
            f"server RSS  first {values[0]:.0f} MiB, max {max(values):.0f}, last {rss_end:.0f}; "
            f"last third vs middle third {growth:+.1%}   {'FLAT MEMORY' if flat else 'GROWING'}"
        )
    print(
        f"server CPU  {cpu_used:.0f} s over {elapsed:.0f} s ({cpu_used / elapsed:.2f} cores); "
        f"exit code after SIGTERM {exit_code}; machine load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
