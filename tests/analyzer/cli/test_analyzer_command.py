"""``modeltel analyzer`` and ``modeltel serve --analyze-every`` as a user runs them: the CLI
entry point in this process for options, real processes (own embedded stores) for serving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from modeltel.analyzer.cli import main
from support.results import free_port, series

CLI = [sys.executable, "-m", "modeltel.analyzer.cli"]


def test_bad_options_exit_2_with_one_sentence(tmp_path: Path, capsys) -> None:
    assert main(["analyzer", "--every", "0s"]) == 2
    assert capsys.readouterr().err.strip() == "modeltel: error: --every must be positive, e.g. 60s"
    assert main(["analyzer", "--every", "soon", "--once"]) == 2
    assert "--every 'soon' is not a duration" in capsys.readouterr().err
    assert main(["analyzer", "--window", "0s", "--once"]) == 2
    assert "--window must be positive, e.g. 1h" in capsys.readouterr().err
    config = tmp_path / "modeltel.yaml"
    config.write_text("retrain:\n  rules:\n    - metric: accuracy\n      below: high\n")
    assert main(["analyzer", "--once", "--config", str(config)]) == 2
    assert "retrain.rules[0].below must be a number" in capsys.readouterr().err
    config.write_text("loop:\n  window: forever\n")
    assert main(["analyzer", "--once", "--config", str(config)]) == 2
    assert "loop.window 'forever' is not a duration" in capsys.readouterr().err


def test_once_analyses_the_active_models(store, capsys) -> None:
    now = datetime.now(UTC)
    store.insert(
        "ml_predictions",
        [["churn", "3", now - timedelta(minutes=5 + i), f"p{i}", 0.01, 1, 0] for i in range(10)],
        ["model", "version", "timestamp", "prediction_id", "latency_s", "batch_size", "row_index"],
    )
    code = main(["analyzer", "--once", "--clickhouse-url", store.url, "--database", store.database])
    out = capsys.readouterr().out
    assert code == 0
    assert "analyzed 1 model versions" in out and "0 failures" in out
    kinds = store.query_rows("SELECT DISTINCT metric FROM ml_results WHERE model = 'churn'")
    assert {"health_score", "retrain_recommended"} <= {k for (k,) in kinds}


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith(("MODELTEL_", "OTEL_"))}
    out["NO_PROXY"] = "127.0.0.1,localhost"
    return out


def wait_for_metrics(url: str, name: str, process: subprocess.Popen, log: Path) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            text = httpx.get(url, timeout=5).text
            if series(text, name):
                return text
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{name} never appeared at {url}: {log.read_text()}")


def start(tmp_path: Path, *command: str) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    log = tmp_path / "process.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*CLI, *command, "--port", str(port), "--clickhouse-url", f"chdb://{tmp_path / 's'}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env(),
        )
    return process, port, log


def stop(process: subprocess.Popen, log: Path) -> None:
    process.terminate()
    try:
        code = process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it: exit by that signal
    assert code in (0, -signal.SIGTERM), log.read_text()
    assert "Traceback" not in log.read_text()


def test_analyzer_process_serves_metrics_and_health(tmp_path: Path) -> None:
    process, port, log = start(tmp_path, "analyzer", "--every", "1s")
    try:
        text = wait_for_metrics(
            f"http://127.0.0.1:{port}/metrics", "modeltel_analyzer_cycles_total", process, log
        )
        assert series(text, "modeltel_analyzer_models") == {(): 0.0}  # an empty store
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=60)
        assert health.status_code == 200
        assert health.json()["last_cycle"]["failures"] == 0
    finally:
        stop(process, log)


def test_serve_runs_the_loop_every_analyze_every(tmp_path: Path) -> None:
    process, port, log = start(tmp_path, "serve", "--grpc-port", "0", "--analyze-every", "1s")
    try:
        wait_for_metrics(
            f"http://127.0.0.1:{port}/metrics", "modeltel_analyzer_cycles_total", process, log
        )
        provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
        provider.add_span_processor(
            SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces"))
        )
        span = provider.get_tracer("t").start_span(
            "predict churn", attributes={"ml.model.name": "churn", "ml.model.version": "3"}
        )
        span.end()
        provider.shutdown()
        text = wait_for_metrics(
            f"http://127.0.0.1:{port}/metrics", "ml_retrain_recommended", process, log
        )
        assert series(text, "ml_retrain_recommended") == {
            (("ml_model_name", "churn"), ("ml_model_version", "3")): 0.0
        }
    finally:
        stop(process, log)


@pytest.fixture(autouse=True)
def _quiet_root_logger():
    """main() configures logging; leave the test process's handlers as they were."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
