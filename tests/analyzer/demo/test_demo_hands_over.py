"""The demo hands over: run ``modeltel demo`` to its end, follow the web-page instruction it
prints (``modeltel serve --clickhouse-url …``), let the server's own analysis loop run, and
the page and ``/api/models`` show the verdicts the demo printed, however long after the
story's end the server starts."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from modeltel.analyzer.demo.scenario import MODEL_NAME
from support.chromium import chromium_path
from support.results import free_port

ENV = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
pytestmark = pytest.mark.skipif(chromium_path() is None, reason="needs chromium (apt-get)")


def _printed(text: str) -> dict:
    """What the demo's summary says: health, retrain, drifted features and the serve command."""
    health = re.search(r"health score\s+(\d+)/100 \((\w+)\)( — retraining recommended)?", text)
    drift = re.search(r"drift\s+(\d+) of (\d+) features drifted", text)
    serve = re.search(r"web page\s+(modeltel serve --clickhouse-url \S+)\s+then open", text)
    assert health and drift and serve, text
    return {
        "health": int(health.group(1)),
        "status": health.group(2),
        "retrain": health.group(3) is not None,
        "drifted": int(drift.group(1)),
        "checked": int(drift.group(2)),
        "serve": shlex.split(serve.group(1))[1:],  # after the program name
    }


def test_the_page_shows_what_the_demo_printed(tmp_path: Path, page) -> None:
    demo = subprocess.run(
        [
            *(sys.executable, "-m", "modeltel.analyzer.cli", "demo", "--data-dir", str(tmp_path)),
            *("--days", "3", "--scale", "0.1", "--window-hours", "12"),
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    said = _printed(demo.stdout)
    assert said["drifted"] > 0 and said["retrain"], demo.stdout  # the story has drift

    port = free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "modeltel.analyzer.cli", *said["serve"]),
            *("--port", str(port), "--grpc-port", "0"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        cycled = False
        while time.monotonic() < deadline and not cycled:  # the loop's first cycle is done
            assert server.poll() is None, server.stderr.read()
            try:
                metrics = httpx.get(url + "/metrics", timeout=30).text
                cycled = re.search(r"^modeltel_analyzer_cycles_total\S* [1-9]", metrics, re.M)
            except httpx.TransportError:
                pass
            if not cycled:
                time.sleep(0.5)
        assert cycled, "the server's analysis loop did not complete a cycle in 180 s"

        (entry,) = [m for m in httpx.get(url + "/api/models", timeout=60).json()]
        assert entry["model"] == MODEL_NAME
        assert round(entry["health_score"]) == said["health"]
        assert entry["health_status"] == said["status"]
        assert entry["retrain_recommended"] is True
        assert (entry["drifted_features"], entry["features_checked"]) == (
            said["drifted"],
            said["checked"],
        )

        page.goto(url + "/")
        row = page.evaluate(
            "Array.from(document.querySelectorAll('table.models tbody tr td'))"
            ".map(td => td.textContent.trim())"
        )
        assert str(said["health"]) in row[3]
        assert row[4] == f"{said['drifted']} of {said['checked']}"
        assert row[5] == "recommended"

        page.goto(f"{url}/models/{MODEL_NAME}")
        assert page.evaluate("document.querySelector('.health.big').textContent") == str(
            said["health"]
        )
        summary = page.evaluate("document.querySelector('.summary').textContent")
        assert "retraining recommended" in summary
        drifted = page.evaluate(
            "new Set(Array.from(document.querySelectorAll('table.drift tbody tr'))"
            ".filter(tr => tr.querySelector('.badge-drift'))"
            ".map(tr => tr.querySelector('code').textContent)"
            ".filter(f => !f.startsWith('prediction.'))).size"
        )
        assert drifted == said["drifted"]
        assert "no data" not in page.evaluate("document.querySelector('table.drift').textContent")
        assert page.errors == []
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        server.stderr.close()
