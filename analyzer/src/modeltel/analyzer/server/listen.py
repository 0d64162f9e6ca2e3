"""Listening sockets bound before a server starts.

A server binds its own socket and reports the port it got: port 0 asks the kernel for a free
one, so callers never race another process for a port they picked beforehand, and the address
a server prints is the one it serves.
"""

from __future__ import annotations

import socket

from modeltel.analyzer.base.errors import ConfigError


def listen_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (IPv6 when ``host`` has a colon); port 0: any free
    one (``getsockname()[1]`` tells which). ConfigError naming the address when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


def bound_port(sock: socket.socket) -> int:
    """The port ``sock`` is bound to."""
    return int(sock.getsockname()[1])
