"""How long the store keeps its rows (the ``retention:`` section), applied as ClickHouse TTL,
and what each table costs (``docs/retention.md``)::

    retention:
      raw: 7d            # otel_* spans, logs and metrics
      predictions: 90d   # ml_predictions, ml_features, ml_attributions, ml_labels
      results: forever   # ml_results (the default)

Every key is optional and defaults to ``forever`` (no TTL). A duration becomes
``TTL <time column> + toInterval<Unit>(n)`` in the largest unit that divides it (as the
collector-contrib clickhouseexporter writes its ``ttl``). Tables partitioned by time also get
``ttl_only_drop_parts = 1``: ClickHouse drops a part once all its rows are past the TTL instead
of rewriting it. ``ml_labels`` has no time partitions, so its expired rows are removed by merges.
Other tables (references and their profiles, limits, migrations, ingest issues, latest
results) are not managed: they keep their data.

:func:`plan` compares the configuration with what ``system.tables.engine_full`` shows and
returns only the statements that change something, so applying the same configuration twice
runs nothing. On a cluster the statements run ``ON CLUSTER`` on the ``_local`` tables.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from modeltel.analyzer.base.config import check_keys, section
from modeltel.analyzer.base.durations import parse_duration
from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.schema.attributions import ML_ATTRIBUTIONS
from modeltel.analyzer.base.schema.layout import Layout, quote_ident
from modeltel.analyzer.base.schema.ml import ML_FEATURES, ML_LABELS, ML_PREDICTIONS, ML_RESULTS
from modeltel.analyzer.base.schema.otel import OTEL_TABLES
from modeltel.analyzer.base.store import Store

logger = logging.getLogger(__name__)

NAME = "retention"
FOREVER = "forever"
DROP_PARTS = "ttl_only_drop_parts"


@dataclass(frozen=True)
class Retention:
    """Seconds each group of tables keeps its rows; ``None`` keeps them for ever."""

    raw: int | None = None
    predictions: int | None = None
    results: int | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> Retention:
        """The ``retention`` section of ``config``; ConfigError naming the key when a key is
        unknown or a value is neither a duration nor ``forever``."""
        raw = section(dict(config or {}), NAME)
        groups = [f.name for f in fields(cls)]
        check_keys(raw, groups, NAME)
        return cls(**{key: _seconds(value, f"{NAME}.{key}") for key, value in raw.items()})

    def keep(self, group: str) -> int | None:
        """Seconds ``group`` keeps its rows (``None``: for ever)."""
        value: int | None = getattr(self, group)
        return value


def _seconds(value: Any, path: str) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() == FOREVER):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigError(
            f"config key {path} must be a duration like 7d, 12h or forever, got {value!r}"
        )
    try:
        seconds = parse_duration(str(value), name=f"config key {path}")
    except ConfigError as exc:
        raise ConfigError(
            f"config key {path} must be a duration like 7d, 12h or forever, got {value!r}"
        ) from exc
    if seconds < 1:
        raise ConfigError(
            f"config key {path} must be at least 1s, got {value!r}; write forever to keep all rows"
        )
    return round(seconds)


_UNITS = (("Day", "d", 86400), ("Hour", "h", 3600), ("Minute", "m", 60))


def interval(seconds: int) -> str:
    """ClickHouse's text of an interval of ``seconds``, in the largest unit dividing it."""
    for unit, _, size in _UNITS:
        if seconds % size == 0:
            return f"toInterval{unit}({seconds // size})"
    return f"toIntervalSecond({seconds})"


def duration_text(seconds: int | None) -> str:
    """``7d``, ``36h``, ``90m``, ``45s`` or ``forever``."""
    if seconds is None:
        return FOREVER
    for _, short, size in _UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{short}"
    return f"{seconds}s"


@dataclass(frozen=True)
class Kept:
    """A table under retention: its group, the time its rows age from, and whether it is
    partitioned by time (then whole parts are dropped: ``ttl_only_drop_parts = 1``)."""

    table: str
    group: str
    column: str
    drop_parts: bool = True

    def ttl(self, seconds: int) -> str:
        """The TTL expression as ClickHouse shows it in ``engine_full``."""
        return f"{self.column} + {interval(seconds)}"


KEPT: tuple[Kept, ...] = (
    *(Kept(t.name, "raw", t.ttl_column) for t in OTEL_TABLES if t.ttl_column),
    *(
        Kept(t.name, "predictions", t.ttl_column)
        for t in (ML_PREDICTIONS, ML_FEATURES, ML_ATTRIBUTIONS)
        if t.ttl_column
    ),
    Kept(ML_LABELS.name, "predictions", "toDateTime(timestamp)", drop_parts=False),
    Kept(ML_RESULTS.name, "results", "toDateTime(window_start)"),
)
"""Every table retention manages, with its group (``raw``, ``predictions``, ``results``)."""

GROUP_OF = {kept.table: kept.group for kept in KEPT}


@dataclass(frozen=True)
class Applied:
    """What a table holds now: its TTL expression (``None``: none) and whether
    ``ttl_only_drop_parts`` is on."""

    ttl: str | None
    drop_parts: bool


_TTL = re.compile(r"\sTTL\s+(.+?)(?:\s+SETTINGS\s|$)", re.S)
_DROP_PARTS = re.compile(rf"\b{DROP_PARTS}\s*=\s*1\b")


