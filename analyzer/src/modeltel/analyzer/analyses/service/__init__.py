"""Service health of a model version from its prediction spans, as tidy result records.

Per window (kind ``service``): ``latency_p50|p95|p99`` (seconds, exact: ClickHouse's
``quantilesExactInclusive``, numpy's default linear interpolation, over one row per call —
``row_index = 0`` — since ``latency_s`` is the whole call's duration), ``throughput``
(predictions per second), ``error_ratio`` (calls whose span status is ERROR / calls),
``error_type_ratio`` (feature = ``error.type``: the failed calls of that type / calls, for
the ``max_error_types`` most frequent types),
``volume`` (predictions), ``volume_ratio`` (volume / mean volume of the ``baseline_windows``
windows before it, counted from the version's first prediction; ``alert`` on a spike or a
drop), ``last_seen`` (unix seconds of the latest prediction up to the window end),
``staleness`` (window end − last seen) and ``prediction_share`` (feature = predicted class).
A window without predictions still reports volume 0 and its staleness. Counts are weighted
by each prediction's sampling weight, and volume prefers the ``ml.predictions`` counter
(:mod:`.records`).

With ``service.segment_by`` (``segment_by=`` of ``Analyzer.run("service", …)``) the same
statements also give the latencies, throughput, error ratios, volume (of the spans) and class
shares per segment (``segment`` = ``dimension=value``, :mod:`modeltel.analyzer.base.segments`);
the volume ratio, last seen and staleness stay the version's only (``docs/configuration.md``).

- :mod:`.config` — the ``service`` configuration section;
- :mod:`.queries` — the SQL: per-window statistics, volume baseline, class shares;
- :mod:`.analysis` — model versions over windows, in one pass;
- :mod:`.records` — the rows turned into result records.

:data:`ANALYSIS` is its entry in :data:`modeltel.analyzer.analyses.ANALYSES`.
"""

from modeltel.analyzer.analyses.service.analysis import compute_service, service_results
from modeltel.analyzer.analyses.service.config import ServiceConfig, load_service_config
from modeltel.analyzer.analyses.service.queries import LATENCY_QUANTILES
from modeltel.analyzer.analyses.service.records import KIND
from modeltel.analyzer.base.analysis import Analysis, MetricSpec
from modeltel.analyzer.base.gauges import CLASS, ERROR_TYPE, QUANTILE, Gauge

_SECONDS = (0.0, None)

LATENCY = Gauge("ml.latency", "s", "Prediction latency by quantile (exact)")

ERROR_RATIO = Gauge(
    "ml.error.ratio", "", "Share of prediction calls that failed", {ERROR_TYPE: "feature"}
)
"""``error_ratio`` (no ``error.type``) and ``error_type_ratio`` (one series per type)."""


def _latency(quantile: str) -> MetricSpec:
    return MetricSpec(
        f"latency_p{round(float(quantile) * 100)}",
        LATENCY,
        higher_is_better=False,
        bounds=_SECONDS,
        component="service",
        attributes={QUANTILE: quantile},
    )


METRICS = (
    *(_latency(str(q)) for q in LATENCY_QUANTILES),
    MetricSpec(
        "throughput",
        Gauge("ml.throughput", "{prediction}/s", "Predictions per second in the window"),
        bounds=(0.0, None),
    ),
    MetricSpec(
        "error_ratio",
        ERROR_RATIO,
        higher_is_better=False,
        bounds=(0.0, 1.0),
        component="service",
    ),
    MetricSpec("error_type_ratio", ERROR_RATIO, higher_is_better=False, bounds=(0.0, 1.0)),
    MetricSpec(
        "volume", Gauge("ml.volume", "", "Predictions in the analysis window"), bounds=(0.0, None)
    ),
    MetricSpec(
        "volume_ratio",
        Gauge("ml.volume.ratio", "", "Window volume divided by its trailing baseline"),
        bounds=(0.0, None),
        component="service",
    ),
    MetricSpec(
        "last_seen", Gauge("ml.predictions.last_seen", "s", "Unix time of the latest prediction")
    ),
    MetricSpec(
        "staleness",
        Gauge("ml.staleness", "s", "Seconds since the latest prediction"),
        higher_is_better=False,
        bounds=_SECONDS,
        component="service",
    ),
    MetricSpec(
        "prediction_share",
        Gauge(
            "ml.prediction.share",
            "",
            "Share of predictions per predicted class",
            {CLASS: "feature"},
        ),
        bounds=(0.0, 1.0),
    ),
)
"""Its metrics; ``prediction_share`` names the predicted class in ``feature``."""

ANALYSIS = Analysis(
    kind=KIND,
    title="Latency percentiles, throughput, errors, volume, staleness, class shares",
    settings=ServiceConfig,
    compute=service_results,
    metrics=METRICS,
)

__all__ = [
    "ANALYSIS",
    "KIND",
    "LATENCY",
    "LATENCY_QUANTILES",
    "METRICS",
    "ServiceConfig",
    "compute_service",
    "load_service_config",
    "service_results",
]
