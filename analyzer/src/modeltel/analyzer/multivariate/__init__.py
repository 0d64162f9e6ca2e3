"""Multivariate drift: changes in how features move together, which no univariate test sees.

A PCA fitted on the reference (:mod:`.pca`) reconstructs each prediction's standardised
features from a few components; when the joint distribution changes (a correlation flips,
a new combination of values appears) the reconstruction error rises even if every marginal
distribution stays the same. :mod:`.analysis` reports the mean error per window against a
threshold from the reference's own variability, the share of predictions whose own error is
an outlier, and lists the worst predictions. Configuration: :mod:`.config`.
"""

from __future__ import annotations

from modeltel.analyzer.multivariate.analysis import (
    KIND,
    METHOD,
    ReferenceModel,
    compute_multivariate,
    outliers,
    reference_model,
)
from modeltel.analyzer.multivariate.config import MultivariateConfig, load_multivariate_config
from modeltel.analyzer.multivariate.pca import PcaModel, fit, scored_sql

__all__ = [
    "KIND",
    "METHOD",
    "MultivariateConfig",
    "PcaModel",
    "ReferenceModel",
    "compute_multivariate",
    "fit",
    "load_multivariate_config",
    "outliers",
    "reference_model",
    "scored_sql",
]
