"""``modeltel serve`` killed with SIGKILL in the middle of ingest and started again on the same
store: every span it acknowledged is there; the restarted server takes new data."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import httpx

from support.reliability import (
    PROTOBUF,
    ServeProcess,
    Tally,
    prediction_spans,
    send_until,
    stored_prediction_ids,
)


def test_sigkill_during_ingest_then_restart_keeps_every_acknowledged_span(
    tmp_path: Path,
) -> None:
    store_url = f"chdb://{tmp_path / 'store'}"
    server = ServeProcess(store_url=store_url, log=tmp_path / "serve.log").start()
    tally, stop = Tally(), threading.Event()
    senders = [
        threading.Thread(target=send_until, args=(server.port, stop, tally, n), daemon=True)
        for n in range(4)
    ]
    try:
        for sender in senders:
            sender.start()
        deadline = time.monotonic() + 60
        while len(tally.acknowledged) < 600 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.process.kill()  # SIGKILL: no flush, no goodbye
        assert server.wait(30) == -9
        time.sleep(0.3)  # the senders hit the dead port for a moment
    finally:
        stop.set()
        for sender in senders:
            sender.join(30)
        server.stop()
    acknowledged = set(tally.acknowledged)
    assert len(acknowledged) >= 600, tally.statuses
    assert tally.statuses.get("connection error", 0) >= 1  # the kill happened mid-ingest

    restarted = ServeProcess(store_url=store_url, log=tmp_path / "serve.log").start()
    try:
        stored = stored_prediction_ids(restarted)
        missing = acknowledged - stored
        assert not missing, f"{len(missing)} acknowledged spans lost, e.g. {sorted(missing)[:5]}"
        # Unacknowledged requests may or may not have made it; nothing else is there.
        assert all(re.fullmatch(r"s[0-3]-r\d+-\d+", pid) for pid in stored)
        # The restarted server works on the same store.
        answer = httpx.post(
            restarted.url + "/v1/traces",
            content=prediction_spans(["after-restart"]),
            headers=PROTOBUF,
            timeout=30,
        )
        assert answer.status_code == 200
        assert "after-restart" in stored_prediction_ids(restarted)
    finally:
        restarted.stop()
