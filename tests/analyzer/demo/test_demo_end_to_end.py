"""``modeltel demo`` end to end in a subprocess (small scale), then explored while it keeps
running: the API, /metrics, the page, ``modeltel sql --server`` and the model app itself."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from modeltel.analyzer.demo.scenario import DRIFTED, MODEL_NAME

ENV = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}

INTERRUPTIBLE = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from modeltel.analyzer.cli import main; sys.exit(main(sys.argv[1:]))"
)
"""``modeltel`` with Ctrl-C's KeyboardInterrupt whatever this process inherited: a process
started in the background by a shell without job control inherits SIGINT ignored, and so
does every process it starts (Python then installs no KeyboardInterrupt handler), which
would make the SIGINT below do nothing."""


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "modeltel.analyzer.cli", *args]


def sigint_ignored(pid: int) -> bool:
    """Whether process ``pid`` ignores SIGINT (Linux: the SigIgn mask in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


def read_lines(stream, sink: queue.Queue) -> None:
    for line in stream:
        sink.put(line.rstrip("\n"))
    sink.put(None)


def test_demo_tells_the_story_and_stays_up(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            INTERRUPTIBLE,
            "demo",
            "--data-dir",
            str(tmp_path / "demo"),
            "--days",
            "3",
            "--scale",
            "0.1",
            "--window-hours",
            "12",
            "--keep-running",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    lines: queue.Queue = queue.Queue()
    errors: queue.Queue = queue.Queue()
    threading.Thread(target=read_lines, args=(process.stdout, lines), daemon=True).start()
    threading.Thread(target=read_lines, args=(process.stderr, errors), daemon=True).start()
    out: list[str] = []
    # Time bounds (ceilings for a loaded 2-core machine; quiet, the story takes ~15 s and the
    # stop ~2 s): the story within 400 s, the stop within 60 s of SIGINT. The stop waits for
    # one analysis and the flush of the app's telemetry, never for a whole analysis cycle.
    deadline = time.monotonic() + 400
    try:
        while time.monotonic() < deadline:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            assert line is not None, "the demo ended early:\n" + "\n".join(out)
            out.append(line)
            if "press Ctrl-C to stop" in line:
                break
        text = "\n".join(out)
        served = re.search(
            r"OTLP/HTTP, API, web page and /metrics on (http://127\.0\.0\.1:\d+)", text
        )
        assert served, text
        url = served.group(1)

        # what it says happened
        traffic = re.search(r"(\d[\d,]*) requests \((\d+) failed\), (\d[\d,]*) predictions", text)
        assert traffic, text
        predictions = int(traffic.group(3).replace(",", ""))
        assert predictions > 300
        health = re.search(r"health score\s+(\d+)/100 \((ok|warning|alert)\)", text)
        assert health, text
        drift = next(line for line in out if line.strip().startswith("drift "))
        assert any(feature in drift for feature in DRIFTED), drift
        assert "What to do" in text and "Where to look" in text
        assert f"modeltel sql --server {url}" in text

        # and it is all there to explore
        models = httpx.get(url + "/api/models", timeout=60).json()
        (entry,) = [m for m in models if m["model"] == MODEL_NAME]
        assert entry["predictions"] == predictions
        assert round(entry["health_score"]) == int(health.group(1))
        metrics = httpx.get(url + "/metrics", timeout=60).text
        assert re.search(r'ml_drift_score\{[^}]*ml_model_name="breast-cancer"', metrics)
        assert re.search(r'ml_health_score\{[^}]*ml_model_name="breast-cancer"', metrics)
        page = httpx.get(f"{url}/models/{MODEL_NAME}", timeout=60)
        assert page.status_code == 200 and "Drift: reference vs current" in page.text
        counted = subprocess.run(
            command(
                "sql", "--server", url, "SELECT count() FROM ml_predictions", "--format", "csv"
            ),
            capture_output=True,
            text=True,
            env=ENV,
            timeout=120,
        )
        assert counted.stdout.split() == ["count()", str(predictions)]
        app_url = re.search(r"the model app stays up too: POST (\S+)/predict", text).group(1)
        row = {"mean_radius": 14.0, "clinic": "north"}
        scored = httpx.post(
            app_url + "/predict", json={"rows": [row], "ids": ["live-1"]}, timeout=60
        )
        assert scored.status_code == 200
        assert scored.json()["prediction_ids"] == ["live-1"]
    finally:
        process.send_signal(signal.SIGINT)
        stopped, ignored = True, False
        try:
            code = process.wait(60)
        except subprocess.TimeoutExpired:
            stopped = False
            ignored = sigint_ignored(process.pid)
            process.kill()
            code = process.wait(10)
        progress = []
        while (line := errors.get(timeout=30)) is not None:
            progress.append(line)
        while (line := lines.get(timeout=30)) is not None:
            out.append(line)
        process.stdout.close()
        process.stderr.close()
    said = "\n".join(out[-5:] + progress[-20:])
    assert stopped, f"the demo did not stop within 60 s of SIGINT (ignored: {ignored}):\n{said}"
    assert code == 0, said
    assert any(line.strip().startswith("traffic") and "100%" in line for line in progress)
    assert any(line.strip().startswith("analysis") and "100%" in line for line in progress)


def test_demo_refuses_bad_options_in_one_sentence(tmp_path: Path) -> None:
    short = subprocess.run(
        command("demo", "--days", "2", "--data-dir", str(tmp_path / "d")),
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert short.returncode == 2
    assert short.stderr.strip() == (
        "modeltel: error: --days must be at least 3 (the story needs drift and late labels)"
    )
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    refused = subprocess.run(
        command("demo", "--data-dir", str(foreign)),
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert refused.returncode == 2
    assert "holds files that are not a modeltel demo's" in refused.stderr
    assert (foreign / "thesis.tex").read_text() == "precious"
