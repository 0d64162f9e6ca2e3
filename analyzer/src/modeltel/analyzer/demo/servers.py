"""ASGI apps under uvicorn in background threads (the demo's two servers)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


def free_port(preferred: int = 0, host: str = "127.0.0.1") -> int:
    """``preferred`` when it can be bound, else any free port."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError("no free TCP port")


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the demo's main thread owns signals
        pass


class ThreadedServer:
    """Serve ``app`` on ``host:port`` in a daemon thread until :meth:`stop`."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(0, host)
        self.server = _Server(
            uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True, name=f"http-{port}")

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
