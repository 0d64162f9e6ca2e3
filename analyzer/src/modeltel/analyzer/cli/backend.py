"""Where a command's data comes from: the store itself, or a running ``modeltel serve``.

:func:`open_backend` chooses once, from the options :func:`add_backend_options` adds: with
``--server URL`` (or ``$MODELTEL_SERVER``) a :class:`~.remote.ServerBackend` asks the server's
HTTP API; otherwise a :class:`~.local.LocalBackend` opens the store named by
``--clickhouse-url``/``--database`` for the operation and closes it after. Both return the
same shapes (lists of JSON-ready records, :class:`SqlRows`, HTML) and raise the same modeltel
errors, so a command prints the same whichever answers it.
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from modeltel.analyzer.base import settings
from modeltel.analyzer.cli import common

Records = list[dict[str, Any]]


@dataclass(frozen=True)
class SqlRows:
    """The rows of one read-only query; ``truncated`` when ``max_rows`` cut them."""

    columns: list[str]
    rows: list[Any]
    truncated: bool
    max_rows: int | None


@dataclass(frozen=True)
class DriftQuery:
    """``modeltel analyze --only drift``: the options of
    :meth:`modeltel.analyzer.orchestration.analyzer.Analyzer.drift` (``None``: its default)."""

    model: str
    version: str | None = None
    window: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    last_n: int | None = None
    reference: str | None = None
    baseline_version: str | None = None
    segment_by: str | None = None
    methods: list[str] | None = None
    write: bool = True

    def options(self) -> dict[str, Any]:
        """The keyword options (all but ``model`` and ``version``)."""
        return _options(self)


@dataclass(frozen=True)
class AnalysisQuery:
    """``modeltel analyze --only KIND`` for any registered analysis but drift: the arguments
    of :meth:`modeltel.analyzer.orchestration.analyzer.Analyzer.run`."""

    kind: str
    model: str
    version: str | None = None
    window: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    write: bool = True
    segment_by: str | None = None
    """Performance, quality: the segment dimensions, comma-separated (``<kind>.segment_by``)."""

    def analysis_options(self) -> dict[str, Any]:
        """The analysis's own keyword options of ``Analyzer.run`` that were given."""
        return {"segment_by": self.segment_by} if self.segment_by is not None else {}


@dataclass(frozen=True)
class OutlierQuery:
    """``modeltel outliers``: the options of
    :meth:`modeltel.analyzer.orchestration.analyzer.Analyzer.outliers`."""

    model: str
    version: str | None = None
    window: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 20
    method: str = "range"

    def options(self) -> dict[str, Any]:
        """The keyword options (all but ``model`` and ``version``)."""
        return _options(self)


@dataclass(frozen=True)
class ExplainQuery:
    """``modeltel explain``: the options of
    :meth:`modeltel.analyzer.orchestration.analyzer.Analyzer.explain` (``None``: its default)."""

    model: str
    version: str | None = None
    metric: str | None = None
    window: str | None = None
    end: datetime | None = None
    baseline_start: datetime | None = None
    dimensions: list[str] | None = None
    max_values: int = 20
    top: int = 10

    def options(self) -> dict[str, Any]:
        """The keyword options (all but ``model`` and ``version``)."""
        return _options(self)


def _options(query: DriftQuery | OutlierQuery | ExplainQuery) -> dict[str, Any]:
    fields = asdict(query)
    del fields["model"], fields["version"]
    return fields


class Backend(ABC):
    """The operations of the commands that work on a local store and through a server."""

    @abstractmethod
    def models(self) -> Records:
        """Every model version with its volume, labels, health and drift."""

    @abstractmethod
    def analyze(
        self, model: str | None, *, window: str, end: datetime | None, write: bool
    ) -> Records:
        """Run every analysis of ``model`` (default: every active one) over the window ending
        at ``end`` (default now); tidy result records."""

    @abstractmethod
    def drift(self, query: DriftQuery) -> Records:
        """Drift computed now as ``query`` asks; tidy result records."""

    @abstractmethod
    def run(self, query: AnalysisQuery) -> Records:
        """One analysis computed now as ``query`` asks; tidy result records."""

    @abstractmethod
    def outliers(self, query: OutlierQuery) -> Records:
        """The predictions with the most out-of-distribution inputs."""

    @abstractmethod
    def explain(self, query: ExplainQuery) -> dict[str, Any]:
        """Which slices explain a metric's change between two windows: the JSON shape of
        :meth:`modeltel.analyzer.orchestration.explain.Explanation.to_dict`."""

    @abstractmethod
    def sql(self, query: str, *, max_rows: int, timeout_s: float) -> SqlRows:
        """One read-only statement."""

    @abstractmethod
    def report_html(
        self, model: str, *, version: str | None, period: str, end: datetime | None
    ) -> str:
        """The health report of ``model`` over the ``period`` ending at ``end``, as HTML."""

    @abstractmethod
    def upload(self, kind: str, model: str, path: Path, options: dict[str, Any]) -> dict[str, Any]:
        """Store the CSV/Parquet file at ``path`` as ``model``'s reference (``kind``
        ``reference``: ``options`` of :func:`modeltel.analyzer.inputs.reference.upload_reference`)
        or labels (``labels``: :func:`modeltel.analyzer.inputs.labels.upload_labels`); the
        summary."""


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    """``--clickhouse-url``, ``--database`` and ``--server`` (defaults from the environment)."""
    common.add_store_options(parser)
    common.add_server_option(parser)


def open_backend(args: argparse.Namespace) -> Backend:
    """The server named by ``--server`` if any, else the store named by the store options
    (with the ``--config`` of the command, when it has one)."""
    if args.server:
        from modeltel.analyzer.cli.remote import ServerBackend

        return ServerBackend(args.server, settings.api_token())
    from modeltel.analyzer.cli.local import LocalBackend

    return LocalBackend(
        args.clickhouse_url,
        args.database,
        getattr(args, "config", None),
        getattr(args, "otel_schema", None),
    )
