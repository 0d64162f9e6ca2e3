"""The :class:`~modeltel.analyzer.Analyzer` methods that look at the model as a whole: attribution
drift, multivariate drift and the model's own outliers (a mixin placed before
:class:`~modeltel.analyzer.performance.methods.HealthAnalyses`, whose ``_targets``/``_finish``
it uses and whose range-based :meth:`outliers` it extends with ``method="multivariate"``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from modeltel.analyzer.attribution import (
    AttributionConfig,
    compute_attribution,
    has_attributions,
    load_attribution_config,
)
from modeltel.analyzer.errors import ConfigError, NotFoundError
from modeltel.analyzer.multivariate import (
    MultivariateConfig,
    compute_multivariate,
    load_multivariate_config,
)
from modeltel.analyzer.multivariate import outliers as multivariate_outliers
from modeltel.analyzer.results import Result
from modeltel.analyzer.windows import Window

if TYPE_CHECKING:
    from modeltel.analyzer.store import Store

WindowArg = Window | str | float | None
OUTLIER_METHODS = ("range", "multivariate")


class ModelAnalyses:
    """Attribution, multivariate and outlier methods of the Analyzer."""

    store: Store
    config: dict[str, Any]

    if TYPE_CHECKING:

        def _targets(
            self,
            model: str,
            version: str | None,
            window: WindowArg,
            start: datetime | None,
            end: datetime | None,
            last_n: int | None = None,
        ) -> list[tuple[str, list[Window]]]: ...

        def _finish(self, records: list[Result], write: bool) -> pd.DataFrame: ...

    def _load_model_configs(self) -> None:
        """Validate the ``attribution`` and ``multivariate`` sections (fail early)."""
        self.attribution_config: AttributionConfig = load_attribution_config(self.config)
        self.multivariate_config: MultivariateConfig = load_multivariate_config(self.config)
        self._multivariate_cache: dict[Any, Any] = {}

    def attribution(
        self,
        model: str,
        version: str | None = None,
        *,
        window: WindowArg = None,
        start: datetime | None = None,
        end: datetime | None = None,
        write: bool = True,
    ) -> pd.DataFrame:
        """Mean |attribution| and rank per feature, and how far the ranking moved from the
        reference period (Spearman ρ, top-k overlap; see :mod:`modeltel.analyzer.attribution`).
        NotFoundError when the version has no attributions at all."""
        records: list[Result] = []
        targets = self._targets(model, version, window, start, end)
        if not any(has_attributions(self.store, model, ver) for ver, _ in targets):
            raise NotFoundError(
                f"model {model!r} has no feature attributions; record them with "
                "monitor(..., explainer=...) or attributions(...)"
            )
        for ver, windows in targets:
            records += compute_attribution(self.store, model, ver, windows, self.attribution_config)
        return self._finish(records, write)

    def multivariate(
        self,
        model: str,
        version: str | None = None,
        *,
        window: WindowArg = None,
        start: datetime | None = None,
        end: datetime | None = None,
        write: bool = True,
    ) -> pd.DataFrame:
        """PCA reconstruction error per window against the reference's own variability, and
        the share of outlier predictions (see :mod:`modeltel.analyzer.multivariate`)."""
        records: list[Result] = []
        for ver, windows in self._targets(model, version, window, start, end):
            records += compute_multivariate(
                self.store,
                model,
                ver,
                windows,
                self.multivariate_config,
                self._multivariate_cache,
            )
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
        method: str = "range",
    ) -> pd.DataFrame:
        """The worst predictions of the window, worst first (columns ``version``,
        ``prediction_id``, ``timestamp``, ``score``, ``severity``, ``features``).

        ``method="range"``: features outside the reference's central range (data quality);
        ``method="multivariate"``: the PCA reconstruction error of the whole input, severity
        being the error over the reference's per-row outlier threshold.
        """
        if method not in OUTLIER_METHODS:
            raise ConfigError(
                f"unknown outlier method {method!r}; use {' or '.join(OUTLIER_METHODS)}"
            )
        if method == "range":
            parent: Any = super()
            frame: pd.DataFrame = parent.outliers(
                model, version, window=window, start=start, end=end, limit=limit
            )
            return frame
        if limit <= 0:
            raise ConfigError("limit must be a positive number of predictions")
        frames = []
        for ver, windows in self._targets(model, version, window, start, end):
            whole = Window(windows[0].start, windows[-1].end)
            frame = multivariate_outliers(
                self.store,
                model,
                ver,
                whole,
                limit=limit,
                config=self.multivariate_config,
                cache=self._multivariate_cache,
            )
            frames.append(frame.assign(version=ver))
        frames = [f for f in frames if not f.empty]
        if not frames:
            return pd.DataFrame(
                {c: [] for c in ("version", "prediction_id", "timestamp", "score", "severity")}
                | {"features": []}
            )
        out = pd.concat(frames, ignore_index=True)
        out = out.sort_values("score", ascending=False, kind="stable").head(limit)
        return out[["version", *[c for c in out.columns if c != "version"]]].reset_index(drop=True)
