"""Drift of production data against a stored reference, computed in the store's SQL.

- :mod:`.stats` — the statistics as pure functions of counts (each equal to scipy's);
- :mod:`.grid` — the fine binning of continuous features, identical in SQL and numpy;
- :mod:`.sources` / :mod:`.histogram` — the SQL that counts a reference or a window;
- :mod:`.compare` / :mod:`.methods` — alignment, methods, defaults and verdicts;
- :mod:`.config` — the ``drift`` configuration section;
- :mod:`.engine` — one run: counts → records; :mod:`.display` — histograms for people.

Most callers use :class:`modeltel.analyzer.Analyzer` (``Analyzer.drift``) instead.
"""

from modeltel.analyzer.drift.config import DriftConfig, FeatureRule, load_drift_config
from modeltel.analyzer.drift.display import histograms
from modeltel.analyzer.drift.engine import DriftEngine
from modeltel.analyzer.drift.methods import METHODS, auto_method
from modeltel.analyzer.drift.sources import (
    PREDICTION_FEATURES,
    ProductionSource,
    ReferenceSource,
)

__all__ = [
    "METHODS",
    "PREDICTION_FEATURES",
    "DriftConfig",
    "DriftEngine",
    "FeatureRule",
    "ProductionSource",
    "ReferenceSource",
    "auto_method",
    "histograms",
    "load_drift_config",
]
