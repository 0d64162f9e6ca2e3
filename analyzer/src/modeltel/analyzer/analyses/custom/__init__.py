"""Custom metrics: numbers the user defines as one ClickHouse aggregate each (kind ``custom``).

Configured in the ``custom_metrics`` section (:mod:`.config`); every expression is checked when
an Analyzer starts (:mod:`.expressions`: the parse-tree check of ``modeltel sql``, stricter, and
a dry run) and all of a model's expressions are evaluated per window in one statement over one
row per prediction (:mod:`modeltel.analyzer.base.prediction_rows`). One record per metric and
window, ``metric`` = the metric's name (:mod:`.analysis`), published as
``ml_custom_metric{ml_metric_name=…}``.

- :mod:`.config` — the ``custom_metrics`` configuration section;
- :mod:`.expressions` — parse, check, rewrite and dry-run an expression; the statement;
- :mod:`.analysis` — model versions over windows, the records.

:data:`ANALYSIS` is its entry in :data:`modeltel.analyzer.analyses.ANALYSES`.
"""

from modeltel.analyzer.analyses.custom.analysis import (
    KIND,
    compute_custom,
    custom_request,
    validate_custom,
)
from modeltel.analyzer.analyses.custom.config import CustomMetric, CustomMetricsConfig
from modeltel.analyzer.base.analysis import Analysis, MetricSpec
from modeltel.analyzer.base.gauges import METRIC_NAME, Gauge

_NAMED = {METRIC_NAME: "metric"}
ANY_METRIC = MetricSpec(
    "*",
    Gauge("ml.custom_metric", "", "Value of a custom SQL metric", _NAMED),
    threshold_gauge=Gauge("ml.custom_metric.threshold", "", "Bound of a custom metric", _NAMED),
    verdict_gauge=Gauge(
        "ml.custom_metric.breached", "", "1 when a custom metric is outside its bounds", _NAMED
    ),
)
"""The catalogue entry of every custom metric (their names come from the configuration)."""

ANALYSIS = Analysis(
    kind=KIND,
    title="Your own metrics, one SQL aggregate each",
    settings=CustomMetricsConfig,
    compute=compute_custom,
    metrics=(),
    open_metric=ANY_METRIC,
    validate=validate_custom,
    row_request=custom_request,
)

__all__ = [
    "ANALYSIS",
    "ANY_METRIC",
    "KIND",
    "CustomMetric",
    "CustomMetricsConfig",
    "compute_custom",
    "validate_custom",
]
