"""Shared fixtures: one embedded chDB store per test process, one database per test, and the
receiver app running under uvicorn (plus the OTLP/gRPC server) against that database."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from modeltel.analyzer.base.store import Store
from modeltel.analyzer.demo.servers import ThreadedServer
from modeltel.analyzer.demo.simulation import Simulation, SimulationSettings
from modeltel.analyzer.ingest.pipeline import IngestPipeline
from modeltel.analyzer.server.app import ServerConfig, create_app
from modeltel.analyzer.server.otlp_grpc import start_grpc_server
from support.chdb_http_store import HttpStore

TEST_STORES = ("embedded", "http")


def pytest_configure(config: pytest.Config) -> None:
    chosen = os.environ.get("MODELTEL_TEST_STORE") or "embedded"
    if chosen not in TEST_STORES:
        raise pytest.UsageError(
            f"MODELTEL_TEST_STORE={chosen!r} is not a test store; choose one of "
            + ", ".join(TEST_STORES)
        )


@pytest.fixture(scope="session")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The store the tests use: by default the one embedded chDB store this test process may
    open (chDB: one path per process). ``MODELTEL_TEST_STORE=http`` serves it through
    ClickHouse's HTTP interface from another process instead (``chdb_http_store.py``: the
    production code path of an ``http://`` URL); ``MODELTEL_TEST_CLICKHOUSE_URL`` names a
    ClickHouse server to use."""
    path = tmp_path_factory.mktemp("chdb") / "store"
    if os.environ.get("MODELTEL_TEST_CLICKHOUSE_URL"):
        yield os.environ["MODELTEL_TEST_CLICKHOUSE_URL"]
    elif os.environ.get("MODELTEL_TEST_STORE") == "http":
        server = HttpStore(path, 0, path.parent / "http-store.log").start()
        try:
            yield server.url
        finally:
            server.kill()
    else:
        yield f"chdb://{path}"


def new_database_name(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated store on a database of its own."""
    s = Store(store_url, new_database_name())
    try:
        yield s
    finally:
        try:
            s.command(f"DROP DATABASE IF EXISTS `{s.database}`")
        finally:
            s.close()


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


@pytest.fixture
def server(store: Store) -> Iterator[RunningServer]:
    """The receiver (HTTP + gRPC) on free ports, writing into ``store``."""
    running, stop = start_server(store)
    try:
        yield running
    finally:
        stop()


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


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to localhost only."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for key in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS"):
        monkeypatch.delenv(key, raising=False)
    os.environ.setdefault("OTEL_SDK_DISABLED", "false")
