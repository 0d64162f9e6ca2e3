"""Attribution drift: which features the model relies on in each window, and how far that moved.

The instrumentation records per-row feature attributions (for example SHAP values) in
``ml_attributions``. Per window (kind ``attribution``; the sums run in ClickHouse, Python
ranks a few dozen numbers):

- feature *f*, metric ``importance``: mean |attribution| of *f* over the window's predictions
  that carry one (the usual global SHAP importance); ``details`` hold its rank and the
  reference's importance and rank;
- feature *f*, metric ``rank``: 1 for the most important feature (ties share the average rank);
- feature None, metric ``rank_correlation``: Spearman's ρ between the window's and the
  reference's importances over the features both have (``scipy.stats.spearmanr``); ``drift``
  when below its threshold;
- feature None, metric ``top_k_overlap``: |top-k(window) ∩ top-k(reference)| / k with
  k = min(``top_k``, features); ``drift`` when below its threshold;
- feature None, metric ``drift``: 1 when either says drift, else 0 — the model has started to
  rely on different features.

The *reference period* is ``reference_window`` when configured, else the trailing
``baseline`` (default 7 days) before each window, as for the volume baseline of the service
analysis. A window with fewer than ``min_predictions`` attributed predictions (or a reference
with fewer) gets ``no_data`` decisions. With few features, top-k overlap says little (k is at
most the feature count); rank correlation is the main decision, and near-equal importances
can swap ranks by chance, so the default threshold is lenient.

- :mod:`.config` — the ``attribution`` configuration section;
- :mod:`.queries` — the SQL: importances per window and over a period;
- :mod:`.stats` — ranks, rank correlation and top-k overlap of importances;
- :mod:`.analysis` — one model version over windows, against its reference period;
- :mod:`.records` — a window's importances turned into result records.

:data:`ANALYSIS` is its entry in :data:`modeltel.analyzer.analyses.ANALYSES`.
"""

from modeltel.analyzer.analyses.attribution.analysis import (
    attribution_results,
    compute_attribution,
    has_attributions,
    period_importances,
    window_importances,
)
from modeltel.analyzer.analyses.attribution.config import (
    DEFAULT_THRESHOLDS,
    AttributionConfig,
    load_attribution_config,
)
from modeltel.analyzer.analyses.attribution.records import KIND, Importances, window_records
from modeltel.analyzer.analyses.attribution.stats import (
    rank_correlation,
    ranks,
    top_k,
    top_k_overlap,
)
from modeltel.analyzer.base.analysis import Analysis, MetricSpec
from modeltel.analyzer.base.gauges import FEATURE, Gauge

_PER_FEATURE = {FEATURE: "feature"}

METRICS = (
    MetricSpec(
        "importance",
        Gauge(
            "ml.attribution.importance", "", "Mean absolute attribution of a feature", _PER_FEATURE
        ),
        bounds=(0.0, None),
    ),
    MetricSpec(
        "rank",
        Gauge(
            "ml.attribution.rank",
            "",
            "Importance rank of a feature (1 = most important)",
            _PER_FEATURE,
        ),
        bounds=(1.0, None),
    ),
    MetricSpec(
        "rank_correlation",
        Gauge(
            "ml.attribution.rank_correlation",
            "",
            "Spearman correlation of feature importances with the reference period",
        ),
        higher_is_better=True,
        bounds=(-1.0, 1.0),
    ),
    MetricSpec(
        "top_k_overlap",
        Gauge(
            "ml.attribution.top_k_overlap",
            "",
            "Share of the reference's top-k features still in the top k",
        ),
        higher_is_better=True,
        bounds=(0.0, 1.0),
    ),
    MetricSpec(
        "drift",
        Gauge("ml.attribution.drift", "", "1 when the model relies on different features"),
        higher_is_better=False,
        bounds=(0.0, 1.0),
        component="drift",
        alarm="the model relies on different features (attribution ranking moved)",
    ),
)
"""Its metrics: ``importance`` and ``rank`` per feature, the others of the whole ranking."""

ANALYSIS = Analysis(
    kind=KIND,
    title="Feature importances and how far their ranking moved from the reference period",
    settings=AttributionConfig,
    compute=attribution_results,
    metrics=METRICS,
)

__all__ = [
    "ANALYSIS",
    "DEFAULT_THRESHOLDS",
    "KIND",
    "METRICS",
    "AttributionConfig",
    "Importances",
    "attribution_results",
    "compute_attribution",
    "has_attributions",
    "load_attribution_config",
    "period_importances",
    "rank_correlation",
    "ranks",
    "top_k",
    "top_k_overlap",
    "window_importances",
    "window_records",
]
