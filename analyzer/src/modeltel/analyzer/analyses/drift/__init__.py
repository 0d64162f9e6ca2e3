"""Drift of production data against a stored reference, computed in the store's SQL.

- :mod:`.stats` — the statistics as pure functions of counts (each equal to scipy's);
- :mod:`.grid` — the fine binning of continuous features, identical in SQL and numpy;
- :mod:`.histogram` — the SQL that counts a reference or a window (its samples:
  :mod:`modeltel.analyzer.base.sources`);
- :mod:`.compare` / :mod:`.methods` — alignment, methods, defaults and verdicts;
- :mod:`.config` — the ``drift`` configuration section;
- :mod:`.engine` — one run: counts → records; :mod:`.display` — histograms for people;
- :mod:`.analysis` — model versions over windows, each against its reference.

:data:`ANALYSIS` is its entry in :data:`modeltel.analyzer.analyses.ANALYSES`: records of kind
``drift`` carry a ``method`` (one per method and feature, and ``share``: the share of input
features that drifted) and no ``metric``. Most callers use
:meth:`modeltel.analyzer.Analyzer.drift`.
"""

from modeltel.analyzer.analyses.drift.analysis import drift_results, find_drift_reference
from modeltel.analyzer.analyses.drift.config import DriftConfig, FeatureRule, load_drift_config
from modeltel.analyzer.analyses.drift.display import histograms
from modeltel.analyzer.analyses.drift.engine import KIND, DriftEngine
from modeltel.analyzer.analyses.drift.methods import METHODS, UNIT, auto_method
from modeltel.analyzer.analyses.drift.profiles import store_reference_profiles
from modeltel.analyzer.base.analysis import Analysis, MetricSpec
from modeltel.analyzer.base.gauges import FEATURE, METHOD, Gauge
from modeltel.analyzer.base.sources import (
    PREDICTION_FEATURES,
    ProductionSource,
    ReferenceSource,
)

_PER_FEATURE = {FEATURE: "feature", METHOD: "method"}
SCORE = Gauge(
    "ml.drift.score",
    "",
    "Drift score per feature and method (p-value for ks/chi_squared)",
    _PER_FEATURE,
)
DETECTED = Gauge(
    "ml.drift.detected", "", "1 when the feature drifted by its method and threshold", _PER_FEATURE
)
THRESHOLD = Gauge(
    "ml.drift.threshold", "", "Threshold the drift score is compared with", _PER_FEATURE
)
SHARE = Gauge("ml.drift.share", "", "Share of features that drifted (dataset drift)")

METRICS = (
    *(
        MetricSpec(
            method.name,
            SCORE,
            higher_is_better=method.pvalue,
            bounds=method.bounds,
            component="drift",
            verdict_gauge=DETECTED,
            threshold_gauge=THRESHOLD,
        )
        for method in METHODS.values()
    ),
    MetricSpec(
        "share",
        SHARE,
        higher_is_better=False,
        bounds=UNIT,
        verdict_gauge=DETECTED,
        threshold_gauge=THRESHOLD,
    ),
)

ANALYSIS = Analysis(
    kind=KIND,
    title="Drift of each feature and of the predictions against the reference",
    settings=DriftConfig,
    compute=drift_results,
    metrics=METRICS,
    reference_stored=store_reference_profiles,
)

__all__ = [
    "ANALYSIS",
    "METHODS",
    "METRICS",
    "PREDICTION_FEATURES",
    "DriftConfig",
    "DriftEngine",
    "FeatureRule",
    "ProductionSource",
    "ReferenceSource",
    "auto_method",
    "drift_results",
    "find_drift_reference",
    "histograms",
    "load_drift_config",
]
