"""The store: one ClickHouse database reached through clickhouse-connect.

``chdb:///abs/dir`` opens the embedded engine in this process; ``http(s)://host:8123`` talks
to a server. The same SQL runs on both. Each thread gets its own client (chDB handles and
HTTP sessions are not shared between threads), and every foreign error is translated into
:mod:`modeltel.analyzer.base.errors` at this seam.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
import pandas as pd
import pyarrow as pa
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import (
    ClickHouseError,
    DatabaseError,
    OperationalError,
)
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from modeltel.analyzer.base import settings
from modeltel.analyzer.base.errors import (
    StoreError,
    StoreLockedError,
    StoreUnavailableError,
)
from modeltel.analyzer.base.schema import migrations as schema_migrations
from modeltel.analyzer.base.schema.json_attributes import otel_layout
from modeltel.analyzer.base.schema.layout import Layout, quote_ident
from modeltel.analyzer.base.schema.migrations import (
    MIGRATIONS_TABLE,
    Migration,
    bootstrap_statements,
    plan,
)

logger = logging.getLogger(__name__)

# Error codes that mean "try again later" rather than "your statement is wrong".
_RETRYABLE_CODES = {
    "TOO_MANY_SIMULTANEOUS_QUERIES",
    "TOO_MANY_PARTS",
    "MEMORY_LIMIT_EXCEEDED",
    "TIMEOUT_EXCEEDED",
    "SOCKET_TIMEOUT",
    "NETWORK_ERROR",
    "ALL_CONNECTION_TRIES_FAILED",
    "TABLE_IS_READ_ONLY",
}


def embedded_path(url: str) -> str | None:
    """The directory of an embedded ``chdb:///dir`` URL, or None for a server URL."""
    if not url.startswith("chdb:"):
        return None
    path = url[len("chdb://") :] if url.startswith("chdb://") else url[len("chdb:") :]
    if path.startswith("memory") or path.startswith(":memory:"):
        return None
    return path


LOCK_FILE = "modeltel.lock"

# Embedded store paths this process holds, with the open lock file of each.
_HELD: dict[str, int] = {}


def _lock_message(path: str, owner: str) -> str:
    return (
        f"the embedded store {path} is open in another process{owner}; "
        "stop that process, or talk to the running server with --server URL "
        f"(or {settings.MODELTEL_SERVER}=URL), or choose another --clickhouse-url"
    )


