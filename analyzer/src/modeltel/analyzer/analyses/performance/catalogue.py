"""The metrics of the performance analysis: what each means and how it is published.

Performance metrics (realized, and estimated when CBPE applies) are one gauge,
``ml.performance``, broken down by ``ml.metric`` and ``ml.source``; label coverage, delay and
unknown ids have gauges of their own and do not count toward the health score. The order is
the order in which they are shown: the headline classification metrics, the multiclass
averages, then regression.
"""

from __future__ import annotations

from modeltel.analyzer.base.analysis import MetricSpec
from modeltel.analyzer.base.gauges import METRIC, QUANTILE, SOURCE, Gauge

PERFORMANCE = Gauge(
    "ml.performance",
    "",
    "Model performance metric, realized or estimated",
    {METRIC: "metric", SOURCE: "source"},
)
LABEL_COVERAGE = Gauge("ml.label.coverage", "", "Share of predictions that have a label")
LABEL_DELAY = Gauge("ml.label.delay", "s", "Delay between prediction and label, by quantile")
UNKNOWN_IDS = Gauge("ml.label.unknown_ids", "", "Labels received for prediction ids never seen")

_UNIT = (0.0, 1.0)
_POSITIVE = (0.0, None)


def _score(name: str, *, higher_is_better: bool, bounds: tuple[float | None, float | None]):
    return MetricSpec(
        name,
        PERFORMANCE,
        higher_is_better=higher_is_better,
        bounds=bounds,
        component="performance",
    )


def _delay(quantile: str) -> MetricSpec:
    name = f"label_delay_p{round(float(quantile) * 100)}"
    return MetricSpec(name, LABEL_DELAY, higher_is_better=False, attributes={QUANTILE: quantile})


METRICS: tuple[MetricSpec, ...] = (
    *(
        _score(name, higher_is_better=True, bounds=_UNIT)
        for name in ("accuracy", "f1", "roc_auc", "precision", "recall")
    ),
    _score("log_loss", higher_is_better=False, bounds=_POSITIVE),
    *(
        _score(f"{name}_{average}", higher_is_better=True, bounds=_UNIT)
        for average in ("macro", "weighted")
        for name in ("f1", "precision", "recall")
    ),
    _score("mae", higher_is_better=False, bounds=_POSITIVE),
    _score("rmse", higher_is_better=False, bounds=_POSITIVE),
    _score("r2", higher_is_better=True, bounds=(None, 1.0)),
    _score("mape", higher_is_better=False, bounds=_POSITIVE),
    _score("mse", higher_is_better=False, bounds=_POSITIVE),
    MetricSpec("label_coverage", LABEL_COVERAGE, higher_is_better=True, bounds=_UNIT),
    *(_delay(q) for q in ("0.5", "0.95", "0.99")),
    MetricSpec("labels_unknown_ids", UNKNOWN_IDS, higher_is_better=False, bounds=_POSITIVE),
)

SCORES = tuple(m for m in METRICS if m.component == "performance")
"""The model's performance metrics (thresholds apply to these), in the order shown."""
