"""SIGTERM while senders are busy: requests in flight are written and acknowledged, later ones
are refused (503 with Retry-After) or find the port closed; nothing acknowledged is dropped
and the server exits 0.

The requests in flight are made so, not hoped for: the store (ClickHouse's HTTP interface in a
process of its own) is held with SIGSTOP, so the server's writer cannot finish, and two
requests announce their body with ``Expect: 100-continue``; the server's ``100 Continue``
proves it is handling each one before the signal is sent. One sends its body before SIGTERM
(its rows wait behind the held writer), the other after it. Then the store is let go.
"""

from __future__ import annotations

import http.client
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from support.chdb_http_store import HttpStore
from support.reliability import PROTOBUF, ServeProcess, prediction_spans, stored_prediction_ids

# Time bounds: each wait below is a ceiling on a loaded 2-core machine, not a pace; the test
# takes about 10 s on a quiet one.
ANSWER_TIMEOUT_S = 60
EXIT_TIMEOUT_S = 120


@dataclass
class Log:
    """(sent at, answered at, status, ids, Retry-After) of every request, from every sender."""

    events: list[tuple[float, float, str, list[str], str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acknowledged(self) -> int:
        with self.lock:
            return sum(e[2] == "200" for e in self.events)


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
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_TIMEOUT_S)
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


class ContinuedRequest:
    """An OTLP export whose headers go first with ``Expect: 100-continue``; the body follows
    only when :meth:`send_body` is called."""

    def __init__(self, port: int, ids: list[str]) -> None:
        self.ids = ids
        self.body = prediction_spans(ids)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT_S)
        self.reply = self.sock.makefile("rb")
        head = (
            "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: {PROTOBUF['Content-Type']}\r\nContent-Length: {len(self.body)}\r\n"
            "Expect: 100-continue\r\n\r\n"
        )
        self.sock.sendall(head.encode())

    def wait_continue(self) -> None:
        """Return once the server asked for the body: its handler is running."""
        status = self.reply.readline()
        assert status.startswith(b"HTTP/1.1 100"), status
        while self.reply.readline() not in (b"\r\n", b""):
            pass

    def send_body(self) -> None:
        self.sock.sendall(self.body)

    def status(self) -> int:
        """The final status line's code (the connection is closed afterwards)."""
        try:
            line = self.reply.readline()
            return int(line.split()[1])
        finally:
            self.reply.close()
            self.sock.close()


def test_sigterm_flushes_in_flight_requests_and_refuses_the_rest(tmp_path: Path) -> None:
    store = HttpStore(tmp_path / "clickhouse", 0, tmp_path / "store.log").start()
    server = ServeProcess(store_url=store.url, log=tmp_path / "serve.log").start()
    assert store.process is not None
    log, stop = Log(), threading.Event()
    threads = [
        threading.Thread(target=sender, args=(server.port, n, stop, log), daemon=True)
        for n in range(6)
    ]
    held = False
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while log.acknowledged() < 12 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert log.acknowledged() >= 12, "the server stored nothing under load"

        store.process.send_signal(signal.SIGSTOP)  # the writer cannot finish from here on
        held = True
        queued = ContinuedRequest(server.port, [f"queued-{k}" for k in range(50)])
        queued.wait_continue()
        queued.send_body()
        receiving = ContinuedRequest(server.port, [f"receiving-{k}" for k in range(50)])
        receiving.wait_continue()

        term_at = time.monotonic()
        server.signal(signal.SIGTERM)
        receiving.send_body()
        store.process.send_signal(signal.SIGCONT)
        held = False
        statuses_in_flight = queued.status(), receiving.status()
        exit_code = server.wait(EXIT_TIMEOUT_S)
        stopped_at = time.monotonic()
    finally:
        if held:
            store.process.send_signal(signal.SIGCONT)
        stop.set()
        for thread in threads:
            thread.join(ANSWER_TIMEOUT_S)
        server.stop()
    try:
        assert exit_code == 0, (tmp_path / "serve.log").read_text()
        assert statuses_in_flight == (200, 200), "requests in flight at SIGTERM were not stored"

        events = list(log.events)
        statuses = {e[2] for e in events}
        assert statuses <= {"200", "503", "connection error"}, statuses
        assert all(e[4] for e in events if e[2] == "503"), "503 without Retry-After"
        # After the process is gone nothing can have been acknowledged.
        assert not [e for e in events if e[2] == "200" and e[1] > stopped_at + 1]
        assert term_at < stopped_at
        acknowledged = {pid for e in events if e[2] == "200" for pid in e[3]}
        acknowledged |= {*queued.ids, *receiving.ids}

        restarted = ServeProcess(store_url=store.url, log=tmp_path / "serve.log").start()
        try:
            stored = stored_prediction_ids(restarted)
        finally:
            restarted.stop()
        missing = acknowledged - stored
        assert not missing, f"{len(missing)} acknowledged spans dropped on SIGTERM"
    finally:
        store.kill()
