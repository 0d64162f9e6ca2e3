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
from pathlib import Path
from typing import TextIO

import yaml

from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.demo import scenario
from modeltel.analyzer.demo.analysis import window_ends
from modeltel.analyzer.demo.servers import ThreadedServer
from modeltel.analyzer.demo.simulation import Simulation, SimulationSettings
from modeltel.analyzer.demo.story import print_summary

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
    (path / "modeltel.yaml").write_text(
        "# The analysis configuration of modeltel demo (use it with --config or MODELTEL_CONFIG)\n"
        + yaml.safe_dump(scenario.CONFIG, sort_keys=False)
    )
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
    from modeltel.analyzer.ingest.pipeline import IngestPipeline
    from modeltel.analyzer.server.app import ServerConfig, create_app

    store = Store(store_url)
    config = ServerConfig()
    pipeline = IngestPipeline(
        store, writers=config.writers, max_pending_rows=config.max_pending_rows
    )
    app = create_app(store, config, pipeline)
    # --port 0 (the default): 4318 when it is free, else any free port.
    port = options.port or DEFAULT_PORT
    server = ThreadedServer(app, port=port, fallback=not options.port).start()
    print(f"  OTLP/HTTP, API, web page and /metrics on {server.url}", file=out)
    print(f"  analysis configuration: {data_dir / 'modeltel.yaml'}", file=out)

    _step(out, "training a classifier on scikit-learn's bundled breast-cancer data")
    sim = Simulation(
        store,
        server.url,
        SimulationSettings(
            days=options.days,
            scale=options.scale,
            seed=options.seed,
            window_hours=options.window_hours,
        ),
        pipeline=pipeline,
        out=out,
    )
    try:
        sim.prepare()
        assert sim.serving is not None
        _step(out, "serving the model from a FastAPI app instrumented with one line")
        print(f"  POST {sim.serving.url}/predict  (spans and labels go to {server.url})", file=out)
        _step(
            out,
            f"sending {options.days} days of traffic "
            f"({sim.start:%b %d %H:%M} → {sim.end:%b %d %H:%M} UTC)",
        )
        sim.replay()
        windows = len(window_ends(sim.start, sim.end, options.window_hours))
        _step(out, f"analysing {windows} windows of {options.window_hours} h")
        sim.analyse(app.state.metrics)
        print_summary(out, store, server.url, store_url, keep_running=options.keep_running)
        print(f"\n(done in {time.monotonic() - started:.0f} s)", file=out, flush=True)
        if options.keep_running:
            print(f"  the model app stays up too: POST {sim.serving.url}/predict", file=out)
            _serve_forever(store, app.state.metrics, sim, options, out)
    finally:
        sim.stop()
        server.stop()
        pipeline.close()
        store.close()
    return 0


def _serve_forever(
    store: Store, publisher: object, sim: Simulation, options: DemoOptions, out: TextIO
) -> None:
    """Live traffic and the analysis loop until SIGINT/SIGTERM; then stop both at once: the
    loop finishes the analysis it is running (not its cycle) while the traffic stops."""
    from modeltel.analyzer.demo.scenario import CONFIG
    from modeltel.analyzer.orchestration.loop import AnalysisLoop

    loop = AnalysisLoop(
        store,
        CONFIG,
        window_s=options.window_hours * 3600.0,
        every=options.analyze_every_s,
        publisher=publisher,  # type: ignore[arg-type]
    )
    sim.start_live()
    loop.start()
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(
        "\nThe server keeps running: traffic goes on at the story's pace, labels arrive as "
        f"they fall due, and the analysis of the trailing {options.window_hours} h runs every "
        f"{options.analyze_every_s:g} s; press Ctrl-C to stop.",
        file=out,
        flush=True,
    )
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        print("stopping …", file=out, flush=True)
        loop.request_stop()
        sim.stop_live()
        loop.stop()
