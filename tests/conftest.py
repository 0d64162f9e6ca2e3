"""Shared fixtures: one embedded chDB store per test process, one database per test, and the
receiver app running under uvicorn (plus the OTLP/gRPC server) against that database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from modeltel.analyzer.base.store import Store
from support.chdb_http_store import HttpStore
from support.chromium import Browser
from support.servers import RunningServer, new_database_name, start_server

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


@pytest.fixture
def server(store: Store) -> Iterator[RunningServer]:
    """The receiver (HTTP + gRPC) on free ports, writing into ``store``."""
    running, stop = start_server(store)
    try:
        yield running
    finally:
        stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Headless Chromium for a page test module (its own profile)."""
    with Browser(tmp_path_factory.mktemp("chromium-profile")) as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator:
    """A fresh tab of :func:`browser` for one test."""
    tab = browser.new_page()
    try:
        yield tab
    finally:
        tab.close()


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
