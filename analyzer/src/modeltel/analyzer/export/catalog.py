"""The analyzer gauges and how each ``ml_results`` record becomes gauge values.

The gauges are those the catalogues declare: every registered analysis's
(:data:`modeltel.analyzer.analyses.ANALYSES`) and the health score's
(:data:`modeltel.analyzer.orchestration.health.METRICS`). A record of a catalogued metric is
published as

- its value, on the metric's gauge (when it has a value);
- its threshold, on the metric's threshold gauge (when it has one);
- its decision, 1 for ``drift``/``alert`` and 0 for ``ok``/``warning``, on the metric's
  verdict gauge,

each with ``ml.model.name``, ``ml.model.version`` (``ml.segment`` when the record belongs to a
segment), the attributes the gauge takes from the record (:attr:`Gauge.attributes`) and the
metric's fixed ones. Records of metrics no catalogue declares are not published. Prometheus
names follow :func:`~modeltel.analyzer.base.gauges.prometheus_name`; dashboards and alert rules
use them, and a test checks they agree with what ``/metrics`` serves.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from modeltel.analyzer.analyses import ANALYSES
from modeltel.analyzer.base.gauges import (
    MODEL,
    SEGMENT,
    VERSION,
    Gauge,
    label_name,
    prometheus_name,
)
from modeltel.analyzer.base.results import BAD, VERDICTS, Result
from modeltel.analyzer.orchestration import health

__all__ = [
    "GAUGES",
    "MODEL",
    "VERSION",
    "Gauge",
    "Observation",
    "gauges",
    "label_name",
    "observations",
    "prometheus_name",
]


def gauges() -> tuple[Gauge, ...]:
    """Every gauge of the registered analyses and of the health score, each once."""
    analysis_gauges = [g for a in ANALYSES.values() for g in a.gauges]
    health_gauges = [g for spec in health.METRICS for g in spec.gauges]
    return tuple(dict.fromkeys(analysis_gauges + health_gauges))


GAUGES = gauges()
"""The gauges of the built-in analyses (:func:`gauges` also lists those registered later)."""


@dataclass(frozen=True)
class Observation:
    """One gauge value with its attributes."""

    gauge: str
    value: float
    attributes: Mapping[str, str]


def observations(record: Mapping[str, Any] | Result) -> Iterator[Observation]:
    """The gauge values one tidy result record stands for (none for uncatalogued metrics)."""
    spec = health.metric_of(record)
    if spec is None:
        return
    base = {MODEL: str(record["model"]), VERSION: str(record["version"])}
    if record.get("segment"):
        base[SEGMENT] = str(record["segment"])

    def attributes(gauge: Gauge) -> dict[str, str]:
        taken = {name: record.get(f) for name, f in gauge.attributes.items()}
        given = {name: str(v) for name, v in taken.items() if v is not None and v != ""}
        return {**base, **given, **spec.attributes}

    status = record.get("status")
    if spec.verdict_gauge is not None and status in VERDICTS:
        detected = 1.0 if status in BAD else 0.0
        yield Observation(spec.verdict_gauge.name, detected, attributes(spec.verdict_gauge))
    threshold = _number(record.get("threshold"))
    if spec.threshold_gauge is not None and threshold is not None:
        yield Observation(spec.threshold_gauge.name, threshold, attributes(spec.threshold_gauge))
    value = _number(record.get("value"))
    if spec.gauge is not None and value is not None:
        yield Observation(spec.gauge.name, value, attributes(spec.gauge))


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, str):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number  # NaN is "no value"
