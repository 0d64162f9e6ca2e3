"""Run the whole embedded server: HTTP app under uvicorn, OTLP/gRPC beside it.

SIGTERM/SIGINT stop accepting, let in-flight requests finish, write every queued row, then
close the store: what was acknowledged is stored.

``tls_cert``/``tls_key`` (PEM files) serve HTTPS and gRPC over TLS; ``config.access`` holds the
token check that both transports apply (see :mod:`.auth`).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import uvicorn

from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.ingest.pipeline import IngestPipeline
from modeltel.analyzer.server.app import ServerConfig, create_app
from modeltel.analyzer.server.auth import TokenInterceptor
from modeltel.analyzer.server.listen import bound_port, listen_socket
from modeltel.analyzer.server.otlp_grpc import start_grpc_server

logger = logging.getLogger(__name__)


def read_tls_files(cert: str | None, key: str | None) -> tuple[bytes, bytes] | None:
    """The PEM bytes of ``cert`` and ``key`` (both or neither); ConfigError naming the problem."""
    if not cert and not key:
        return None
    if not cert or not key:
        missing = "--tls-key" if cert else "--tls-cert"
        raise ConfigError(f"TLS needs both --tls-cert and --tls-key; {missing} is missing")
    pems = []
    for option, path in (("--tls-cert", cert), ("--tls-key", key)):
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"{option} {path}: cannot read it ({exc.strerror or exc})") from exc
        if b"-----BEGIN" not in data:
            raise ConfigError(f"{option} {path}: not a PEM file")
        pems.append(data)
    return pems[0], pems[1]


class _Server(uvicorn.Server):
    """uvicorn's server that also calls ``on_exit`` the moment a stop signal arrives, so the
    analysis loop winds down while uvicorn finishes the requests in flight."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: Any) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)


def serve(
    store: Store,
    *,
    host: str = "127.0.0.1",
    port: int = 4318,
    grpc_port: int = 4317,
    analyze_every: float = 60.0,
    config: ServerConfig | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
) -> int:
    """Serve until interrupted; return the process exit code. ``port`` 0: any free port (the
    address printed on stderr says which)."""
    config = config or ServerConfig()
    tls = read_tls_files(tls_cert, tls_key)
    sock = listen_socket(host, port)
    port = bound_port(sock)
    pipeline = IngestPipeline(
        store,
        writers=config.writers,
        max_pending_rows=config.max_pending_rows,
        limits=config.limits,
    )
    app = create_app(store, config, pipeline)
    loop = None
    if analyze_every > 0:
        from modeltel.analyzer.base.config import load_config
        from modeltel.analyzer.orchestration.loop import AnalysisLoop

        loop = AnalysisLoop(store, load_config(), every=analyze_every, publisher=app.state.metrics)
        loop.start()
    grpc_server = None
    if grpc_port:
        grpc_server, grpc_port = start_grpc_server(
            pipeline,
            host,
            grpc_port,
            max_message_bytes=config.max_body_bytes,
            credentials=grpc.ssl_server_credentials([(tls[1], tls[0])]) if tls else None,
            interceptors=(TokenInterceptor(config.access),) if config.access.enabled else (),
            store_retry_after=config.store_retry_after,
        )
    scheme = "https" if tls else "http"
    print(
        f"modeltel serving on {scheme}://{host}:{port} (OTLP/HTTP, API, web page, /metrics)"
        + (f" and OTLP/gRPC{' (TLS)' if tls else ''} on {host}:{grpc_port}" if grpc_server else "")
        + ("; a token is required" if config.access.enabled else ""),
        file=sys.stderr,
        flush=True,
    )
    if config.access.enabled and not tls and host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning(
            "the API token travels in clear text: serve with --tls-cert/--tls-key "
            "or behind a TLS proxy"
        )
    # uvicorn re-raises SIGTERM once its own graceful shutdown is done, which (with the default
    # handler) would kill the process before the gRPC server, the analysis loop and the store
    # are closed below: note the signal instead and finish the shutdown, exiting 0.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: None)
    server = _Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=30,
            ssl_certfile=tls_cert if tls else None,
            ssl_keyfile=tls_key if tls else None,
        ),
        on_exit=loop.request_stop if loop is not None else lambda: None,
    )
    try:
        server.run(sockets=[sock])
    finally:
        if loop is not None:
            loop.stop()
        if grpc_server is not None:
            grpc_server.stop(grace=10).wait()
        pipeline.close()
        store.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0