def hold_embedded_lock(path: str) -> None:
    """Take (for the life of this process) the exclusive lock on the embedded store ``path``.

    chDB lets one process open a store path; modeltel keeps its own ``flock`` on
    ``<path>/modeltel.lock`` (holding the owner's PID) so a second process gets
    :class:`StoreLockedError` with a message that says what to do, instead of chDB's opaque
    start-up failure.
    """
    real = os.path.realpath(path)
    if real in _HELD:
        return
    Path(real).mkdir(parents=True, exist_ok=True)
    fd = os.open(Path(real) / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = os.pread(fd, 64, 0).decode(errors="replace").strip()
        os.close(fd)
        raise StoreLockedError(_lock_message(path, f" (PID {owner})" if owner else "")) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _HELD[real] = fd


def translate(exc: Exception, action: str, url: str | None = None) -> StoreError:
    """Map a clickhouse-connect error to a modeltel :class:`StoreError`; a server at ``url``
    that could not be reached gives one sentence saying why (:func:`unreachable_reason`)."""
    text = str(exc).strip()
    if isinstance(exc, OperationalError):
        reason = unreachable_reason(exc)
        if reason is not None and url is not None:
            return StoreUnavailableError(f"cannot reach the ClickHouse server at {url}: {reason}")
        return StoreUnavailableError(f"{action}: the store is unreachable ({text.splitlines()[0]})")
    if any(code in text for code in _RETRYABLE_CODES):
        return StoreUnavailableError(f"{action}: the store is busy ({_first_line(text)})")
    return StoreError(f"{action}: {_first_line(text)}")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what it was raised from (and the reason of urllib3's retry error)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [getattr(current, "reason", None) if isinstance(current, MaxRetryError) else None]
        todo += [current.__cause__, current.__context__]


_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "the connection was reset",
    errno.ENETUNREACH: "the network is unreachable",
    errno.EHOSTUNREACH: "no route to the host",
    errno.ETIMEDOUT: "the connection timed out",
}


def unreachable_reason(exc: BaseException) -> str | None:
    """Why the HTTP request to the server failed, in plain words (``connection refused``, ``the
    name … does not resolve``, ``TLS failure: …``, ``timed out``); None when it got an answer."""
    causes = list(_causes(exc))
    for cause in causes:
        if isinstance(cause, NameResolutionError):
            host = cause.conn.host if cause.conn is not None else "the host"
            return f"the name {host} does not resolve"
        if isinstance(cause, SSLError):
            detail = str(cause.__cause__ or cause.__context__ or cause)
            detail = re.sub(r"^\[SSL: [A-Z_]+\] |\s*\(_ssl\.c:\d+\)$", "", detail)
            return f"TLS failure: {detail.strip()}"
        if isinstance(cause, NewConnectionError):
            code = next((c.errno for c in causes if isinstance(c, OSError) and c.errno), None)
            if code is None:
                return "the connection could not be made"
            return _ERRNO_WORDS.get(code) or os.strerror(code).lower()
        if isinstance(cause, ConnectTimeoutError):
            return "the connection timed out"
        if isinstance(cause, ReadTimeoutError):
            return "no answer in time (the request timed out)"
        if isinstance(cause, ProtocolError):
            return "the server closed the connection without an answer"
    return None


_driver_calls = threading.local()


class _QuietDriver(logging.Filter):
    """Drops the HTTP driver's warnings (clickhouse-connect's "Unexpected Http Driver
    Exception", urllib3's "Retrying …") while a store call runs in this thread: the call
    raises one sentence saying what happened instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno != logging.WARNING or not getattr(_driver_calls, "depth", 0)


for _name in ("clickhouse_connect.driver._backend.http_sync", "urllib3.connectionpool"):
    logging.getLogger(_name).addFilter(_QuietDriver())


@contextmanager
def _quiet_driver() -> Iterator[None]:
    _driver_calls.depth = getattr(_driver_calls, "depth", 0) + 1
    try:
        yield
    finally:
        _driver_calls.depth -= 1


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:500]
    return text[:500]


@dataclass
class QueryTable:
    """A query's answer with its shape: column names, ClickHouse type names, rows."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]


class Store:
    """One modeltel database: connection, migrations and small typed helpers.

    ``url`` defaults to ``$MODELTEL_CLICKHOUSE_URL`` or the embedded ``./modeltel-data``;
    ``database`` to ``$MODELTEL_DATABASE`` or ``otel``; ``cluster`` names a ClickHouse
    cluster to create tables ``ON CLUSTER`` with Replicated engines and Distributed fronts.
    Methods raise :class:`StoreError` subclasses only. Safe to share between threads.

    ``lazy=True`` tolerates a store that is unavailable at construction (a ClickHouse server
    that is down or still starting): the database and migrations are then set up by the
    first call that finds it up, and until then every call raises
    :class:`StoreUnavailableError` (retried at most every ``retry_interval`` seconds). Other
    failures (a locked embedded store, bad credentials, a refused statement) still raise at
    construction.
    """

    def __init__(
        self,
        url: str | None = None,
        database: str | None = None,
        *,
        cluster: str | None = None,
        ttl_days: int | None = None,
        otel_schema: str | None = None,
        migrate: bool = True,
        lazy: bool = False,
        retry_interval: float = 1.0,
    ) -> None:
        self.url = settings.resolve_clickhouse_url(url)
        self.database = settings.resolve_database(database)
        self.layout = Layout(database=self.database, cluster=cluster, ttl_days=ttl_days)
        self.otel_schema = settings.resolve_otel_schema(otel_schema)
        """``auto``, ``map`` or ``json``: the schema of the otel_* tables asked for
        (:mod:`~modeltel.analyzer.base.schema.json_attributes`); :attr:`layout` follows the
        one the store has once it is ready."""
        self._local = threading.local()
        self._clients: list[Client] = []
        self._clients_lock = threading.Lock()
        self._migrate_on_ready = migrate
        self._ready = False
        self._ready_lock = threading.Lock()
        self._retry_interval = retry_interval
        self._next_attempt = 0.0
        self.last_error: StoreUnavailableError | None = None
        path = embedded_path(self.url)
        if path is not None:
            hold_embedded_lock(path)
        try:
            self._ensure_ready()
        except StoreUnavailableError as exc:
            if not lazy:
                self.close()
                raise
            logger.warning("%s; will retry when the store is next used", exc)
        except StoreError:
            self.close()  # e.g. a store this build cannot open (see migrate)
            raise

    @property
    def ready(self) -> bool:
        """True once the database exists and migrations are applied."""
        return self._ready

    def _ensure_ready(self) -> None:
        """Create the database and apply migrations once; StoreUnavailableError while down."""
        if self._ready or getattr(self._local, "bootstrapping", False):
            return
        with self._ready_lock:
            if self._ready:
                return
            if self.last_error is not None and time.monotonic() < self._next_attempt:
                raise StoreUnavailableError(str(self.last_error))
            self._local.bootstrapping = True
            try:
                self._bootstrap()
                self.layout = otel_layout(
                    self.layout, self.otel_schema, self.query_rows, self._where()
                )
                if self._migrate_on_ready:
                    self.migrate()
                else:
                    self.pending_migrations()  # refuses a store this build cannot open
            except StoreUnavailableError as exc:
                self.last_error = exc
                self._next_attempt = time.monotonic() + self._retry_interval
                raise
            finally:
                self._local.bootstrapping = False
            if self.last_error is not None:
                logger.warning("the store %s is available again", self._safe_url())
            self.last_error = None
            self._ready = True

    @property
    def embedded(self) -> bool:
        return self.url.startswith("chdb:")

    def __repr__(self) -> str:
        return f"Store(url={self._safe_url()!r}, database={self.database!r})"

    def _safe_url(self) -> str:
        """The URL as shown in messages: no user, password or query parameters."""
        parsed = urlparse(self.url)
        if self.embedded:
            return self.url
        return parsed._replace(netloc=parsed.netloc.rpartition("@")[2], query="").geturl()

    # -- connections -------------------------------------------------------------------

    def _connect(self, database: str | None) -> Client:
        try:
            with _quiet_driver():
                if self.embedded:
                    client = clickhouse_connect.get_client(dsn=self.url, database=database)
                else:
                    scheme = urlparse(self.url).scheme.lower()
                    client = clickhouse_connect.get_client(
                        dsn=self.url,
                        # the DSN's https:// alone does not turn TLS on
                        interface=scheme if scheme in ("http", "https") else None,
                        database=database or "",
                        connect_timeout=5,
                        send_receive_timeout=300,
                        autogenerate_session_id=False,
                    )
        except ClickHouseError as exc:
            path = embedded_path(self.url)
            others = [p for p in _HELD if path is None or p != os.path.realpath(path)]
            if path is not None and others:
                raise StoreError(
                    f"cannot open the embedded store {path}: this process already uses "
                    f"{others[0]} (chDB opens one store path per process)"
                ) from exc
            raise translate(
                exc, f"cannot open the store {self._safe_url()}", self._safe_url()
            ) from exc
        with self._clients_lock:
            self._clients.append(client)
        return client

    @property
    def client(self) -> Client:
        """This thread's clickhouse-connect client, bound to :attr:`database`."""
        if not self._ready:
            self._ensure_ready()
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._connect(self.database)
            self._local.client = client
        return client

    def _bootstrap(self) -> None:
        admin = self._connect(None)
        try:
            with _quiet_driver():
                for statement in bootstrap_statements(self.layout):
                    admin.command(statement)
        except ClickHouseError as exc:
            raise translate(exc, "cannot create the modeltel database", self._safe_url()) from exc
        finally:
            admin.close()
            with self._clients_lock:
                self._clients.remove(admin)

    def close(self) -> None:
        """Close every client this store opened."""
        with self._clients_lock:
            clients, self._clients = self._clients, []
        for client in clients:
            try:
                client.close()
            except Exception:  # closing must not raise
                logger.debug("error closing a store client", exc_info=True)
        self._local = threading.local()

    # -- migrations --------------------------------------------------------------------

    def _recorded_migrations(self) -> set[tuple[int, str]]:
        rows = self.query_rows(
            f"SELECT DISTINCT version, name FROM {self.table(MIGRATIONS_TABLE.name)}"
        )
        return {(int(version), str(name)) for version, name in rows}

    def pending_migrations(self) -> list[int]:
        """The migrations :meth:`migrate` would run now; :class:`StoreError` (one sentence
        saying what to do) when the ledger records a migration this build does not know."""
        return [m.version for m in self._plan(self._recorded_migrations())]

    def _where(self) -> str:
        return f"the database {self.database} of the store {self._safe_url()}"

    def _plan(self, recorded: set[tuple[int, str]]) -> list[Migration]:
        return plan(recorded, self._where())

    def migrate(self) -> list[int]:
        """Apply pending migrations in order; return the numbers recorded now.

        A new store runs the baseline, which creates every table and view as declared, and
        records every migration; an older one runs those it lacks (see
        :mod:`modeltel.analyzer.base.schema.migrations`)."""
        recorded_before = self._recorded_migrations()
        new_store = not recorded_before
        recorded: list[int] = []
        for migration in self._plan(recorded_before):
            for statement in migration.statements(self.layout):
                self.command(statement)
            done = schema_migrations.MIGRATIONS if new_store else (migration,)
            self.insert(
                MIGRATIONS_TABLE.name,
                [[m.version, m.name] for m in done],
                ["version", "name"],
            )
            recorded += [m.version for m in done]
            logger.info("applied migration %d: %s", migration.version, migration.name)
        return recorded

    # -- statements --------------------------------------------------------------------

    def table(self, name: str) -> str:
        """Fully qualified, quoted name of a table in this store's database."""
        return f"{quote_ident(self.database)}.{quote_ident(name)}"

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """clickhouse-connect's errors inside the block leave as :class:`StoreError`."""
        try:
            with _quiet_driver():
                yield
        except (ClickHouseError, DatabaseError) as exc:
            raise translate(exc, action, None if self.embedded else self._safe_url()) from exc

    def command(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Any:
        """Run a statement that returns no rows (DDL, INSERT … SELECT)."""
        with self._translated("statement failed"):
            return self.client.command(sql, parameters=parameters, settings=settings)

    def query_rows(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> list[tuple[Any, ...]]:
        """Run a query and return its rows as tuples."""
        return self.query_table(sql, parameters, settings).rows

    def query_table(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> QueryTable:
        """Run a query and return its rows with their column names and types."""
        with self._translated("query failed"):
            result = self.client.query(sql, parameters=parameters, settings=settings)
            return QueryTable(
                columns=list(result.column_names or ()),
                types=[t.name for t in (result.column_types or ())],
                rows=[tuple(row) for row in result.result_rows],
            )

    def query_arrow(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> pa.Table:
        """Run a query and return an Arrow table (arrays arrive without Python objects)."""
        with self._translated("query failed"):
            return self.client.query_arrow(sql, parameters=parameters, settings=settings)

    def query_df(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Run a query and return a pandas DataFrame."""
        with self._translated("query failed"):
            return self.client.query_df(sql, parameters=parameters, settings=settings)

    def insert(
        self,
        table: str,
        data: Sequence[Sequence[Any]],
        column_names: Sequence[str],
        *,
        column_oriented: bool = False,
        settings: dict[str, Any] | None = None,
    ) -> None:
        """Insert rows (or columns, with ``column_oriented=True``) into ``table``."""
        with self._translated(f"insert into {table} failed"):
            self.client.insert(
                table,
                data,
                column_names=list(column_names),
                database=self.database,
                column_oriented=column_oriented,
                settings=settings,
            )

    def insert_arrow(
        self, table: str, data: pa.Table, settings: dict[str, Any] | None = None
    ) -> None:
        """Insert an Arrow table whose columns are named like the table's (the bulk path)."""
        with self._translated(f"insert into {table} failed"):
            self.client.insert_arrow(table, data, database=self.database, settings=settings)

    def insert_df(self, table: str, df: pd.DataFrame) -> None:
        """Insert a DataFrame whose columns are named like the table's."""
        with self._translated(f"insert into {table} failed"):
            self.client.insert_df(table, df, database=self.database)
