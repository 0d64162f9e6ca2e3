"""``modeltel demo``: the whole story on one machine in about a minute.

1. start the embedded modeltel server (receiver, API, web page, ``/metrics``) in this
   process, on its own chDB folder;
2. train a real scikit-learn model on the bundled breast-cancer data and upload its
   training rows as the drift reference;
3. serve it from a FastAPI app monitored by one ``instrument(...)`` line;
4. replay simulated days of requests (drift, missing values, failures injected; labels
   arriving late) through that app over HTTP;
5. run the analysis over every window of those days, as the server's loop would have;
6. print what happened and where to look; with ``keep_running``, stay up with the analysis
   loop running until Ctrl-C.
"""

from __future__ import annotations

import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from modeltel.analyzer.cli.progress import Progress
from modeltel.analyzer.demo import scenario
from modeltel.analyzer.demo.clock import SimulatedClock
from modeltel.analyzer.demo.servers import ThreadedServer, free_port
from modeltel.analyzer.demo.story import print_summary
from modeltel.analyzer.demo.telemetry import configure
from modeltel.analyzer.demo.traffic import Replay, TrafficStats
from modeltel.analyzer.errors import ConfigError
from modeltel.analyzer.store import Store

MARKER = ".modeltel-demo"
DEFAULT_PORT = 4318


@dataclass
class DemoOptions:
    """What ``modeltel demo`` was asked to do."""

    data_dir: Path
    port: int = 0
    days: int = 7
    scale: float = 1.0
    seed: int = 7
    window_hours: int = 6
    keep_running: bool = False
    analyze_every_s: float = 60.0


def prepare_data_dir(path: Path) -> Path:
    """An empty folder for the demo's store; a previous demo's folder is wiped first."""
    path = path.expanduser().resolve()
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"--data-dir {path} exists and is not a folder")
        if any(path.iterdir()) and not (path / MARKER).exists():
            raise ConfigError(
                f"--data-dir {path} holds files that are not a modeltel demo's; "
                "choose an empty or new folder"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).write_text("created by modeltel demo; safe to delete\n")
    return path


def _step(out: TextIO, text: str) -> None:
    print(f"\n▸ {text}", file=out, flush=True)


def _validate(options: DemoOptions) -> None:
    if options.days < 3:
        raise ConfigError("--days must be at least 3 (the story needs drift and late labels)")
    if not 0 < options.scale <= 20:
        raise ConfigError("--scale must be in (0, 20]")
    if options.window_hours < 1 or 24 % options.window_hours:
        raise ConfigError("--window-hours must divide 24 (1, 2, 3, 4, 6, 8, 12 or 24)")


def run_demo(options: DemoOptions, out: TextIO | None = None) -> int:
    """Run the demo; return the process exit code."""
    out = out or sys.stdout
    _validate(options)
    started = time.monotonic()
    data_dir = prepare_data_dir(options.data_dir)
    store_url = f"chdb://{data_dir / 'store'}"
    print(f"modeltel demo: {options.days} simulated days, seed {options.seed}", file=out)

    _step(out, f"starting the embedded modeltel server (store {data_dir / 'store'})")
    from modeltel.analyzer.ingest import IngestPipeline
    from modeltel.analyzer.server.app import ServerConfig, create_app

    store = Store(store_url)
    config = ServerConfig()
    pipeline = IngestPipeline(
        store, writers=config.writers, max_pending_rows=config.max_pending_rows
    )
    app = create_app(store, config, pipeline)
    port = options.port or free_port(DEFAULT_PORT)
    server = ThreadedServer(app, port=port).start()
    print(f"  OTLP/HTTP, API, web page and /metrics on {server.url}", file=out)

    _step(out, "training a classifier on scikit-learn's bundled breast-cancer data")
    data = scenario.load_dataset(options.seed)
    model = scenario.train_model(data, options.seed)
    accuracy = float((model.predict(data.pool) == data.pool_labels).mean())
    print(
        f"  logistic regression on {len(data.train)} rows, {len(data.features)} features; "
        f"held-out accuracy {accuracy:.3f}",
        file=out,
    )
    from modeltel.analyzer.demo.reference import upload_training_reference

    rows = upload_training_reference(store, data, model)
    print(f"  uploaded the training rows as the drift reference ({rows} rows)", file=out)

    _step(out, "serving the model from a FastAPI app instrumented with one line")
    from modeltel.analyzer.demo.serving import create_serving_app

    clock = SimulatedClock()
    telemetry = configure(server.url, clock)
    serving = ThreadedServer(create_serving_app(model, data.features, telemetry)).start()
    print(f"  POST {serving.url}/predict  (spans and labels go to {server.url})", file=out)

    end = datetime.fromtimestamp(time.time() // 3600 * 3600, UTC)
    start = end - timedelta(days=options.days)
    _step(out, f"sending {options.days} days of traffic ({start:%b %d} → {end:%b %d %H:%M} UTC)")
    for line in scenario.describe(options.days, start):
        print(f"  · {line}", file=out)
    replay = Replay(
        serving.url,
        data,
        clock,
        end=end,
        days=options.days,
        scale=options.scale,
        seed=options.seed,
        logger_provider=telemetry.logger_provider,
    )
    with Progress("  traffic", options.days, unit="days") as bar:
        stats = replay.run(
            lambda i, s: bar.advance(
                note=f"{s.predictions:,} predictions, {s.labels_sent:,} labels"
            )
        )
    if not telemetry.flush(120):
        print("  warning: some telemetry was not exported in time", file=out)
    _wait_for_ingest(pipeline)
    _report_traffic(out, stats)

    windows = options.days * 24 // options.window_hours
    _step(out, f"analysing {windows} windows of {options.window_hours} h")
    from modeltel.analyzer.demo.analysis import analyse_history

    analyse_history(store, app.state.metrics, start, end, options.window_hours)

    print_summary(out, store, server.url, store_url, keep_running=options.keep_running)
    print(f"\n(done in {time.monotonic() - started:.0f} s)", file=out, flush=True)
    try:
        if options.keep_running:
            _serve_forever(store, app.state.metrics, options, out)
    finally:
        serving.stop()
        telemetry.shutdown()
        server.stop()
        pipeline.close()
        store.close()
    return 0


def _wait_for_ingest(pipeline: object, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while getattr(pipeline, "pending_rows", 0) and time.monotonic() < deadline:
        time.sleep(0.05)


def _report_traffic(out: TextIO, stats: TrafficStats) -> None:
    print(
        f"  {stats.requests:,} requests ({stats.failed_requests} failed), "
        f"{stats.predictions:,} predictions, {stats.labels_sent:,} labels delivered, "
        f"{stats.labels_pending:,} still on their way",
        file=out,
    )


def _serve_forever(store: Store, publisher: object, options: DemoOptions, out: TextIO) -> None:
    from modeltel.analyzer.config import load_config
    from modeltel.analyzer.loop import AnalysisLoop

    loop = AnalysisLoop(
        store,
        load_config(),
        every=options.analyze_every_s,
        publisher=publisher,  # type: ignore[arg-type]
    )
    loop.start()
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("\nThe server keeps running; press Ctrl-C to stop.", file=out, flush=True)
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        loop.stop()
        print("stopping …", file=out, flush=True)