def parse_engine(engine_full: str) -> Applied:
    """The TTL and ``ttl_only_drop_parts`` of a table from its ``engine_full``."""
    found = _TTL.search(engine_full)
    settings = engine_full.rpartition(" SETTINGS ")[2] if " SETTINGS " in engine_full else ""
    return Applied(
        ttl=found.group(1).strip() if found else None,
        drop_parts=bool(_DROP_PARTS.search(settings)),
    )


_APPLIED_TTL = re.compile(r"^(.+?) \+ toInterval(Second|Minute|Hour|Day|Week)\((\d+)\)$")
_SECONDS = {"Second": 1, "Minute": 60, "Hour": 3600, "Day": 86400, "Week": 604800}


def applied_text(ttl: str | None) -> str:
    """A TTL for people: ``7d`` for one of ours, ``forever`` for none, else the expression."""
    if ttl is None:
        return FOREVER
    found = _APPLIED_TTL.match(ttl)
    if not found:
        return ttl
    return duration_text(int(found.group(3)) * _SECONDS[found.group(2)])


def applied(store: Store) -> dict[str, Applied]:
    """What each managed table of ``store`` holds now (tables not created are left out)."""
    names = [store.layout.local_name(kept.table) for kept in KEPT]
    rows = store.query_rows(
        "SELECT name, engine_full FROM system.tables "
        "WHERE database = {db:String} AND name IN {names:Array(String)}",
        {"db": store.database, "names": names},
    )
    local = {store.layout.local_name(kept.table): kept.table for kept in KEPT}
    return {local[str(name)]: parse_engine(str(engine)) for name, engine in rows}


def plan(layout: Layout, retention: Retention, current: Mapping[str, Applied]) -> list[str]:
    """The ALTER statements that bring the tables of ``current`` to ``retention`` (none when
    they already hold it)."""
    out: list[str] = []
    for kept in KEPT:
        now = current.get(kept.table)
        if now is None:
            continue
        target = f"ALTER TABLE {layout.qualified(kept.table, local=True)}{layout.on_cluster}"
        seconds = retention.keep(kept.group)
        if seconds is None:
            if now.ttl is not None:
                out.append(f"{target} REMOVE TTL")
            continue
        if kept.drop_parts and not now.drop_parts:
            out.append(f"{target} MODIFY SETTING {DROP_PARTS} = 1")
        if now.ttl != kept.ttl(seconds):
            out.append(f"{target} MODIFY TTL {kept.ttl(seconds)}")
    return out


def apply(store: Store, retention: Retention) -> list[str]:
    """Run :func:`plan` on ``store``; return the statements run."""
    statements = plan(store.layout, retention, applied(store))
    for statement in statements:
        store.command(statement)
        logger.info("retention: %s", statement)
    return statements


@dataclass(frozen=True)
class TableSize:
    """One table: its retention group (``""`` when not managed), applied TTL, active rows and
    bytes (compressed, as stored, and uncompressed)."""

    table: str
    group: str
    ttl: str | None
    rows: int
    compressed: int
    uncompressed: int


def table_sizes(store: Store) -> list[TableSize]:
    """Every MergeTree table of ``store``'s database with its size from ``system.parts``
    (active parts; on a cluster, one replica of every shard), largest first."""
    layout = store.layout
    parts = (
        f"cluster({quote_ident(layout.cluster)}, system.parts)"
        if layout.cluster
        else "system.parts"
    )
    rows = store.query_rows(
        f"""SELECT t.name, t.engine_full, p.rows, p.compressed, p.uncompressed
FROM system.tables AS t
LEFT JOIN
(
    SELECT table, sum(rows) AS rows, sum(data_compressed_bytes) AS compressed,
           sum(data_uncompressed_bytes) AS uncompressed
    FROM {parts}
    WHERE database = {{db:String}} AND active
    GROUP BY table
) AS p ON p.table = t.name
WHERE t.database = {{db:String}} AND t.engine LIKE '%MergeTree'
ORDER BY p.compressed DESC, t.name""",
        {"db": store.database},
    )
    out = []
    for name, engine, count, compressed, uncompressed in rows:
        table = str(name).removesuffix("_local") if layout.cluster else str(name)
        out.append(
            TableSize(
                table=table,
                group=GROUP_OF.get(table, ""),
                ttl=parse_engine(str(engine)).ttl,
                rows=int(count),
                compressed=int(compressed),
                uncompressed=int(uncompressed),
            )
        )
    return out


def human_bytes(count: int) -> str:
    """``0 B``, ``512 B``, ``1.5 KiB``, ``3.2 MiB`` … up to TiB."""
    size, units = float(count), ["B", "KiB", "MiB", "GiB", "TiB"]
    while size >= 1024 and len(units) > 1:
        size, units = size / 1024, units[1:]
    return f"{count} B" if units[0] == "B" else f"{size:.1f} {units[0]}"


def totals(sizes: Sequence[TableSize]) -> tuple[int, int, int]:
    """(rows, compressed, uncompressed) of ``sizes`` together."""
    return (
        sum(s.rows for s in sizes),
        sum(s.compressed for s in sizes),
        sum(s.uncompressed for s in sizes),
    )
