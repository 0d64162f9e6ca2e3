"""The registry of analyses: :data:`ANALYSES` maps each kind to its
:class:`~modeltel.analyzer.base.analysis.Analysis`, in the order they run (and their results are
listed).

Everything that runs, publishes or shows analyses iterates over it — the Analyzer, the
analysis loop, ``/metrics``, the health score, the API, the web page and the reports — so a
new analysis is one :class:`~modeltel.analyzer.base.analysis.Analysis` added here (or with
:func:`register`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modeltel.analyzer.analyses import (
    attribution,
    custom,
    drift,
    fairness,
    multivariate,
    performance,
    quality,
    service,
)
from modeltel.analyzer.base.analysis import Analysis, MetricSpec, metric_name
from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.results import Result
from modeltel.analyzer.inputs import reference

ANALYSES: dict[str, Analysis] = {
    analysis.kind: analysis
    for analysis in (
        drift.ANALYSIS,
        performance.ANALYSIS,
        service.ANALYSIS,
        quality.ANALYSIS,
        attribution.ANALYSIS,
        multivariate.ANALYSIS,
        custom.ANALYSIS,
        fairness.ANALYSIS,
    )
}

for _analysis in ANALYSES.values():
    if _analysis.reference_stored is not None:
        reference.STORED_HOOKS.append(_analysis.reference_stored)

RESERVED_KINDS = frozenset({"health"})
"""Kinds of result records that are no analysis (the health score, the retrain policy)."""


def register(analysis: Analysis) -> None:
    """Add ``analysis`` to the registry (after the others); ConfigError when its kind is taken
    or reserved, or its catalogue names a metric twice."""
    if analysis.kind in ANALYSES or analysis.kind in RESERVED_KINDS:
        raise ConfigError(f"an analysis of kind {analysis.kind!r} is already known")
    names = [m.name for m in analysis.metrics]
    if len(set(names)) != len(names):
        raise ConfigError(f"analysis {analysis.kind!r} declares a metric twice")
    ANALYSES[analysis.kind] = analysis
    if analysis.reference_stored is not None:
        reference.STORED_HOOKS.append(analysis.reference_stored)


def analysis_of(kind: str) -> Analysis:
    """The analysis of ``kind``; ConfigError naming the known ones."""
    try:
        return ANALYSES[kind]
    except KeyError:
        raise ConfigError(f"unknown analysis {kind!r}; known: {', '.join(ANALYSES)}") from None


def metric_of(record: Mapping[str, Any] | Result) -> MetricSpec | None:
    """The catalogue entry of a result record (None for a kind or a metric no analysis
    declares)."""
    analysis = ANALYSES.get(str(record.get("kind")))
    return analysis.metric(metric_name(record)) if analysis is not None else None
