"""ASGI apps under uvicorn in background threads (the demo's two servers)."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.server.listen import bound_port, listen_socket


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the demo's main thread owns signals
        pass


class ThreadedServer:
    """Serve ``app`` on ``host:port`` in a daemon thread until :meth:`stop`.

    The socket is bound here, before the thread starts: ``port`` 0 takes any free port and
    :attr:`port` says which; ``fallback`` takes any free port when ``port`` is taken.
    """

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        fallback: bool = False,
        log_level: str = "warning",
    ) -> None:
        try:
            self.socket = listen_socket(host, port)
        except ConfigError:
            if not (fallback and port):
                raise
            self.socket = listen_socket(host, 0)
        self.host = host
        self.port = bound_port(self.socket)
        self.server = _Server(
            uvicorn.Config(app, host=host, port=self.port, log_level=log_level, lifespan="on")
        )
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.socket]},
            daemon=True,
            name=f"http-{self.port}",
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise OSError(f"the HTTP server on {self.url} did not start")
            time.sleep(0.02)
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout_s)
