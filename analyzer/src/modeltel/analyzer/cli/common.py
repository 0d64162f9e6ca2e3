"""Options and helpers shared by the commands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from modeltel.analyzer.base import settings
from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.store import Store


def add_store_options(parser: argparse.ArgumentParser) -> None:
    """``--clickhouse-url``, ``--database`` and ``--otel-schema`` (defaults from the
    environment)."""
    parser.add_argument(
        "--clickhouse-url",
        default=None,
        metavar="URL",
        help=f"store: chdb:///abs/dir (embedded) or http(s)://host:8123 "
        f"(default ${settings.MODELTEL_CLICKHOUSE_URL}, else ./{settings.DEFAULT_DATA_DIR})",
    )
    parser.add_argument(
        "--database",
        default=None,
        help=f"database (default ${settings.MODELTEL_DATABASE}, else {settings.DEFAULT_DATABASE})",
    )
    parser.add_argument(
        "--otel-schema",
        default=None,
        choices=settings.OTEL_SCHEMAS,
        help="schema of the otel_* tables: the exporter's map (default) or json tables "
        f"(default ${settings.MODELTEL_OTEL_SCHEMA}, else auto: what the tables have)",
    )


def add_server_option(parser: argparse.ArgumentParser) -> None:
    """``--server URL``: talk to a running ``modeltel serve`` instead of opening the store."""
    parser.add_argument(
        "--server",
        default=os.environ.get(settings.MODELTEL_SERVER),
        metavar="URL",
        help="a running modeltel serve, e.g. http://127.0.0.1:4318 "
        f"(default ${settings.MODELTEL_SERVER})",
    )


def open_store(args: argparse.Namespace, **kwargs: object) -> Store:
    """Open (and migrate) the store named by the command's options."""
    kwargs.setdefault("otel_schema", getattr(args, "otel_schema", None))
    return Store(args.clickhouse_url, args.database, **kwargs)  # type: ignore[arg-type]


@contextmanager
def store(args: argparse.Namespace) -> Iterator[Store]:
    """:func:`open_store`, closed when the block ends."""
    opened = open_store(args)
    try:
        yield opened
    finally:
        opened.close()


def parse_time(text: str, option: str) -> datetime:
    """An ISO 8601 time (naive = UTC); ConfigError naming ``option`` otherwise."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r} is not a time; write e.g. 2026-01-31T12:00") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def fail(message: str) -> None:
    """Print one clear sentence on stderr."""
    print(f"modeltel: error: {message}", file=sys.stderr)


def info(message: str) -> None:
    print(message, file=sys.stderr)
