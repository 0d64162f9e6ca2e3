"""Declarations of tables and materialized views, rendered for one server or for a cluster.

A :class:`Table` is declared once. :class:`Layout` renders it either as a plain MergeTree-family
table (single server, chDB) or, for a ClickHouse cluster, as a ``<name>_local`` table with the
Replicated engine ``ON CLUSTER`` plus a ``Distributed`` table under the public name. Views
always read from and write to the local tables, so a row inserted through the Distributed
table is projected on the shard that stores it. A ``shared`` table (small settings read by the
views) is one replicated copy on every node: a cluster-wide path, no Distributed front.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modeltel.instrumentation.attributes import quoted

LIMITS_TABLE = "modeltel_limits"
"""The table of limits the views read (``{limits}`` in a view's select)."""


@dataclass(frozen=True)
class Table:
    """A table: its columns/indexes, MergeTree-family engine, and the clauses after ENGINE."""

    name: str
    columns: str
    tail: str
    engine: str = "MergeTree"
    engine_args: str = ""
    ttl_column: str | None = None
    sharding_key: str = "rand()"
    replicated: bool = True
    """False for engines without a Replicated variant (``Null``): created on every node."""
    shared: bool = False
    """One copy replicated to every node under its own name (no shard in the path)."""


@dataclass(frozen=True)
class View:
    """A materialized view from ``source`` into ``target``; ``select`` uses ``{source}``."""

    name: str
    target: str
    source: str
    select: str
    target_local: bool = True
    """False to write through the Distributed table (the target is sharded by its key)."""
    source_local: bool = True
    """False when the source is an unsharded table (e.g. ``Null``) created under its own name."""


_ATTRIBUTE_NAME = re.compile(r"[a-z._]+")


def sql_name(name: str) -> str:
    """The SQL string literal of an attribute name (or prefix) of the contract,
    :mod:`modeltel.instrumentation.attributes`. The contract's names are ``[a-z._]`` only, so
    the literal is the name in single quotes; any other text is refused."""
    if not _ATTRIBUTE_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not an attribute name of the contract ([a-z._] only)")
    return quoted(name)


def quote_ident(name: str) -> str:
    """Quote a ClickHouse identifier with backticks."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


@dataclass(frozen=True)
class Layout:
    """How tables are created: database, optional cluster, optional TTL in days."""

    database: str
    cluster: str | None = None
    ttl_days: int | None = None

    @property
    def on_cluster(self) -> str:
        return f" ON CLUSTER {quote_ident(self.cluster)}" if self.cluster else ""

    def local_name(self, name: str) -> str:
        """Name of the table that physically stores rows (``<name>_local`` on a cluster)."""
        return f"{name}_local" if self.cluster else name

    def qualified(self, name: str, *, local: bool = False) -> str:
        table = self.local_name(name) if local else name
        return f"{quote_ident(self.database)}.{quote_ident(table)}"

    def _engine(self, table: Table) -> str:
        if not self.cluster or not table.replicated:
            return f"{table.engine}({table.engine_args})"
        if table.shared:
            path = f"'/clickhouse/tables/all/{self.database}/{table.name}'"
        else:
            path = f"'/clickhouse/tables/{{shard}}/{self.database}/{self.local_name(table.name)}'"
        args = f"{path}, '{{replica}}'" + (f", {table.engine_args}" if table.engine_args else "")
        return f"Replicated{table.engine}({args})"

    def _tail(self, table: Table) -> str:
        if not (self.ttl_days and table.ttl_column):
            return table.tail
        ttl = f"TTL {table.ttl_column} + toIntervalDay({int(self.ttl_days)})"
        head, sep, settings = table.tail.rpartition("SETTINGS")
        return f"{head}{ttl}\n{sep}{settings}" if sep else f"{table.tail}\n{ttl}"

    def create_table(self, table: Table) -> list[str]:
        """Statements creating ``table`` (and its Distributed front on a cluster)."""
        local = table.replicated and not table.shared
        statements = [
            f"CREATE TABLE IF NOT EXISTS "
            f"{self.qualified(table.name, local=local)}{self.on_cluster} "
            f"({table.columns.rstrip().rstrip(',')}\n) ENGINE = {self._engine(table)}\n"
            f"{self._tail(table)}"
        ]
        if self.cluster and local:
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {self.qualified(table.name)}{self.on_cluster} "
                f"AS {self.qualified(table.name, local=True)} "
                f"ENGINE = Distributed({quote_ident(self.cluster)}, {quote_ident(self.database)}, "
                f"{quote_ident(self.local_name(table.name))}, {table.sharding_key})"
            )
        return statements

    def _select(self, view: View) -> str:
        return view.select.format(
            source=self.qualified(view.source, local=view.source_local),
            limits=self.qualified(LIMITS_TABLE),
        )

    def create_view(self, view: View) -> list[str]:
        """Statement creating a materialized view between the local tables."""
        target = self.qualified(view.target, local=view.target_local)
        return [
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {self.qualified(view.name)}{self.on_cluster} "
            f"TO {target} AS\n{self._select(view)}"
        ]

    def modify_view(self, view: View) -> list[str]:
        """Statement replacing the query of an existing materialized view in place (atomic:
        no insert is missed or projected twice)."""
        return [
            f"ALTER TABLE {self.qualified(view.name)}{self.on_cluster} "
            f"MODIFY QUERY\n{self._select(view)}"
        ]

    def drop_view(self, name: str) -> list[str]:
        return [f"DROP VIEW IF EXISTS {self.qualified(name)}{self.on_cluster}"]
