"""Helpers shared by the export tests: result records written into ``ml_results`` and a parser for
what ``/metrics`` serves."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from modeltel.analyzer.base.results import make_results, write_results
from modeltel.analyzer.base.store import Store


def window_ending(end: datetime, hours: float = 1.0) -> dict[str, datetime]:
    return {"window_start": end - timedelta(hours=hours), "window_end": end}


def seed_results(store: Store, records: Iterable[Mapping[str, Any]]) -> None:
    write_results(store, make_results([dict(r) for r in records]))


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page keyed by (name, sorted non-empty labels)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if v != ""))
            out[(sample.name, labels)] = sample.value
    return out


def series(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (n, labels), value in samples(text).items() if n == name}


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
