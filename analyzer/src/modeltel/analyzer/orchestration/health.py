"""The health score of a model version: one number from 0 (bad) to 100 (good).

Formula (from the latest result of each series, i.e. what the gauges show)::

    score = 100 × (1 − Σ wᵢ·bᵢ / Σ wᵢ)      over the components i that have results

with weights drift 30, performance 30, service 20, quality 20, and each component's
*badness* bᵢ ∈ [0, 1] made from record statuses (``ok`` 0, ``warning`` 0.5, ``drift`` and
``alert`` 1; ``info`` and ``no_data`` records do not count). A record counts toward the
component its analysis's catalogue names for its metric
(:attr:`~modeltel.analyzer.base.analysis.MetricSpec.component`); a metric no catalogue declares
does not count.

- **drift**: the mean badness over input features, a feature taking its worst record
  (so the share of drifted features, warnings counting half); a drifted prediction
  (``prediction.*``) or a bad record that names no feature — the inputs drifted jointly
  (multivariate), the model relies on different features (attribution) — each raise it to
  at least 0.5, the latter saying its catalogue ``alarm``.
- **performance**: the worst status among the realized performance metrics (``accuracy``,
  ``f1``, ``rmse`` …); when no realized metric has a status, the estimated ones. Label
  coverage and delay do not count.
- **service**: the worst status among latency, error ratio, volume ratio and staleness.
- **quality**: the mean badness over features (each its worst quality record), each record
  that names no feature (the range-based and the multivariate ``outlier_ratio``) counting as
  one more feature.

A component without results is left out and the weights renormalised; with no component at
all the score is None (status ``no_data``). Status: ``ok`` from 80, ``warning`` from 50,
``alert`` below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from modeltel.analyzer import analyses
from modeltel.analyzer.base.analysis import MetricSpec, metric_name
from modeltel.analyzer.base.gauges import Gauge
from modeltel.analyzer.base.results import Result, Status

KIND = "health"
"""The kind of the health score's and the retrain policy's records."""
METRICS = (
    MetricSpec(
        "health_score",
        Gauge("ml.health.score", "", "Model health score, 0 (bad) to 100 (good)"),
        higher_is_better=True,
        bounds=(0.0, 100.0),
    ),
    MetricSpec(
        "retrain_recommended",
        Gauge("ml.retrain.recommended", "", "1 while the retrain policy recommends retraining"),
        higher_is_better=False,
        bounds=(0.0, 1.0),
    ),
)
"""The metrics of kind ``health``."""

WEIGHTS = {"drift": 30.0, "performance": 30.0, "service": 20.0, "quality": 20.0}
BADNESS = {"ok": 0.0, "warning": 0.5, "drift": 1.0, "alert": 1.0}
OK_FROM = 80.0
WARNING_FROM = 50.0

Record = Mapping[str, Any] | Result


def metric_of(record: Record) -> MetricSpec | None:
    """The catalogue entry of a record of any kind: an analysis's, or the health score's."""
    if record.get("kind") == KIND:
        return next((m for m in METRICS if m.name == metric_name(record)), None)
    return analyses.metric_of(record)


@dataclass(frozen=True)
class HealthScore:
    """The score (None without data), its status, per-component badness and the reasons."""

    score: float | None
    status: Status
    components: Mapping[str, float] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()

    def to_details(self) -> dict[str, Any]:
        return {
            "components": {k: round(v, 6) for k, v in self.components.items()},
            "weights": {k: WEIGHTS[k] for k in self.components},
            "reasons": list(self.reasons),
        }


def status_of(score: float | None) -> Status:
    """``ok`` / ``warning`` / ``alert`` for a score; ``no_data`` for None."""
    if score is None:
        return Status.NO_DATA
    if score >= OK_FROM:
        return Status.OK
    if score >= WARNING_FROM:
        return Status.WARNING
    return Status.ALERT


def health_score(results: pd.DataFrame | Iterable[Record]) -> HealthScore:
    """Health of one model version from its latest result records (a tidy DataFrame or
    records): each counts toward the component its catalogue entry names."""
    records = results.to_dict("records") if isinstance(results, pd.DataFrame) else list(results)
    by_component: dict[str, list[tuple[Record, MetricSpec]]] = {}
    for record in records:
        spec = metric_of(record)
        if spec is not None and spec.component in WEIGHTS and _badness(record) is not None:
            by_component.setdefault(spec.component, []).append((record, spec))
    components: dict[str, float] = {}
    reasons: list[str] = []
    for name, compute in COMPONENTS.items():
        outcome = compute(by_component.get(name, []))
        if outcome is not None:
            components[name], why = outcome
            reasons.extend(why)
    if not components:
        return HealthScore(None, Status.NO_DATA)
    total = sum(WEIGHTS[k] for k in components)
    score = 100.0 * (1.0 - sum(WEIGHTS[k] * b for k, b in components.items()) / total)
    score = min(100.0, max(0.0, score))
    return HealthScore(score, status_of(score), components, tuple(reasons))


Counted = list[tuple[Record, MetricSpec]]
Outcome = tuple[float, list[str]] | None


def _badness(record: Record) -> float | None:
    return BADNESS.get(str(record.get("status") or ""))


def _feature(record: Record) -> str | None:
    feature = record.get("feature")
    if feature is None or (isinstance(feature, float) and feature != feature):
        return None
    return str(feature)


def _worst_per_feature(records: Counted) -> dict[str, float]:
    worst: dict[str, float] = {}
    for record, _ in records:
        feature = _feature(record)
        if feature is None:
            continue
        bad = _badness(record) or 0.0
        worst[feature] = max(worst.get(feature, 0.0), bad)
    return worst


def _alarms(records: Counted) -> list[str]:
    """The alarms of the bad records that name no feature, each once."""
    bad = [
        spec.alarm
        for record, spec in records
        if _feature(record) is None and (_badness(record) or 0.0) >= 1.0 and spec.alarm
    ]
    return list(dict.fromkeys(bad))


def _drift(records: Counted) -> Outcome:
    per_feature = _worst_per_feature(records)
    joint = [(r, s) for r, s in records if _feature(r) is None]
    inputs = {f: b for f, b in per_feature.items() if not f.startswith("prediction.")}
    outputs = {f: b for f, b in per_feature.items() if f.startswith("prediction.")}
    if not inputs and not outputs and not joint:
        return None
    badness = sum(inputs.values()) / len(inputs) if inputs else 0.0
    reasons = []
    drifted = sorted(f for f, b in inputs.items() if b >= 1.0)
    if drifted:
        reasons.append(
            f"{len(drifted)} of {len(inputs)} features drifted ({', '.join(drifted[:5])}"
            + (", …)" if len(drifted) > 5 else ")")
        )
    if any(b >= 1.0 for b in outputs.values()):
        badness = max(badness, 0.5)
        reasons.append("the predictions drifted")
    alarms = _alarms(joint)
    if alarms:
        badness = max(badness, 0.5)
        reasons.extend(alarms)
    return badness, reasons


def _worst(records: Counted, label: str) -> Outcome:
    if not records:
        return None
    worst = max((r for r, _ in records), key=lambda r: _badness(r) or 0.0)
    badness = _badness(worst) or 0.0
    reasons = []
    if badness > 0:
        what = worst.get("metric") or worst.get("method") or label
        value = worst.get("value")
        shown = f" {value:.4g}" if isinstance(value, (int, float)) else ""
        reasons.append(f"{label}: {what}{shown} ({worst.get('status')})")
    return badness, reasons


def _performance(records: Counted) -> Outcome:
    realized = [(r, s) for r, s in records if (r.get("source") or "realized") == "realized"]
    estimated = [(r, s) for r, s in records if r.get("source") == "estimated"]
    return _worst(realized or estimated, "performance" if realized else "estimated performance")


def _service(records: Counted) -> Outcome:
    return _worst(records, "service")


def _quality(records: Counted) -> Outcome:
    per_feature = _worst_per_feature(records)
    dataset = [_badness(r) or 0.0 for r, _ in records if _feature(r) is None]
    values = list(per_feature.values()) + dataset
    if not values:
        return None
    reasons = []
    bad = sorted(f for f, b in per_feature.items() if b >= 1.0)
    if bad:
        reasons.append(
            f"data quality alerts on {', '.join(bad[:5])}" + (", …" if len(bad) > 5 else "")
        )
    reasons.extend(_alarms(records))
    return sum(values) / len(values), reasons


COMPONENTS: dict[str, Callable[[Counted], Outcome]] = {
    "drift": _drift,
    "performance": _performance,
    "service": _service,
    "quality": _quality,
}
"""How each component's badness comes from the records that count toward it."""


def health_records(
    model: str,
    version: str,
    latest: pd.DataFrame | Iterable[Mapping[str, Any]],
    *,
    window_start: Any,
    window_end: Any,
    run_id: str = "",
) -> tuple[HealthScore, list[Result]]:
    """The ``kind=health, metric=health_score`` record of a model version."""
    health = health_score(latest)
    record = Result(
        model=model,
        version=version,
        window_start=window_start,
        window_end=window_end,
        kind=KIND,
        metric="health_score",
        value=health.score,
        threshold=WARNING_FROM,
        status=health.status,
        details=health.to_details(),
        run_id=run_id,
    )
    return health, [record]
