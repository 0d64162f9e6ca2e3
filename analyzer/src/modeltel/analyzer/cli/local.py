"""The commands' operations on the store itself (no ``--server``).

Each operation opens the store (and migrates it), works, and closes it, so a command holds an
embedded store only while it needs it. The YAML configuration (``--config``, else
``$MODELTEL_CONFIG``) is read before the store is opened, by the operations that use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from modeltel.analyzer.base.store import Store
from modeltel.analyzer.cli.backend import (
    AnalysisQuery,
    Backend,
    DriftQuery,
    ExplainQuery,
    OutlierQuery,
    Records,
    SqlRows,
)


class LocalBackend(Backend):
    """The store at ``clickhouse_url``/``database`` (defaults from the environment)."""

    def __init__(
        self,
        clickhouse_url: str | None,
        database: str | None,
        config_path: str | None = None,
        otel_schema: str | None = None,
    ) -> None:
        self.clickhouse_url = clickhouse_url
        self.database = database
        self.config_path = config_path
        self.otel_schema = otel_schema

    @contextmanager
    def _store(self) -> Iterator[Store]:
        store = Store(self.clickhouse_url, self.database, otel_schema=self.otel_schema)
        try:
            yield store
        finally:
            store.close()

    def _config(self) -> dict[str, Any]:
        from modeltel.analyzer.base.config import load_config

        return load_config(self.config_path)

    def models(self) -> Records:
        from modeltel.analyzer.sql.console import jsonable
        from modeltel.analyzer.web.data import list_models

        with self._store() as store:
            return list(jsonable(list_models(store)))

    def analyze(
        self, model: str | None, *, window: str, end: datetime | None, write: bool
    ) -> Records:
        from modeltel.analyzer.base.results import to_records
        from modeltel.analyzer.orchestration.analyzer import Analyzer

        config = self._config()
        with self._store() as store:
            frame = Analyzer(store, config).analyze(model, window=window, end=end, write=write)
            return to_records(frame)

    def run(self, query: AnalysisQuery) -> Records:
        from modeltel.analyzer.base.results import to_records
        from modeltel.analyzer.orchestration.analyzer import Analyzer

        config = self._config()
        with self._store() as store:
            frame = Analyzer(store, config).run(
                query.kind,
                query.model,
                query.version,
                window=query.window,
                start=query.start,
                end=query.end,
                write=query.write,
                **query.analysis_options(),
            )
            return to_records(frame)

    def drift(self, query: DriftQuery) -> Records:
        from modeltel.analyzer.base.results import to_records
        from modeltel.analyzer.orchestration.analyzer import Analyzer

        config = self._config()
        with self._store() as store:
            analyzer = Analyzer(store, config)
            return to_records(analyzer.drift(query.model, query.version, **query.options()))

    def outliers(self, query: OutlierQuery) -> Records:
        from modeltel.analyzer.orchestration.analyzer import Analyzer
        from modeltel.analyzer.sql.console import jsonable

        config = self._config()
        with self._store() as store:
            frame = Analyzer(store, config).outliers(query.model, query.version, **query.options())
        return list(jsonable(frame.to_dict("records")))

    def explain(self, query: ExplainQuery) -> dict[str, Any]:
        from modeltel.analyzer.orchestration.analyzer import Analyzer

        config = self._config()
        with self._store() as store:
            explanation = Analyzer(store, config).explain(
                query.model, query.version, **query.options()
            )
        return explanation.to_dict()

    def sql(self, query: str, *, max_rows: int, timeout_s: float) -> SqlRows:
        from modeltel.analyzer.sql.console import run_sql

        with self._store() as store:
            result = run_sql(store, query, max_rows=max_rows, timeout_s=timeout_s)
        return SqlRows(result.columns, result.rows, result.truncated, result.max_rows)

    def report_html(
        self, model: str, *, version: str | None, period: str, end: datetime | None
    ) -> str:
        from modeltel.analyzer.report import build_report, render_html

        with self._store() as store:
            report = build_report(store, model, version, period=period, end=end)
        return render_html(report)

    def upload(self, kind: str, model: str, path: Path, options: dict[str, Any]) -> dict[str, Any]:
        from modeltel.analyzer.inputs.labels import upload_labels
        from modeltel.analyzer.inputs.reference import upload_reference

        function: Any = {"reference": upload_reference, "labels": upload_labels}[kind]
        with self._store() as store:
            return dict(function(store, model, path, **options).as_dict())
