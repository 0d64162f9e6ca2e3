"""``Analyzer``: the analyses of a store, for programs, the CLI, the API and the loop.

Each analysis is a method ``name(model, version=None, *, window=…) -> DataFrame`` of tidy
result records (:mod:`modeltel.analyzer.results`) that also writes them to ``ml_results``
(``write=False`` to skip); :meth:`Analyzer.analyze` runs every analysis in
:data:`Analyzer.ANALYSES` that this class offers, for every model version with predictions in
the window.

Windows: ``window`` is a :class:`~modeltel.analyzer.windows.Window`, or a duration (``"1h"``,
seconds) — alone it means the trailing window ending at ``end`` (default now); with ``start``
and ``end`` it cuts ``[start, end)`` into aligned fixed windows (hourly, daily …). ``start`` and
``end`` alone are one window. ``last_n`` takes a version's latest N predictions instead.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from modeltel.analyzer.drift.config import DriftConfig, load_drift_config, parse_methods
from modeltel.analyzer.drift.display import histograms as drift_histograms
from modeltel.analyzer.drift.engine import DriftEngine
from modeltel.analyzer.drift.sources import ProductionSource, ReferenceSource, Source, nanos
from modeltel.analyzer.durations import parse_duration
from modeltel.analyzer.errors import ConfigError, ModeltelError, NotFoundError
from modeltel.analyzer.model_analyses import ModelAnalyses
from modeltel.analyzer.performance.methods import HealthAnalyses
from modeltel.analyzer.reference import find_reference
from modeltel.analyzer.results import Result, empty_results, make_results, write_results
from modeltel.analyzer.store import Store
from modeltel.analyzer.windows import Window, fixed_windows, trailing_window, utc

logger = logging.getLogger(__name__)

DEFAULT_WINDOW = "1h"


class Analyzer(ModelAnalyses, HealthAnalyses):
    """Runs analyses against ``store``; ``config`` is the loaded YAML configuration.

    Configuration sections are validated here, so a bad file fails at construction with a
    :class:`ConfigError` naming the key.
    """

    ANALYSES = ("drift", "performance", "service", "quality", "attribution", "multivariate")
    """Analyses :meth:`analyze` runs, in order, when this class has a method of that name."""

    def __init__(self, store: Store, config: Mapping[str, Any] | None = None) -> None:
        self.store = store
        self.config: dict[str, Any] = dict(config or {})
        self.drift_config: DriftConfig = load_drift_config(self.config)
        self._load_health_configs()
        self._load_model_configs()
        self._drift_cache: dict[Any, Any] = {}
        self._engine = DriftEngine(store, self._drift_cache)

    # -- models and windows -----------------------------------------------------------

    def models(self, since: datetime | None = None) -> list[tuple[str, str]]:
        """(model, version) pairs with predictions (since ``since`` when given)."""
        where = "WHERE timestamp >= {since:DateTime64(3)}" if since is not None else ""
        rows = self.store.query_rows(
            f"SELECT model, version FROM ml_predictions {where} "
            "GROUP BY model, version ORDER BY model, version",
            parameters={"since": utc(since).replace(tzinfo=None)} if since is not None else None,
        )
        return [(str(m), str(v)) for m, v in rows]

    def versions(self, model: str) -> list[str]:
        """Versions of ``model`` with predictions, most recent first."""
        rows = self.store.query_rows(
            "SELECT version FROM ml_predictions WHERE model = {model:String} "
            "GROUP BY version ORDER BY max(timestamp) DESC",
            parameters={"model": model},
        )
        return [str(r[0]) for r in rows]

    def windows(
        self,
        window: Window | str | float | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Window]:
        """The windows an analysis covers (see the module docstring)."""
        if isinstance(window, Window):
            return [window]
        if (start is None) != (end is None) and window is None:
            raise ConfigError("give both start and end, or a window duration")
        size = None
        if window is not None:
            size = (
                parse_duration(str(window), name="window")
                if not isinstance(window, (int, float))
                else float(window)
            )
            if size <= 0:
                raise ConfigError("window must be positive")
        if start is not None and end is not None:
            if size is None:
                return [Window(utc(start), utc(end))]
            return fixed_windows(start, end, size)
        now = utc(end) if end is not None else datetime.now(UTC)
        return [trailing_window(now, size or parse_duration(DEFAULT_WINDOW))]

    def last_n_window(self, model: str, version: str, n: int) -> Window:
        """The window holding the latest ``n`` predictions of a version (ties may add a few)."""
        if n <= 0:
            raise ConfigError("last_n must be a positive number of predictions")
        rows = self.store.query_rows(
            "SELECT min(timestamp), max(timestamp), count() FROM "
            "(SELECT timestamp FROM ml_predictions "
            "WHERE model = {model:String} AND version = {version:String} "
            "ORDER BY timestamp DESC LIMIT {n:UInt64})",
            parameters={"model": model, "version": version, "n": n},
        )
        if not rows or not rows[0][2]:
            raise NotFoundError(f"no predictions of {model} version {version}")
        first, last, _ = rows[0]
        end = pd.Timestamp(last).to_pydatetime() + pd.Timedelta(microseconds=1).to_pytimedelta()
        return Window(utc(pd.Timestamp(first).to_pydatetime()), utc(end))

    # -- drift ------------------------------------------------------------------------

    def _reference(
        self, model: str, version: str, name: str, reference_version: str | None
    ) -> Source:
        if reference_version is not None:
            found = find_reference(self.store, model, reference_version, name)
            if found is None or found.version != reference_version:
                raise NotFoundError(f"no reference {name!r} of {model} version {reference_version}")
            return ReferenceSource(model, reference_version, name)
        found = find_reference(self.store, model, version, name)
        if found is None:
            raise NotFoundError(
                f"model {model!r} has no reference {name!r}; upload one with "
                f"`modeltel reference upload {model} FILE --version {version}`"
            )
        return found

    def drift(
        self,
        model: str,
        version: str | None = None,
        *,
        window: Window | str | float | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        last_n: int | None = None,
        reference: str | None = None,
        reference_version: str | None = None,
        baseline_version: str | None = None,
        segment_by: str | None = None,
        methods: list[str] | tuple[str, ...] | None = None,
        write: bool = True,
    ) -> pd.DataFrame:
        """Drift of ``model``'s production data against its reference, as tidy records.

        ``version`` None means every version with predictions (the latest when none has any in
        the window). The reference is the stored reference ``reference`` (config
        ``drift.reference``, default ``default``) of ``reference_version`` (default: the same
        version, else the model's latest reference of that name); ``baseline_version``
        compares with that version's production data over the same window instead.
        ``segment_by`` names a categorical feature: one set of results per value.
        """
        config = self.drift_config.for_model(model)
        name = reference or config.reference
        segment = segment_by or config.segment_by
        chosen = parse_methods(list(methods), "methods") if methods is not None else None
        versions = (
            [version]
            if version is not None
            else self._versions_in(model, window, start, end, last_n)
        )
        run_id = uuid.uuid4().hex[:16]
        records: list[Result] = []
        for ver in versions:
            if last_n is not None:
                windows = [self.last_n_window(model, ver, last_n)]
            else:
                windows = self.windows(window, start=start, end=end)
            rows = self._engine.current_rows(model, ver, windows[0].start, windows[-1].end)
            shared = None
            if baseline_version is None:
                shared = self._engine.prepare(
                    self._reference(model, ver, name, reference_version),
                    config,
                    current_rows=rows,
                    segment_by=segment,
                )
            for win in windows:
                prepared = shared or self._engine.prepare(
                    ProductionSource(model, baseline_version or "", win.start, win.end),
                    config,
                    current_rows=rows,
                    segment_by=segment,
                )
                current = ProductionSource(model, ver, win.start, win.end)
                records += self._engine.run(
                    prepared, current, config, methods=chosen, segment_by=segment
                )
        for record in records:
            record.run_id = run_id
        results = make_results(records) if records else empty_results()
        if write and not results.empty:
            write_results(self.store, results)
        return results

    def _versions_in(
        self,
        model: str,
        window: Window | str | float | None,
        start: datetime | None,
        end: datetime | None,
        last_n: int | None,
    ) -> list[str]:
        all_versions = self.versions(model)
        if not all_versions:
            raise NotFoundError(f"model {model!r} has no predictions")
        if last_n is not None:
            return all_versions[:1]
        windows = self.windows(window, start=start, end=end)
        rows = self.store.query_rows(
            "SELECT DISTINCT version FROM ml_predictions WHERE model = {model:String} "
            "AND timestamp >= fromUnixTimestamp64Nano({start:Int64}) "
            "AND timestamp < fromUnixTimestamp64Nano({end:Int64})",
            parameters={
                "model": model,
                "start": nanos(windows[0].start),
                "end": nanos(windows[-1].end),
            },
        )
        active = {str(r[0]) for r in rows}
        return [v for v in all_versions if v in active] or all_versions[:1]

    def histograms(
        self,
        model: str,
        version: str,
        window: Window | str | float | None = None,
        *,
        reference: str | None = None,
        bins: int = 20,
    ) -> dict[str, dict[str, Any]]:
        """Reference-vs-current bins per feature (:func:`modeltel.analyzer.drift.histograms`)."""
        config = self.drift_config.for_model(model)
        source = self._reference(model, version, reference or config.reference, None)
        win = self.windows(window)[0]
        return drift_histograms(
            self.store,
            model,
            version,
            win,
            reference=source,
            config=config,
            bins=bins,
            engine=self._engine,
        )

    # -- everything -------------------------------------------------------------------

    def analyze(
        self,
        model: str | None = None,
        *,
        window: Window | str | float | None = DEFAULT_WINDOW,
        end: datetime | None = None,
        write: bool = True,
    ) -> pd.DataFrame:
        """Every available analysis for every model version active in the window.

        An analysis that finds nothing to analyze (no reference, no labels) is skipped; one
        that fails on bad data is logged and the others go on.
        """
        win = window if isinstance(window, Window) else self.windows(window, end=end)[0]
        if model is None:
            targets = self.models(since=win.start)
        else:
            targets = [(model, v) for v in self._versions_in(model, win, None, None, None)]
        frames = []
        for name, ver in targets:
            for analysis in self.ANALYSES:
                method = getattr(self, analysis, None)
                if not callable(method):
                    continue
                try:
                    frames.append(method(name, ver, window=win, write=write))
                except NotFoundError as exc:
                    logger.info("%s of %s %s skipped: %s", analysis, name, ver, exc)
                except ModeltelError as exc:
                    logger.warning("%s of %s %s failed: %s", analysis, name, ver, exc)
        frames = [f for f in frames if isinstance(f, pd.DataFrame) and not f.empty]
        if not frames:
            return empty_results()
        return pd.concat(frames, ignore_index=True)
