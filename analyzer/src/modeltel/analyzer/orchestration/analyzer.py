"""``Analyzer``: the analyses of a store, for programs, the CLI, the API and the loop.

:meth:`Analyzer.run` computes one analysis of the registry
(:data:`modeltel.analyzer.analyses.ANALYSES`) for a model over windows and returns tidy result
records (:mod:`modeltel.analyzer.base.results`), also written to ``ml_results`` (``write=False`` to
skip); :meth:`drift`, :meth:`performance`, :meth:`service`, :meth:`quality`,
:meth:`attribution` and :meth:`multivariate` are its named entry points, and
:meth:`analyze` runs every registered analysis for every model version with predictions in
the window. :meth:`results_for` computes one analysis for many model versions over one window
in one pass, as the analysis loop runs it, and leaves the writing to its caller.

Windows: ``window`` is a :class:`~modeltel.analyzer.base.windows.Window`, or a duration (``"1h"``,
seconds) — alone it means the trailing window ending at ``end`` (default now); with ``start``
and ``end`` it cuts ``[start, end)`` into aligned fixed windows (hourly, daily …). ``start`` and
``end`` alone are one window. ``last_n`` takes a version's latest N predictions instead.
``version`` None means every version with predictions in the windows (the latest when none
has any); a named version must have predictions.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from modeltel.analyzer.analyses import ANALYSES, analysis_of, multivariate, quality
from modeltel.analyzer.analyses.drift import find_drift_reference
from modeltel.analyzer.analyses.drift.display import histograms as drift_histograms
from modeltel.analyzer.analyses.drift.engine import DriftEngine
from modeltel.analyzer.analyses.multivariate.analysis import OUTLIER_COLUMNS
from modeltel.analyzer.base import listings
from modeltel.analyzer.base.analysis import Run, Target
from modeltel.analyzer.base.config import Section
from modeltel.analyzer.base.durations import parse_duration
from modeltel.analyzer.base.errors import ConfigError, ModeltelError, NotFoundError
from modeltel.analyzer.base.query import nanos
from modeltel.analyzer.base.results import Result, empty_results, make_results, write_results
from modeltel.analyzer.base.row_scan import RowRequest, RowScans
from modeltel.analyzer.base.sources import ProductionSource, Source
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window, fixed_windows, trailing_window, utc
from modeltel.analyzer.inputs.labels import LabelUpload, upload_labels
from modeltel.analyzer.orchestration.explain import Explanation, explain

logger = logging.getLogger(__name__)

DEFAULT_WINDOW = "1h"
OUTLIER_METHODS = ("range", "multivariate")
"""How :meth:`Analyzer.outliers` scores predictions: features outside the reference's central
range (data quality), or the PCA reconstruction error of the whole input (multivariate)."""

WindowArg = Window | str | float | None


def entry_point(kind: str, doc: str) -> Callable[..., pd.DataFrame]:
    """A named entry point of the Analyzer: :meth:`Analyzer.run` of ``kind`` over the window
    arguments (``model``, ``version``, ``window``, ``start``, ``end``, ``write``)."""

    def run(
        self: Analyzer,
        model: str,
        version: str | None = None,
        *,
        window: WindowArg = None,
        start: datetime | None = None,
        end: datetime | None = None,
        write: bool = True,
    ) -> pd.DataFrame:
        return self.run(kind, model, version, window=window, start=start, end=end, write=write)

    run.__name__ = run.__qualname__ = kind
    run.__doc__ = doc
    return run


class Analyzer:
    """Runs analyses against ``store``; ``config`` is the loaded YAML configuration.

    Every registered analysis's configuration section is validated here, so a bad file fails
    at construction with a :class:`ConfigError` naming the key.
    """

    def __init__(self, store: Store, config: Mapping[str, Any] | None = None) -> None:
        self.store = store
        self.config: dict[str, Any] = dict(config or {})
        self.settings: dict[str, Section] = {
            kind: analysis.settings.load(self.config) for kind, analysis in ANALYSES.items()
        }
        self._state: dict[str, dict[Any, Any]] = {kind: {} for kind in ANALYSES}
        self._scans = RowScans(companions=self._row_requests)
        self._failing: dict[str, set[Target]] = {kind: set() for kind in ANALYSES}
        """Per kind, the targets whose latest computation raised: computed alone."""
        for kind, analysis in ANALYSES.items():
            if analysis.validate is not None:
                analysis.validate(store, self.settings[kind], self._run(kind))

    def _run(self, kind: str, write: bool = True) -> Run:
        return Run(self._state.setdefault(kind, {}), storing=write, scans=self._scans)

    def _row_requests(self, model: str) -> dict[str, RowRequest]:
        """The row requests of every analysis configured for ``model``, by kind."""
        requests: dict[str, RowRequest] = {}
        for kind, analysis in ANALYSES.items():
            if analysis.row_request is not None:
                request = analysis.row_request(
                    self.store, self.settings[kind], self._run(kind), model
                )
                if request is not None:
                    requests[kind] = request
        return requests

    def __getattr__(self, name: str) -> Any:
        """``<kind>_config``: the loaded settings of the analysis ``kind``."""
        settings = self.__dict__.get("settings", {})
        if name.endswith("_config") and name.removesuffix("_config") in settings:
            return settings[name.removesuffix("_config")]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- models and windows -----------------------------------------------------------

    def models(self, since: datetime | None = None) -> list[tuple[str, str]]:
        """(model, version) pairs with predictions (since ``since`` when given)."""
        return listings.model_versions(self.store, utc(since) if since is not None else None)

    def versions(self, model: str) -> list[str]:
        """Versions of ``model`` with predictions, most recent first."""
        return listings.versions(self.store, model)

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
        """The window holding the latest ``n`` predictions of a version (ties may add a few):
        from the first of them to 1 ms after the last, since results keep their windows to the
        millisecond (a window of predictions made in one millisecond stays non-empty)."""
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
        end = pd.Timestamp(last).to_pydatetime() + pd.Timedelta(milliseconds=1).to_pytimedelta()
        return Window(utc(pd.Timestamp(first).to_pydatetime()), utc(end))

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
        active = listings.versions_between(
            self.store, model, nanos(windows[0].start), nanos(windows[-1].end)
        )
        return [v for v in all_versions if v in active] or all_versions[:1]

    def _targets(
        self,
        model: str,
        version: str | None,
        window: WindowArg,
        start: datetime | None,
        end: datetime | None,
        last_n: int | None = None,
    ) -> list[tuple[str, list[Window]]]:
        """(version, windows) pairs an analysis of ``model`` covers."""
        if version is not None:
            known = self.store.query_rows(
                "SELECT count() > 0 FROM (SELECT 1 FROM ml_predictions WHERE model = {m:String} "
                "AND version = {v:String} LIMIT 1)",
                parameters={"m": model, "v": version},
            )[0][0]
            if not known:
                raise NotFoundError(f"model {model!r} has no predictions of version {version!r}")
        versions = (
            [version]
            if version is not None
            else self._versions_in(model, window, start, end, last_n)
        )
        if last_n is not None:
            return [(ver, [self.last_n_window(model, ver, last_n)]) for ver in versions]
        windows = self.windows(window, start=start, end=end)
        return [(ver, windows) for ver in versions]

    # -- analyses ---------------------------------------------------------------------

    def run(
        self,
        kind: str,
        model: str,
        version: str | None = None,
        *,
        window: WindowArg = None,
        start: datetime | None = None,
        end: datetime | None = None,
        last_n: int | None = None,
        write: bool = True,
        **options: Any,
    ) -> pd.DataFrame:
        """The analysis ``kind`` of ``model`` over the windows (see the module docstring), as
        tidy records; ``options`` are the analysis's own (:meth:`drift`, :meth:`performance`).
        """
        analysis = analysis_of(kind)
        run = self._run(kind, write)
        by_windows: dict[tuple[Window, ...], list[Target]] = {}
        for ver, windows in self._targets(model, version, window, start, end, last_n):
            by_windows.setdefault(tuple(windows), []).append((model, ver))
        results: list[Result] = []
        for spans, targets in by_windows.items():
            results += analysis.compute(
                self.store, targets, spans, self.settings[kind], run, **options
            )
        run_id = uuid.uuid4().hex[:16]
        for result in results:
            result.run_id = run_id
        frame = make_results(results) if results else empty_results()
        if write and not frame.empty:
            write_results(self.store, frame)
        return frame

    def results_for(
        self, kind: str, targets: Sequence[Target], window: Window
    ) -> tuple[list[Result], dict[Target, Exception]]:
        """The records of the analysis ``kind`` for ``targets`` over ``window``, to be stored
        (``ml_results`` is not written), and the error of each target that raised
        (:class:`NotFoundError` when it has nothing to compute yet).

        The targets are computed in one pass (one ``compute`` call); when it raises, each
        alone, so that one target's error costs the others nothing but time. A target that
        raised is computed alone in the next calls until it succeeds. Each target's records
        are those :meth:`run` gives for it alone.
        """
        analysis = analysis_of(kind)
        run = self._run(kind)
        settings = self.settings[kind]
        failing = self._failing.setdefault(kind, set())
        together = [t for t in targets if t not in failing]
        alone = [t for t in targets if t in failing]
        results: list[Result] = []
        if together:
            try:
                results += analysis.compute(self.store, together, (window,), settings, run)
            except Exception:
                alone = list(targets)
        errors: dict[Target, Exception] = {}
        for target in alone:
            try:
                results += analysis.compute(self.store, [target], (window,), settings, run)
                failing.discard(target)
            except Exception as exc:
                errors[target] = exc
                failing.add(target)
        return results, errors

    def drift(
        self,
        model: str,
        version: str | None = None,
        *,
        window: WindowArg = None,
        start: datetime | None = None,
        end: datetime | None = None,
        last_n: int | None = None,
        reference: str | None = None,
        reference_version: str | None = None,
        baseline_version: str | None = None,
        reference_window: Window | None = None,
        segment_by: str | None = None,
        methods: list[str] | tuple[str, ...] | None = None,
        write: bool = True,
    ) -> pd.DataFrame:
        """Drift of ``model``'s production data against its reference, as tidy records.

        The reference is the stored reference ``reference`` (config ``drift.reference``,
        default ``default``) of ``reference_version`` (default: the same version, else the
        model's latest reference of that name); ``baseline_version`` compares with that
        version's production data over the same window instead. ``reference_window`` makes
        the production data of that window (of ``baseline_version``, default the same
        version) the reference of every window, e.g. the period just before. ``segment_by``
        names a categorical feature: one set of results per value. ``methods`` replaces the
        configured ones (see :mod:`modeltel.analyzer.analyses.drift.methods`).
        """
        return self.run(
            "drift",
            model,
            version,
            window=window,
            start=start,
            end=end,
            last_n=last_n,
            write=write,
            reference=reference,
            reference_version=reference_version,
            baseline_version=baseline_version,
            reference_window=reference_window,
            segment_by=segment_by,
            methods=methods,
        )

    def performance(
        self,
        model: str,
        version: str | None = None,
        *,
        window: WindowArg = None,
        start: datetime | None = None,
        end: datetime | None = None,
        last_n: int | None = None,
        sliding: bool | int | tuple[int, int] | None = None,
        late_labels: bool = True,
        segment_by: str | Sequence[str] | None = None,
        write: bool = True,
    ) -> pd.DataFrame:
        """Realized performance, label coverage and delay, and CBPE estimates.

        ``sliding`` computes windows of N predictions every S instead of time windows
        (``True``: ``performance.window_size``/``sliding_step``). When writing, aligned windows
        of the same size whose predictions received labels since the previous computation are
        recomputed too (their ``ml_results`` rows are replaced). ``segment_by`` names segment
        dimensions (config ``performance.segment_by``): every record per segment value too.
        """
        return self.run(
            "performance",
            model,
            version,
            window=window,
            start=start,
            end=end,
            last_n=last_n,
            write=write,
            sliding=sliding,
            late_labels=late_labels,
            segment_by=segment_by,
        )

    service = entry_point(
        "service",
        """Latency percentiles, throughput, errors, volume against its baseline, staleness
        and predicted class shares (see :mod:`modeltel.analyzer.analyses.service`).""",
    )
    quality = entry_point(
        "quality",
        """Missing, wrong-type, out-of-range and new-category ratios per feature, features
        appeared/vanished, and the outlier ratio (see
        :mod:`modeltel.analyzer.analyses.quality`).""",
    )
    attribution = entry_point(
        "attribution",
        """Mean |attribution| and rank per feature, and how far the ranking moved from the
        reference period (Spearman ρ, top-k overlap; see
        :mod:`modeltel.analyzer.analyses.attribution`).
        NotFoundError when the version has no attributions at all.""",
    )
    multivariate = entry_point(
        "multivariate",
        """PCA reconstruction error per window against the reference's own variability, and
        the share of outlier predictions (see :mod:`modeltel.analyzer.analyses.multivariate`).""",
    )

    def analyze(
        self,
        model: str | None = None,
        *,
        window: WindowArg = DEFAULT_WINDOW,
        end: datetime | None = None,
        write: bool = True,
    ) -> pd.DataFrame:
        """Every registered analysis for every model version active in the window.

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
            for kind in ANALYSES:
                try:
                    frames.append(self.run(kind, name, ver, window=win, write=write))
                except NotFoundError as exc:
                    logger.info("%s of %s %s skipped: %s", kind, name, ver, exc)
                except ModeltelError as exc:
                    logger.warning("%s of %s %s failed: %s", kind, name, ver, exc)
        frames = [f for f in frames if not f.empty]
        if not frames:
            return empty_results()
        return pd.concat(frames, ignore_index=True)

    # -- for people: histograms and outliers ------------------------------------------

    def histograms(
        self,
        model: str,
        version: str,
        window: WindowArg = None,
        *,
        reference: str | None = None,
        reference_window: Window | None = None,
        bins: int = 20,
    ) -> dict[str, dict[str, Any]]:
        """Reference-vs-current bins per feature
        (:func:`modeltel.analyzer.analyses.drift.histograms`); with ``reference_window`` the
        reference side is the version's production data of that window."""
        config = self._settings("drift", model)
        source: Source = (
            ProductionSource(model, version, reference_window.start, reference_window.end)
            if reference_window is not None
            else find_drift_reference(self.store, model, version, reference or config.reference)
        )
        return drift_histograms(
            self.store,
            model,
            version,
            self.windows(window)[0],
            reference=source,
            config=config,
            bins=bins,
            engine=DriftEngine(self.store, self._state.setdefault("drift", {})),
        )

    def outliers(
        self,
        model: str,
        version: str | None = None,
        *,
        window: WindowArg = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 20,
        method: str = "range",
    ) -> pd.DataFrame:
        """The worst predictions of the window, worst first (columns ``version``,
        ``prediction_id``, ``timestamp``, ``score``, ``severity``, ``features``).

        ``method="range"``: the features outside the reference's central range or holding an
        unseen category (data quality); ``method="multivariate"``: the PCA reconstruction
        error of the whole input, severity being the error over the reference's per-row
        outlier threshold.
        """
        if method not in OUTLIER_METHODS:
            raise ConfigError(
                f"unknown outlier method {method!r}; use {' or '.join(OUTLIER_METHODS)}"
            )
        if limit <= 0:
            raise ConfigError("limit must be a positive number of predictions")
        frames = []
        for ver, windows in self._targets(model, version, window, start, end):
            whole = Window(windows[0].start, windows[-1].end)
            if method == "range":
                frame = quality.outliers(
                    self.store,
                    model,
                    ver,
                    whole,
                    limit=limit,
                    config=self._settings("quality", model),
                )
            else:
                frame = multivariate.outliers(
                    self.store,
                    model,
                    ver,
                    whole,
                    limit=limit,
                    config=self._settings("multivariate", model),
                    cache=self._state.setdefault("multivariate", {}),
                )
            frames.append(frame.assign(version=ver))
        frames = [f for f in frames if not f.empty]
        if not frames:
            return pd.DataFrame({c: [] for c in ("version", *OUTLIER_COLUMNS)})
        out = pd.concat(frames, ignore_index=True)
        out = out.sort_values(["score", "severity"], ascending=False, kind="stable").head(limit)
        return out[["version", *[c for c in out.columns if c != "version"]]].reset_index(drop=True)

    def explain(
        self,
        model: str,
        version: str | None = None,
        *,
        metric: str | None = None,
        window: str | float | None = None,
        end: datetime | None = None,
        baseline_start: datetime | None = None,
        dimensions: Sequence[str] | None = None,
        max_values: int = 20,
        top: int = 10,
    ) -> Explanation:
        """Which slices of the traffic explain the change of ``metric`` (see
        :mod:`modeltel.analyzer.orchestration.explain`) between the window of length
        ``window`` (default 1h) ending at ``end`` (default now) and the one before it, or the
        one as long starting at ``baseline_start`` (a whole number of windows earlier).
        ``version`` None: the version with predictions in the window (the latest)."""
        size = parse_duration(str(window or DEFAULT_WINDOW), name="window")
        if size <= 0:
            raise ConfigError("window must be positive")
        after = trailing_window(utc(end) if end is not None else datetime.now(UTC), size)
        step = timedelta(seconds=size)
        if baseline_start is None:
            before = Window(after.start - step, after.start)
        else:
            before = Window(utc(baseline_start), utc(baseline_start) + step)
            gap = (after.start - before.start).total_seconds()
            if before.end > after.start or abs(gap / size - round(gap / size)) > 1e-9:
                raise ConfigError(
                    "the baseline must start a whole number of windows before the window "
                    f"({after.start.isoformat()}) and end by its start"
                )
        chosen = self._targets(model, version, after, None, None)[0][0]
        return explain(
            self.store,
            model,
            chosen,
            before,
            after,
            metric=metric,
            config=self._settings("performance", model),
            names=dimensions,
            max_values=max_values,
            top=top,
        )

    def _settings(self, kind: str, model: str) -> Any:
        return self.settings[kind].for_model(model)

    # -- labels -----------------------------------------------------------------------

    def upload_labels(
        self, model: str, data: pd.DataFrame | str | Path | bytes, **options: Any
    ) -> LabelUpload:
        """Bulk-load labels (see :func:`modeltel.analyzer.inputs.labels.upload_labels`)."""
        return upload_labels(self.store, model, data, **options)
