"""Fairness over time: parity of a model's decisions between the groups of protected
attributes (kind ``fairness``).

Configured in the ``fairness`` section (:mod:`.config`). Per window and protected attribute
(the records' ``feature``): each group's selection rate and, over the predictions whose label
has arrived, its true and false positive rates and accuracy (``segment`` = ``attribute=group``),
and the summary metrics — statistical parity difference, disparate impact ratio, equal
opportunity difference and equalized odds difference — with fairlearn's definitions
(:mod:`.records`). Every count is made in ClickHouse in one statement per version
(:mod:`.queries`).

- :mod:`.config` — the ``fairness`` configuration section;
- :mod:`.queries` — the per-group counts;
- :mod:`.records` — the counts turned into result records;
- :mod:`.analysis` — model versions over windows.

:data:`ANALYSIS` is its entry in :data:`modeltel.analyzer.analyses.ANALYSES`.
"""

from modeltel.analyzer.analyses.fairness.analysis import compute_fairness, fairness_row_request
from modeltel.analyzer.analyses.fairness.config import (
    DEFAULT_THRESHOLDS,
    LOWER_IS_WORSE,
    FairnessConfig,
    bin_labels,
)
from modeltel.analyzer.analyses.fairness.records import (
    GROUP_METRICS,
    KIND,
    REFERENCE_METRICS,
    SUMMARY_METRICS,
)
from modeltel.analyzer.base.analysis import Analysis, MetricSpec
from modeltel.analyzer.base.gauges import FEATURE, METRIC, Gauge

_ATTRIBUTES = {METRIC: "metric", FEATURE: "feature"}
SUMMARY = Gauge("ml.fairness", "", "Fairness of a protected attribute", _ATTRIBUTES)
GROUP = Gauge("ml.fairness.group", "", "A rate of one group of a protected attribute", _ATTRIBUTES)
BREACHED = Gauge(
    "ml.fairness.breached", "", "1 when a fairness metric crosses its threshold", _ATTRIBUTES
)
THRESHOLD = Gauge("ml.fairness.threshold", "", "Threshold of a fairness metric", _ATTRIBUTES)


def _summary(name: str) -> MetricSpec:
    lower_is_worse = name in LOWER_IS_WORSE
    return MetricSpec(
        name,
        SUMMARY,
        higher_is_better=bool(lower_is_worse),
        bounds=(0.0, 1.0),
        threshold_gauge=THRESHOLD,
        verdict_gauge=BREACHED,
    )


METRICS = (
    *(_summary(name) for name in SUMMARY_METRICS),
    *(MetricSpec(name, GROUP, bounds=(0.0, 1.0)) for name in GROUP_METRICS),
    MetricSpec("selection_rate_difference", GROUP, bounds=(-1.0, 1.0)),
    MetricSpec("selection_rate_ratio", GROUP, bounds=(0.0, None)),
)

ANALYSIS = Analysis(
    kind=KIND,
    title="Parity of decisions between the groups of protected attributes",
    settings=FairnessConfig,
    compute=compute_fairness,
    metrics=METRICS,
    row_request=fairness_row_request,
)

__all__ = [
    "ANALYSIS",
    "DEFAULT_THRESHOLDS",
    "GROUP_METRICS",
    "KIND",
    "METRICS",
    "REFERENCE_METRICS",
    "SUMMARY_METRICS",
    "FairnessConfig",
    "bin_labels",
    "compute_fairness",
]
