"""A ClickHouse store reached over ClickHouse's HTTP interface, as in production: ``python
chdb_http_store.py DATA_DIR PORT`` serves the database in ``DATA_DIR`` on ``127.0.0.1:PORT``
until it is killed; :class:`HttpStore` runs it from a test.

The engine is chDB (ClickHouse 26.9 in-process): it parses and runs every statement, keeps
the tables, merges the parts and fires the materialized views. This module only carries
ClickHouse's HTTP protocol to it, the part of it clickhouse-connect speaks:

- the statement in the ``query`` parameter and/or the body (``Content-Encoding`` lz4, gzip,
  deflate or none); an ``INSERT … FORMAT f`` takes the data that follows it, which the engine
  reads from a spooled file;
- the URL's parameters and the fields of a ``multipart/form-data`` body (long queries):
  ``database``, ``default_format`` and ``param_<name>`` (typed query parameters); every other
  parameter is a setting of that one request;
- errors as ClickHouse sends them: status 500, ``X-ClickHouse-Exception-Code``, the
  ``Code: N. DB::Exception: …`` text;
- ``/ping``. ``client_protocol_version`` is not honoured (clickhouse-connect probes for it and
  reads plain Native blocks without it, as behind a proxy that strips the parameter).

(chDB's own listeners — ``SYSTEM START LISTEN`` — are compiled in but are not started by the
embedded engine, and no ClickHouse server binary can be installed on this machine.)
"""

from __future__ import annotations

import gzip
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import chdb
import lz4.frame

from modeltel.analyzer.base.schema.layout import quote_ident

PROTOCOL_PARAMETERS = {
    "query",
    "database",
    "default_format",
    "query_id",
    "session_id",
    "session_timeout",
    "session_check",
    "compress",
    "decompress",
    "user",
    "password",
    "quota_key",
    "wait_end_of_query",
    "buffer_size",
    "client_protocol_version",
    "enable_http_compression",
    "send_progress_in_http_headers",
    "http_headers_progress_interval_ms",
}
INSERT_WITH_DATA = re.compile(r"^\s*INSERT\b.*\bFORMAT\s+(\w+)\s*$", re.IGNORECASE | re.DOTALL)
INLINE_INSERT = re.compile(rb"^(\s*INSERT\b[^\n]*?)\bFORMAT\s+(\w+)[ \t]*\n", re.IGNORECASE)
FORMAT_CLAUSE = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ERROR_CODE = re.compile(r"Code: (\d+)\.")


def _decompress(body: bytes, encoding: str | None) -> bytes:
    """The request body as sent before its ``Content-Encoding``."""
    if not encoding or encoding == "identity":
        return body
    if encoding == "lz4":  # one frame per block of a long insert
        parts, rest = [], body
        while rest:
            frame = lz4.frame.LZ4FrameDecompressor()
            parts.append(frame.decompress(rest))
            rest = frame.unused_data
        return b"".join(parts)
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    raise ValueError(f"Code: 36. DB::Exception: Unknown Content-Encoding {encoding}")


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The fields of a ``multipart/form-data`` body (a long query and its parameters)."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[str(name)] = part.get_payload(decode=True).decode()
    return fields


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Handler(BaseHTTPRequestHandler):
    data_dir = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        url = urlsplit(self.path)
        spooled = None
        try:
            body = self._body()
            if url.path == "/ping" or (url.path == "/" and not url.query and not body):
                self._answer(200, b"Ok.\n", "text/plain")
                return
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            content_type = self.headers.get("Content-Type", "")
            if content_type.startswith("multipart/form-data"):
                params.update(_form_fields(content_type, body))
                body = b""
            encoding = (self.headers.get("Content-Encoding") or "").lower() or None
            sql, spooled = self._statement(params.get("query", ""), body, encoding)
            clause = FORMAT_CLAUSE.search(sql)
            fmt = clause.group(1) if clause else params.get("default_format", "TabSeparated")
            answer = self._run(sql, fmt, params)
        except Exception as exc:  # the engine's (or the request's) error goes back
            text = str(exc).strip()
            code = ERROR_CODE.search(text)
            self._answer(
                500,
                (text + "\n").encode(),
                "text/plain",
                {"X-ClickHouse-Exception-Code": code.group(1) if code else "1001"},
            )
            return
        finally:
            if spooled:
                os.unlink(spooled)
        self._answer(200, answer, "application/octet-stream", {"X-ClickHouse-Format": fmt})

    def _statement(self, query: str, body: bytes, encoding: str | None) -> tuple[str, str | None]:
        """The SQL to run, and the spooled data file of an INSERT (None otherwise)."""
        data = _decompress(body, encoding)
        if query:
            insert = INSERT_WITH_DATA.match(query) if data else None
            if insert is None:
                return (f"{query}\n{data.decode()}" if data else query), None
            head, fmt = query[: insert.start(1)].rstrip()[: -len("FORMAT")], insert.group(1)
        else:
            inline = INLINE_INSERT.match(data)
            if inline is None:
                return data.decode(), None
            head = inline.group(1).decode()
            fmt, data = inline.group(2).decode(), data[inline.end() :]
        with tempfile.NamedTemporaryFile(delete=False, dir=self.data_dir, suffix=".in") as f:
            f.write(data)
        return f"{head.rstrip()} FROM INFILE {_quote(f.name)} FORMAT {fmt}", f.name

    def _run(self, sql: str, fmt: str, params: dict[str, str]) -> bytes:
        conn = chdb.connect(self.data_dir)
        try:
            if params.get("database"):
                conn.query(f"USE {quote_ident(params['database'])}")
            query_params = {}
            # As the server does, every setting of the request is checked against the state
            # before it: ``readonly`` does not forbid the limits sent beside it.
            for key, value in sorted(params.items(), key=lambda item: item[0] == "readonly"):
                if key.startswith("param_"):
                    query_params[key[len("param_") :]] = value
                elif key not in PROTOCOL_PARAMETERS:
                    if not SETTING_NAME.match(key):
                        raise ValueError(f"Code: 115. DB::Exception: Unknown setting '{key}'")
                    conn.query(f"SET {key} = {_quote(value)}")
            result = conn.query(sql, fmt, params=query_params or None)
            return result.bytes() if hasattr(result, "bytes") else bytes(result)
        finally:
            conn.close()

    def _answer(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


@dataclass
class HttpStore:
    """This module serving ``data_dir`` on ``port`` in a subprocess (stdout/stderr to ``log``).

    ``port`` 0: any free port, read back from the line the process prints (and kept, so a
    restart comes back at the same address)."""

    data_dir: Path
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> HttpStore:
        """Start it and wait until ``/ping`` answers."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, __file__, str(self.data_dir), str(self.port)],
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the store exited:\n{self.log.read_text()}")
            if not self.port:
                serving = re.search(rb"serving .* on (\d+)\n", self.log.read_bytes()[offset:])
                if serving is None:
                    time.sleep(0.1)
                    continue
                self.port = int(serving.group(1))
            try:
                with urllib.request.urlopen(self.url + "/ping", timeout=2) as answer:
                    if answer.read() == b"Ok.\n":
                        return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"the store did not come up:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL (an outage, not a shutdown); safe to call twice."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)


def main() -> None:
    data_dir, port = sys.argv[1], int(sys.argv[2])
    os.makedirs(data_dir, exist_ok=True)
    Handler.data_dir = data_dir
    engine = chdb.connect(data_dir)  # kept open: the engine lives as long as this process
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"serving {data_dir} on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        engine.close()


if __name__ == "__main__":
    main()
