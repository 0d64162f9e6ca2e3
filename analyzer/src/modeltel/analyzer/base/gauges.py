"""OTel gauges of analysis results: name, unit, description and the attributes a gauge takes
from a result record, and the Prometheus names the OTel → Prometheus rules make of them.

Every gauge carries ``ml.model.name`` and ``ml.model.version`` (plus ``ml.segment`` when the
record belongs to a segment); :attr:`Gauge.attributes` adds the record fields it is broken
down by. The Prometheus name is what the OTel → Prometheus rules make of the OTel name and
unit (dots → underscores, unit ``s`` → ``_seconds``, ``/s`` → ``_per_second``; dimensionless
gauges carry no unit so no suffix is added), e.g. ``ml.latency`` (s) → ``ml_latency_seconds``.
:func:`prometheus_name` computes it; dashboards and alert rules use those names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

MODEL = "ml.model.name"
VERSION = "ml.model.version"
FEATURE = "ml.feature.name"
METHOD = "ml.drift.method"
METRIC = "ml.metric"
METRIC_NAME = "ml.metric.name"
SOURCE = "ml.source"
SEGMENT = "ml.segment"
QUANTILE = "quantile"
ERROR_TYPE = "error.type"
CLASS = "class"


@dataclass(frozen=True)
class Gauge:
    """One gauge: OTel name, UCUM unit ("" when dimensionless), description, and the
    attributes it takes from a result record (attribute name → record field; a field that is
    empty leaves its attribute out)."""

    name: str
    unit: str
    description: str
    attributes: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def prometheus(self) -> str:
        return prometheus_name(self.name, self.unit)


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
