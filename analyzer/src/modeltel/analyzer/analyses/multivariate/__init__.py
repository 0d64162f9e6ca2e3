"""Multivariate drift: changes in how features move together, which no univariate test sees.

A PCA fitted on the reference (:mod:`.pca`) reconstructs each prediction's standardised
features from a few components; when the joint distribution changes (a correlation flips,
a new combination of values appears) the reconstruction error rises even if every marginal
distribution stays the same. :mod:`.analysis` reports the mean error per window against a
threshold from the reference's own variability, the share of predictions whose own error is
an outlier, and lists the worst predictions. Configuration: :mod:`.config`.

:data:`ANALYSIS` is its entry in :data:`modeltel.analyzer.analyses.ANALYSES`: records of kind
``multivariate``, method ``pca_reconstruction``, no feature.
"""

from __future__ import annotations

from collections.abc import Sequence

from modeltel.analyzer.analyses.multivariate.analysis import (
    KIND,
    METHOD,
    ReferenceModel,
    compute_multivariate,
    compute_versions,
    outliers,
    reference_model,
)
from modeltel.analyzer.analyses.multivariate.config import (
    MultivariateConfig,
    load_multivariate_config,
)
from modeltel.analyzer.analyses.multivariate.pca import PcaModel, fit, scored_sql
from modeltel.analyzer.base.analysis import Analysis, MetricSpec, Run, Target
from modeltel.analyzer.base.gauges import METHOD as METHOD_ATTRIBUTE
from modeltel.analyzer.base.gauges import Gauge
from modeltel.analyzer.base.results import Result
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window


def multivariate_results(
    store: Store,
    targets: Sequence[Target],
    windows: Sequence[Window],
    settings: MultivariateConfig,
    run: Run,
    /,
) -> list[Result]:
    """The records of each target (the fitted reference models kept in ``run.state``): the
    targets sharing the one setting that changes the statement (``worst``) in one pass."""
    groups: dict[int, list[Target]] = {}
    for target in targets:
        groups.setdefault(settings.for_model(target[0]).worst, []).append(target)
    computed: dict[Target, list[Result]] = {}
    for group in groups.values():
        for record in compute_versions(store, group, windows, settings, run.state):
            computed.setdefault((record.model, record.version), []).append(record)
    return [record for target in dict.fromkeys(targets) for record in computed.get(target, [])]


_BY_METHOD = {METHOD_ATTRIBUTE: "method"}

METRICS = (
    MetricSpec(
        "reconstruction_error",
        Gauge(
            "ml.drift.multivariate", "", "Mean PCA reconstruction error of the inputs", _BY_METHOD
        ),
        bounds=(0.0, None),
        component="drift",
        alarm="the inputs drifted jointly (multivariate reconstruction error)",
        threshold_gauge=Gauge(
            "ml.drift.multivariate.threshold",
            "",
            "Upper threshold of the mean reconstruction error",
            _BY_METHOD,
        ),
        verdict_gauge=Gauge(
            "ml.drift.multivariate.detected", "", "1 when the inputs drifted jointly", _BY_METHOD
        ),
    ),
    MetricSpec(
        "outlier_ratio",
        Gauge(
            "ml.outlier.ratio",
            "",
            "Share of predictions whose inputs are multivariate outliers",
            _BY_METHOD,
        ),
        higher_is_better=False,
        bounds=(0.0, 1.0),
        component="quality",
        alarm="too many outlier predictions",
    ),
)
"""Its metrics; the reconstruction error drifts when outside its band (either side)."""

ANALYSIS = Analysis(
    kind=KIND,
    title="PCA reconstruction error against the reference's variability; outlier share",
    settings=MultivariateConfig,
    compute=multivariate_results,
    metrics=METRICS,
)

__all__ = [
    "ANALYSIS",
    "KIND",
    "METHOD",
    "MultivariateConfig",
    "PcaModel",
    "ReferenceModel",
    "compute_multivariate",
    "compute_versions",
    "fit",
    "load_multivariate_config",
    "multivariate_results",
    "outliers",
    "reference_model",
    "scored_sql",
]
