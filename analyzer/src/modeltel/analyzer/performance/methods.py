"""The :class:`~modeltel.analyzer.Analyzer` methods of labels, performance, service health and
data quality (a mixin: the Analyzer provides ``store``, ``config``, ``windows()``,
``_versions_in()`` and ``last_n_window()``).

Every method takes ``model``, ``version`` (None: every version with predictions in the
windows) and the window arguments of :meth:`Analyzer.windows`, returns tidy result records
(:mod:`modeltel.analyzer.results`) and writes them to ``ml_results`` unless ``write=False``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from modeltel.analyzer.errors import ConfigError, NotFoundError
from modeltel.analyzer.labels import LabelUpload, upload_labels
from modeltel.analyzer.performance.analysis import (
    compute_performance,
    last_computed,
    late_label_windows,
)
from modeltel.analyzer.performance.config import PerformanceConfig, load_performance_config
from modeltel.analyzer.performance.queries import SlidingWindows, TimeWindows, nanos
from modeltel.analyzer.quality import QualityConfig, compute_quality, load_quality_config
from modeltel.analyzer.quality import outliers as list_outliers
from modeltel.analyzer.results import Result, empty_results, make_results, write_results
from modeltel.analyzer.service import ServiceConfig, compute_service, load_service_config
from modeltel.analyzer.windows import Window

if TYPE_CHECKING:
    from modeltel.analyzer.store import Store

logger = logging.getLogger(__name__)

LATE_LABEL_MARGIN = timedelta(minutes=10)
"""Labels received this long before the previous computation are looked at again, so that a
label stored while that computation ran is never missed (recomputing is idempotent)."""

WindowArg = Window | str | float | None


class HealthAnalyses:
    """Labels, performance, service and quality methods of the Analyzer."""

    store: Store
    config: dict[str, Any]

    if TYPE_CHECKING:

        def windows(
            self,
            window: WindowArg = None,
            *,
            start: datetime | None = None,
            end: datetime | None = None,
        ) -> list[Window]: ...

        def _versions_in(
            self,
            model: str,
            window: WindowArg,
            start: datetime | None,
            end: datetime | None,
            last_n: int | None,
        ) -> list[str]: ...

        def last_n_window(self, model: str, version: str, n: int) -> Window: ...

    def _load_health_configs(self) -> None:
        """Validate the ``performance``, ``service`` and ``quality`` sections (fail early)."""
        self.performance_config: PerformanceConfig = load_performance_config(self.config)
        self.service_config: ServiceConfig = load_service_config(self.config)
        self.quality_config: QualityConfig = load_quality_config(self.config)

    def _targets(
        self,
        model: str,
        version: str | None,
        window: WindowArg,
        start: datetime | None,
        end: datetime | None,
        last_n: int | None = None,
    ) -> list[tuple[str, list[Window]]]:
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
        out = []
        for ver in versions:
            if last_n is not None:
                out.append((ver, [self.last_n_window(model, ver, last_n)]))
            else:
                out.append((ver, self.windows(window, start=start, end=end)))
        return out

    def _finish(self, records: list[Result], write: bool) -> pd.DataFrame:
        run_id = uuid.uuid4().hex[:16]
        for record in records:
            record.run_id = run_id
        results = make_results(records) if records else empty_results()
        if write and not results.empty:
            write_results(self.store, results)
        return results

    # -- labels ----------------------------------------------------------------------------

    def upload_labels(
        self, model: str, data: pd.DataFrame | str | Path | bytes, **options: Any
    ) -> LabelUpload:
        """Bulk-load labels (see :func:`modeltel.analyzer.labels.upload_labels`)."""
        return upload_labels(self.store, model, data, **options)

    # -- performance -----------------------------------------------------------------------

    def _sliding(self, sliding: Any, config: PerformanceConfig) -> tuple[int, int] | None:
        if sliding is None or sliding is False:
            return None
        if sliding is True:
            if config.window_size is None:
                raise ConfigError(
                    "sliding windows need a size: pass (size, step) or set "
                    "performance.window_size in the config"
                )
            return config.window_size, config.sliding_step or config.window_size
        if isinstance(sliding, int):
            return sliding, sliding
        if isinstance(sliding, Sequence) and len(sliding) == 2:
            return int(sliding[0]), int(sliding[1])
        raise ConfigError("sliding must be True, a window size, or (size, step)")

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
        write: bool = True,
    ) -> pd.DataFrame:
        """Realized performance, label coverage and delay, and CBPE estimates.

        ``sliding`` computes windows of N predictions every S instead of time windows
        (``True``: ``performance.window_size``/``sliding_step``). When writing, aligned windows
        of the same size whose predictions received labels since the previous computation are
        recomputed too (their ``ml_results`` rows are replaced).
        """
        config = self.performance_config.for_model(model)
        chosen = self._sliding(sliding, config)
        records: list[Result] = []
        for ver, windows in self._targets(model, version, window, start, end, last_n):
            since = last_computed(self.store, model, ver) if write and late_labels else None
            if chosen is not None:
                spec: TimeWindows | SlidingWindows = SlidingWindows(
                    chosen[0], chosen[1], nanos(windows[0].start), nanos(windows[-1].end)
                )
            else:
                spec = TimeWindows.from_windows(windows)
            records += compute_performance(self.store, model, ver, spec, config)
            if since is not None and chosen is None:
                records += self._late_labels(model, ver, windows, since, config)
        return self._finish(records, write)

    def _late_labels(
        self,
        model: str,
        version: str,
        windows: list[Window],
        since: datetime,
        config: PerformanceConfig,
    ) -> list[Result]:
        size = windows[0].seconds
        done = {(nanos(w.start), nanos(w.end)) for w in windows}
        late = [
            b
            for b in late_label_windows(self.store, model, version, size, since - LATE_LABEL_MARGIN)
            if b not in done
        ]
        if not late:
            return []
        logger.info("recomputing %d window(s) of %s/%s with late labels", len(late), model, version)
        size_ns = late[0][1] - late[0][0]
        spec = TimeWindows(0, size_ns, tuple(start // size_ns for start, _ in late))
        return compute_performance(self.store, model, version, spec, config)

    # -- service and quality ---------------------------------------------------------------

    def service(
        self,
        model: str,
        version: str | None = None,
        *,
        window: WindowArg = None,
        start: datetime | None = None,
        end: datetime | None = None,
        write: bool = True,
    ) -> pd.DataFrame:
        """Latency percentiles, throughput, errors, volume against its baseline, staleness and
        predicted class shares (see :mod:`modeltel.analyzer.service`)."""
        records: list[Result] = []
        for ver, windows in self._targets(model, version, window, start, end):
            config = self.service_config.for_model(model)
            records += compute_service(self.store, model, ver, windows, config)
        return self._finish(records, write)

    def quality(
        self,
        model: str,
        version: str | None = None,
        *,
        window: WindowArg = None,
        start: datetime | None = None,
        end: datetime | None = None,
        write: bool = True,
    ) -> pd.DataFrame:
        """Missing, wrong-type, out-of-range and new-category ratios per feature, features
        appeared/vanished, and the outlier ratio (see :mod:`modeltel.analyzer.quality`)."""
        records: list[Result] = []
        for ver, windows in self._targets(model, version, window, start, end):
            config = self.quality_config.for_model(model)
            records += compute_quality(self.store, model, ver, windows, config)
        return self._finish(records, write)

    def outliers(
        self,
        model: str,
        version: str | None = None,
        *,
        window: WindowArg = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 20,
    ) -> pd.DataFrame:
        """The predictions with the most features outside the reference's central range
        (columns ``version``, ``prediction_id``, ``timestamp``, ``score``, ``severity``,
        ``features``), worst first."""
        frames = []
        for ver, windows in self._targets(model, version, window, start, end):
            whole = Window(windows[0].start, windows[-1].end)
            frame = list_outliers(
                self.store,
                model,
                ver,
                whole,
                limit=limit,
                config=self.quality_config.for_model(model),
            )
            frames.append(frame.assign(version=ver))
        if not frames:
            return pd.DataFrame()
        out = pd.concat(frames, ignore_index=True)
        out = out.sort_values(["score", "severity"], ascending=False, kind="stable").head(limit)
        return out[["version", *[c for c in out.columns if c != "version"]]].reset_index(drop=True)
