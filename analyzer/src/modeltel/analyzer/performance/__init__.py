"""Performance of deployed models: realized metrics joined with late labels, label coverage
and delay, and confidence-based estimates before the labels arrive.

Everything is computed in ClickHouse (:mod:`.queries`); :mod:`.metrics` turns the counts into
numbers equal to scikit-learn's, :mod:`.analysis` into tidy result records.
"""

from modeltel.analyzer.performance.analysis import (
    ModelTask,
    choose_positive,
    compute_performance,
    describe_model,
    last_computed,
    late_label_windows,
)
from modeltel.analyzer.performance.config import PerformanceConfig, load_performance_config
from modeltel.analyzer.performance.queries import SlidingWindows, TimeWindows

__all__ = [
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
]
