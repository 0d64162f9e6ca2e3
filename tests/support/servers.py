"""Servers and databases for tests: a database name of one's own, the receiver app under
uvicorn with its OTLP/gRPC server in this process, and a server holding the demo's story."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from modeltel.analyzer.base.store import Store
from modeltel.analyzer.demo.servers import ThreadedServer
from modeltel.analyzer.demo.simulation import Simulation, SimulationSettings
from modeltel.analyzer.ingest.pipeline import IngestPipeline
from modeltel.analyzer.server.app import ServerConfig, create_app
from modeltel.analyzer.server.otlp_grpc import start_grpc_server


def new_database_name(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    grpc_endpoint: str
    store: Store
    pipeline: IngestPipeline
    app: object


def start_server(
    store: Store, config: ServerConfig | None = None, pipeline: IngestPipeline | None = None
):
    """Run the app under uvicorn in a thread and OTLP/gRPC beside it; return (server, stop).
    ``pipeline``: the write path to use (by default one made from ``config``)."""
    config = config or ServerConfig()
    pipeline = pipeline or IngestPipeline(
        store, writers=config.writers, max_pending_rows=config.max_pending_rows
    )
    app = create_app(store, config, pipeline)
    http = ThreadedServer(app).start(timeout_s=20)
    grpc_server, grpc_port = start_grpc_server(
        pipeline, "127.0.0.1", 0, max_message_bytes=config.max_body_bytes
    )

    def stop() -> None:
        grpc_server.stop(grace=2).wait()
        http.stop(timeout_s=20)
        pipeline.close()

    running = RunningServer(
        url=http.url,
        grpc_endpoint=f"127.0.0.1:{grpc_port}",
        store=store,
        pipeline=pipeline,
        app=app,
    )
    return running, stop


@contextmanager
def story_server(
    store_url: str, prefix: str, seed: int
) -> Iterator[tuple[RunningServer, Simulation]]:
    """A server whose store (a database of its own) holds three days of the demo's story,
    replayed through its instrumented app and analysed in 6-hour windows.

    The story's traffic follows the clock's hours; at scale 0.4 even a quiet night's window
    holds dozens of predictions, whatever the hour the tests run.
    """
    store = Store(store_url, new_database_name(prefix))
    running, stop = start_server(store)
    sim = Simulation(
        store,
        running.url,
        SimulationSettings(days=3, scale=0.4, seed=seed, window_hours=6),
        pipeline=running.pipeline,
    )
    try:
        sim.prepare()
        sim.replay()
        sim.analyse(running.app.state.metrics)
    finally:
        sim.stop()
    assert not sim.failures, sim.failures
    try:
        yield running, sim
    finally:
        stop()
        store.command(f"DROP DATABASE IF EXISTS `{store.database}`")
        store.close()
