"""Performance of deployed models: realized metrics joined with late labels, label coverage
and delay, and confidence-based estimates before the labels arrive.

Everything is computed in ClickHouse (:mod:`.queries`); :mod:`.metrics` turns the counts into
numbers equal to scikit-learn's, :mod:`.analysis` into tidy result records; :mod:`.catalogue`
says what each metric means. :data:`ANALYSIS` is its entry in
:data:`modeltel.analyzer.analyses.ANALYSES`.
"""

from modeltel.analyzer.analyses.performance.analysis import (
    ModelTask,
    choose_positive,
    compute_performance,
    describe_model,
    last_computed,
    late_label_windows,
    performance_results,
)
from modeltel.analyzer.analyses.performance.catalogue import METRICS
from modeltel.analyzer.analyses.performance.config import PerformanceConfig, load_performance_config
from modeltel.analyzer.analyses.performance.records import KIND
from modeltel.analyzer.base.analysis import Analysis
from modeltel.analyzer.base.query import SlidingWindows, TimeWindows

ANALYSIS = Analysis(
    kind=KIND,
    title="Realized and estimated performance, label coverage and delay",
    settings=PerformanceConfig,
    compute=performance_results,
    metrics=METRICS,
)

__all__ = [
    "ANALYSIS",
    "METRICS",
    "ModelTask",
    "PerformanceConfig",
    "SlidingWindows",
    "TimeWindows",
    "choose_positive",
    "compute_performance",
    "describe_model",
    "last_computed",
    "late_label_windows",
    "load_performance_config",
    "performance_results",
]
