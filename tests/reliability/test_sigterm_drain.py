"""SIGTERM while senders are busy: requests in flight are written and acknowledged, later ones
are refused (503 with Retry-After) or find the port closed; nothing acknowledged is dropped
and the server exits 0."""

from __future__ import annotations

import http.client
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from reliability_support import PROTOBUF, ServeProcess, prediction_spans, stored_prediction_ids


@dataclass
class Log:
    """(sent at, answered at, status, ids) of every request, from every sender."""

    events: list[tuple[float, float, str, list[str], str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def sender(port: int, number: int, stop: threading.Event, log: Log) -> None:
    conn: http.client.HTTPConnection | None = None
    for n in range(100_000):
        if stop.is_set():
            break
        ids = [f"t{number}-r{n}-{k}" for k in range(200)]
        body = prediction_spans(ids)
        sent = time.monotonic()
        retry_after = ""
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("POST", "/v1/traces", body, PROTOBUF)
            response = conn.getresponse()
            response.read()
            status = str(response.status)
            retry_after = response.getheader("Retry-After", "")
        except (OSError, http.client.HTTPException):
            status = "connection error"
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.05)
        with log.lock:
            log.events.append((sent, time.monotonic(), status, ids, retry_after))
    if conn is not None:
        conn.close()


def test_sigterm_flushes_in_flight_requests_and_refuses_the_rest(tmp_path: Path) -> None:
    store_url = f"chdb://{tmp_path / 'store'}"
    server = ServeProcess(store_url=store_url, log=tmp_path / "serve.log").start()
    log, stop = Log(), threading.Event()
    threads = [
        threading.Thread(target=sender, args=(server.port, n, stop, log), daemon=True)
        for n in range(6)
    ]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with log.lock:
                if sum(e[2] == "200" for e in log.events) >= 12:
                    break
            time.sleep(0.05)
        term_at = time.monotonic()
        server.signal(signal.SIGTERM)
        exit_code = server.wait(120)
        stopped_at = time.monotonic()
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
        server.stop()
    assert exit_code == 0, (tmp_path / "serve.log").read_text()

    events = list(log.events)
    statuses = {e[2] for e in events}
    assert statuses <= {"200", "503", "connection error"}, statuses
    assert all(e[4] for e in events if e[2] == "503"), "503 without Retry-After"
    in_flight = [e for e in events if e[0] < term_at < e[1]]
    assert in_flight, "no request was in flight when SIGTERM arrived"
    assert any(e[2] == "200" for e in in_flight), "in-flight requests were not completed"
    # After the process is gone nothing can have been acknowledged.
    assert not [e for e in events if e[2] == "200" and e[1] > stopped_at + 1]
    acknowledged = {pid for e in events if e[2] == "200" for pid in e[3]}

    restarted = ServeProcess(store_url=store_url, log=tmp_path / "serve.log").start()
    try:
        stored = stored_prediction_ids(restarted)
    finally:
        restarted.stop()
    missing = acknowledged - stored
    assert not missing, f"{len(missing)} acknowledged spans dropped on SIGTERM"
