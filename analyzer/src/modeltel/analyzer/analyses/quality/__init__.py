"""Data quality of a model version's inputs, and per-prediction outlier scores.

Per feature and window (kind ``quality``; every count made in ClickHouse on ``ml_features``):

- ``missing_ratio`` = 1 − (predictions with a value) / predictions; a feature that never
  arrives is missing everywhere;
- ``wrong_type_ratio``: share of a numerical feature's present values that are not numbers;
- ``out_of_range_ratio``: share of present numeric values outside [min, max] of the
  reference, or the bounds declared in the config (``quality.features.<f>.min|max``);
- ``new_category_ratio``: share of a categorical feature's present values unseen in the
  reference;
- ``feature_vanished`` (1/0 for each reference feature: no value at all in the window) and
  ``feature_new`` (1 for a feature that arrives but is not in the reference);
- feature None, ``outlier_ratio``: share of predictions whose *outlier score* — the number of
  features outside the reference's central range (``quality.outliers.quantiles``, default
  the 0.5%–99.5% quantiles) or holding an unseen category — reaches ``min_features``.

The ratios' denominators (``current_size``) are the window's predictions for missing values
and the present values otherwise. :func:`outliers` lists the worst predictions of a window.

The model versions of a computation share its statements (:func:`quality_results`). With
``quality.segment_by`` the same statements also count per segment (``segment`` =
``dimension=value``, :mod:`modeltel.analyzer.base.segments`); a segment with fewer than
``min_segment_size`` predictions in a window gets ``no_data`` records saying so.

- :mod:`.config` — the ``quality`` configuration section;
- :mod:`.queries` — the SQL: the reference's profile, the per-window counts, outlier scores;
- :mod:`.analysis` — model versions over windows; the worst predictions of a window;
- :mod:`.records` — a window's counts turned into result records.

:data:`ANALYSIS` is its entry in :data:`modeltel.analyzer.analyses.ANALYSES`.
"""

from modeltel.analyzer.analyses.quality.analysis import (
    compute_quality,
    outliers,
    quality_results,
    reference_profile,
)
from modeltel.analyzer.analyses.quality.config import (
    DEFAULT_THRESHOLDS,
    QualityConfig,
    load_quality_config,
)
from modeltel.analyzer.analyses.quality.queries import ReferenceProfile
from modeltel.analyzer.analyses.quality.records import KIND
from modeltel.analyzer.base.analysis import Analysis, MetricSpec
from modeltel.analyzer.base.gauges import FEATURE, Gauge


def _metric(metric: str, gauge: str, description: str, alarm: str = "") -> MetricSpec:
    return MetricSpec(
        metric,
        Gauge(gauge, "", description, {FEATURE: "feature"}),
        higher_is_better=False,
        bounds=(0.0, 1.0),
        component="quality",
        alarm=alarm,
    )


METRICS = (
    _metric(
        "missing_ratio", "ml.quality.missing.ratio", "Share of predictions missing the feature"
    ),
    _metric("wrong_type_ratio", "ml.quality.wrong_type.ratio", "Share of values of the wrong type"),
    _metric(
        "out_of_range_ratio",
        "ml.quality.out_of_range.ratio",
        "Share of values outside the reference range",
    ),
    _metric(
        "new_category_ratio",
        "ml.quality.new_category.ratio",
        "Share of categories unseen in the reference",
    ),
    _metric(
        "feature_vanished",
        "ml.quality.feature.vanished",
        "1 when a reference feature no longer arrives",
    ),
    _metric(
        "feature_new",
        "ml.quality.feature.new",
        "1 when a feature absent from the reference arrives",
    ),
    _metric(
        "outlier_ratio",
        "ml.quality.outlier.ratio",
        "Share of predictions flagged as outliers",
        alarm="too many outlier predictions",
    ),
)
"""Its metrics, per feature except ``outlier_ratio`` (of the whole input); ``feature_vanished``
and ``feature_new`` are 1/0 flags."""

ANALYSIS = Analysis(
    kind=KIND,
    title="Missing, wrong-type, out-of-range, new-category ratios; features new/vanished",
    settings=QualityConfig,
    compute=quality_results,
    metrics=METRICS,
)

__all__ = [
    "ANALYSIS",
    "DEFAULT_THRESHOLDS",
    "KIND",
    "METRICS",
    "QualityConfig",
    "ReferenceProfile",
    "compute_quality",
    "load_quality_config",
    "outliers",
    "quality_results",
    "reference_profile",
]
