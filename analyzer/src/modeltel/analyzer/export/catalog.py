"""The catalogue of analyzer gauges and how each ``ml_results`` record becomes one.

Every gauge carries ``ml.model.name`` and ``ml.model.version`` (plus ``ml.segment`` when the
record belongs to a segment). The Prometheus name is what the OTel → Prometheus rules make of
the OTel name and unit (dots → underscores, unit ``s`` → ``_seconds``, ``/s`` → ``_per_second``;
dimensionless gauges carry no unit so no suffix is added), e.g. ``ml.latency`` (s) →
``ml_latency_seconds``. :func:`prometheus_name` computes it; dashboards and alert rules use
those names, and a test checks they agree with what ``/metrics`` serves.

===============================  =====================================  =========================
OTel gauge                       Prometheus name                        extra attributes
===============================  =====================================  =========================
ml.drift.score                   ml_drift_score                         feature, method
ml.drift.detected (0/1)          ml_drift_detected                      feature, method
ml.drift.threshold               ml_drift_threshold                     feature, method
ml.drift.share                   ml_drift_share                         -
ml.performance                   ml_performance                         ml.metric, ml.source
ml.label.coverage                ml_label_coverage                      -
ml.label.delay (s)               ml_label_delay_seconds                 quantile
ml.label.unknown_ids             ml_label_unknown_ids                   -
ml.latency (s)                   ml_latency_seconds                     quantile
ml.throughput ({prediction}/s)   ml_throughput_per_second               -
ml.error.ratio                   ml_error_ratio                         -
ml.volume                        ml_volume                              -
ml.volume.ratio                  ml_volume_ratio                        -
ml.predictions.last_seen (s)     ml_predictions_last_seen_seconds       -
ml.staleness (s)                 ml_staleness_seconds                   -
ml.prediction.share              ml_prediction_share                    class
ml.quality.<metric>.ratio        ml_quality_<metric>_ratio              feature (not outlier)
ml.quality.feature.vanished/new  ml_quality_feature_vanished / _new     feature
ml.attribution.importance        ml_attribution_importance              feature
ml.attribution.rank              ml_attribution_rank                    feature
ml.attribution.rank_correlation  ml_attribution_rank_correlation        -
ml.attribution.top_k_overlap     ml_attribution_top_k_overlap           -
ml.attribution.drift (0/1)       ml_attribution_drift                   -
ml.drift.multivariate            ml_drift_multivariate                  method
ml.drift.multivariate.threshold  ml_drift_multivariate_threshold        method
ml.drift.multivariate.detected   ml_drift_multivariate_detected         method
ml.outlier.ratio                 ml_outlier_ratio                       method
ml.health.score                  ml_health_score                        -
ml.retrain.recommended (0/1)     ml_retrain_recommended                 -
===============================  =====================================  =========================
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

MODEL = "ml.model.name"
VERSION = "ml.model.version"
FEATURE = "ml.feature.name"
METHOD = "ml.drift.method"
METRIC = "ml.metric"
SOURCE = "ml.source"
SEGMENT = "ml.segment"
QUANTILE = "quantile"
CLASS = "class"


@dataclass(frozen=True)
class Gauge:
    """One gauge: OTel name, UCUM unit ("" when dimensionless) and description."""

    name: str
    unit: str
    description: str

    @property
    def prometheus(self) -> str:
        return prometheus_name(self.name, self.unit)


GAUGES: tuple[Gauge, ...] = (
    Gauge("ml.drift.score", "", "Drift score per feature and method (p-value for ks/chi_squared)"),
    Gauge("ml.drift.detected", "", "1 when the feature drifted by its method and threshold"),
    Gauge("ml.drift.threshold", "", "Threshold the drift score is compared with"),
    Gauge("ml.drift.share", "", "Share of features that drifted (dataset drift)"),
    Gauge("ml.performance", "", "Model performance metric, realized or estimated"),
    Gauge("ml.label.coverage", "", "Share of predictions that have a label"),
    Gauge("ml.label.delay", "s", "Delay between prediction and label, by quantile"),
    Gauge("ml.label.unknown_ids", "", "Labels received for prediction ids never seen"),
    Gauge("ml.latency", "s", "Prediction latency by quantile (exact)"),
    Gauge("ml.throughput", "{prediction}/s", "Predictions per second in the window"),
    Gauge("ml.error.ratio", "", "Share of prediction calls that failed"),
    Gauge("ml.volume", "", "Predictions in the analysis window"),
    Gauge("ml.volume.ratio", "", "Window volume divided by its trailing baseline"),
    Gauge("ml.predictions.last_seen", "s", "Unix time of the latest prediction"),
    Gauge("ml.staleness", "s", "Seconds since the latest prediction"),
    Gauge("ml.prediction.share", "", "Share of predictions per predicted class"),
    Gauge("ml.quality.missing.ratio", "", "Share of predictions missing the feature"),
    Gauge("ml.quality.wrong_type.ratio", "", "Share of values of the wrong type"),
    Gauge("ml.quality.out_of_range.ratio", "", "Share of values outside the reference range"),
    Gauge("ml.quality.new_category.ratio", "", "Share of categories unseen in the reference"),
    Gauge("ml.quality.outlier.ratio", "", "Share of predictions flagged as outliers"),
    Gauge("ml.quality.feature.vanished", "", "1 when a reference feature no longer arrives"),
    Gauge("ml.quality.feature.new", "", "1 when a feature absent from the reference arrives"),
    Gauge("ml.attribution.importance", "", "Mean absolute attribution of a feature"),
    Gauge("ml.attribution.rank", "", "Importance rank of a feature (1 = most important)"),
    Gauge(
        "ml.attribution.rank_correlation",
        "",
        "Spearman correlation of feature importances with the reference period",
    ),
    Gauge(
        "ml.attribution.top_k_overlap",
        "",
        "Share of the reference's top-k features still in the top k",
    ),
    Gauge("ml.attribution.drift", "", "1 when the model relies on different features"),
    Gauge("ml.drift.multivariate", "", "Mean PCA reconstruction error of the inputs"),
    Gauge(
        "ml.drift.multivariate.threshold", "", "Upper threshold of the mean reconstruction error"
    ),
    Gauge("ml.drift.multivariate.detected", "", "1 when the inputs drifted jointly"),
    Gauge("ml.outlier.ratio", "", "Share of predictions whose inputs are multivariate outliers"),
    Gauge("ml.health.score", "", "Model health score, 0 (bad) to 100 (good)"),
    Gauge("ml.retrain.recommended", "", "1 while the retrain policy recommends retraining"),
)
GAUGES_BY_NAME = {g.name: g for g in GAUGES}

_PERFORMANCE_GAUGE_EXCEPTIONS = {
    "label_coverage": ("ml.label.coverage", {}),
    "label_delay_p50": ("ml.label.delay", {QUANTILE: "0.5"}),
    "label_delay_p95": ("ml.label.delay", {QUANTILE: "0.95"}),
    "label_delay_p99": ("ml.label.delay", {QUANTILE: "0.99"}),
    "labels_unknown_ids": ("ml.label.unknown_ids", {}),
}
_SERVICE = {
    "latency_p50": ("ml.latency", {QUANTILE: "0.5"}),
    "latency_p95": ("ml.latency", {QUANTILE: "0.95"}),
    "latency_p99": ("ml.latency", {QUANTILE: "0.99"}),
    "throughput": ("ml.throughput", {}),
    "error_ratio": ("ml.error.ratio", {}),
    "volume": ("ml.volume", {}),
    "volume_ratio": ("ml.volume.ratio", {}),
    "last_seen": ("ml.predictions.last_seen", {}),
    "staleness": ("ml.staleness", {}),
}
_QUALITY = {
    "missing_ratio": "ml.quality.missing.ratio",
    "wrong_type_ratio": "ml.quality.wrong_type.ratio",
    "out_of_range_ratio": "ml.quality.out_of_range.ratio",
    "new_category_ratio": "ml.quality.new_category.ratio",
    "outlier_ratio": "ml.quality.outlier.ratio",
    "feature_vanished": "ml.quality.feature.vanished",
    "feature_new": "ml.quality.feature.new",
}
_HEALTH = {"health_score": "ml.health.score", "retrain_recommended": "ml.retrain.recommended"}
_ATTRIBUTION_FEATURE = {"importance": "ml.attribution.importance", "rank": "ml.attribution.rank"}
_ATTRIBUTION = {
    "rank_correlation": "ml.attribution.rank_correlation",
    "top_k_overlap": "ml.attribution.top_k_overlap",
    "drift": "ml.attribution.drift",
}

DRIFTED_STATUSES = frozenset({"drift", "alert"})


@dataclass(frozen=True)
class Observation:
    """One gauge value with its attributes."""

    gauge: str
    value: float
    attributes: Mapping[str, str]


def observations(record: Mapping[str, Any]) -> Iterator[Observation]:
    """The gauge values one tidy result record stands for (none for unknown kinds/metrics)."""
    value = _number(record.get("value"))
    base = {MODEL: str(record["model"]), VERSION: str(record["version"])}
    if record.get("segment"):
        base[SEGMENT] = str(record["segment"])
    kind = record.get("kind")
    feature = record.get("feature") or None
    metric = record.get("metric") or ""
    if kind == "drift":
        method = record.get("method") or ""
        attrs = {**base, METHOD: method}
        if feature is not None:
            attrs[FEATURE] = str(feature)
        if record.get("status") in ("drift", "alert", "ok", "warning"):
            detected = 1.0 if record.get("status") in DRIFTED_STATUSES else 0.0
            yield Observation("ml.drift.detected", detected, attrs)
        threshold = _number(record.get("threshold"))
        if threshold is not None:
            yield Observation("ml.drift.threshold", threshold, attrs)
        if value is None:
            return
        if feature is None and method == "share":
            yield Observation("ml.drift.share", value, base)
        else:
            yield Observation("ml.drift.score", value, attrs)
        return
    if value is None:
        return
    if kind == "performance":
        if metric in _PERFORMANCE_GAUGE_EXCEPTIONS:
            name, extra = _PERFORMANCE_GAUGE_EXCEPTIONS[metric]
            yield Observation(name, value, {**base, **extra})
        elif metric:
            source = record.get("source") or "realized"
            yield Observation("ml.performance", value, {**base, METRIC: metric, SOURCE: source})
    elif kind == "service":
        if metric == "prediction_share":
            yield Observation("ml.prediction.share", value, {**base, CLASS: str(feature or "")})
        elif metric in _SERVICE:
            name, extra = _SERVICE[metric]
            yield Observation(name, value, {**base, **extra})
    elif kind == "quality" and metric in _QUALITY:
        attrs = dict(base) if feature is None else {**base, FEATURE: str(feature)}
        yield Observation(_QUALITY[metric], value, attrs)
    elif kind == "health" and metric in _HEALTH:
        yield Observation(_HEALTH[metric], value, base)
    elif kind == "attribution":
        if feature is not None and metric in _ATTRIBUTION_FEATURE:
            yield Observation(_ATTRIBUTION_FEATURE[metric], value, {**base, FEATURE: str(feature)})
        elif feature is None and metric in _ATTRIBUTION:
            yield Observation(_ATTRIBUTION[metric], value, base)
    elif kind == "multivariate":
        attrs = {**base, METHOD: str(record.get("method") or "")}
        if metric == "reconstruction_error":
            yield Observation("ml.drift.multivariate", value, attrs)
            threshold = _number(record.get("threshold"))
            if threshold is not None:
                yield Observation("ml.drift.multivariate.threshold", threshold, attrs)
            if record.get("status") in ("drift", "ok"):
                detected = 1.0 if record.get("status") == "drift" else 0.0
                yield Observation("ml.drift.multivariate.detected", detected, attrs)
        elif metric == "outlier_ratio":
            yield Observation("ml.outlier.ratio", value, attrs)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, str):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number  # NaN is "no value"


# --- OTel → Prometheus names (the specification's rules, as the collector applies them) ---

_UNITS = {"s": "seconds", "ms": "milliseconds", "By": "bytes", "1": "", "%": "percent"}
_PER_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


def prometheus_name(name: str, unit: str = "", *, counter: bool = False) -> str:
    """Prometheus name of an OTel metric: sanitized name, unit suffix, ``_total`` for counters."""
    base = re.sub(r"[^a-zA-Z0-9:]+", "_", name)
    unit = re.sub(r"\{[^}]*\}", "", unit)
    suffix = ""
    if unit in _UNITS:
        suffix = _UNITS[unit]
    elif "/" in unit:
        top, bottom = unit.split("/", 1)
        top = _UNITS.get(top, top)
        bottom = _PER_UNITS.get(bottom, bottom)
        suffix = f"{top}_per_{bottom}" if top else f"per_{bottom}"
    elif unit:
        suffix = re.sub(r"[^a-zA-Z0-9]+", "_", unit)
    if suffix and not base.endswith("_" + suffix):
        base = f"{base}_{suffix}"
    if counter and not base.endswith("_total"):
        base += "_total"
    return base


def label_name(attribute: str) -> str:
    """Prometheus label of an OTel attribute (``ml.model.name`` → ``ml_model_name``)."""
    return re.sub(r"[^a-zA-Z0-9]+", "_", attribute)
