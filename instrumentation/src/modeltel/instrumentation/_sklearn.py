"""``instrument(estimator)``: monitor a scikit-learn-style estimator's predictions.

The estimator keeps working as before: its ``predict``/``predict_proba`` are replaced on the
instance (not the class) by monitored versions that call the originals and return their
results unchanged. Pickling or deep-copying an instrumented estimator gives a plain one
(the monitoring belongs to the running process, not to the model file).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Unpack

from modeltel.instrumentation import _outputs
from modeltel.instrumentation._config import report_once
from modeltel.instrumentation._monitor import Monitor
from modeltel.instrumentation._options import (
    InstrumentOptions,
    check_keywords,
    keywords_signature,
    new_monitor,
)
from modeltel.instrumentation._wrap import run_sync
from modeltel.instrumentation.attributes import TASK_CLASSIFICATION, TASK_REGRESSION

METHODS = ("predict", "predict_proba")


def estimator_task(estimator: Any) -> str | None:
    """``classification``/``regression`` from the estimator's tags, duck-typed."""
    kind = None
    tags = getattr(type(estimator), "__sklearn_tags__", None)
    if tags is not None:
        try:
            kind = tags(estimator).estimator_type
        except Exception:
            kind = None
    if kind is None:
        kind = type(estimator).__dict__.get("_estimator_type") or getattr(
            type(estimator), "_estimator_type", None
        )
    if kind == "classifier":
        return TASK_CLASSIFICATION
    if kind == "regressor":
        return TASK_REGRESSION
    if hasattr(estimator, "predict_proba") or _has(estimator, "classes_"):
        return TASK_CLASSIFICATION
    return None


def _has(estimator: Any, attribute: str) -> bool:
    try:
        return getattr(estimator, attribute, None) is not None
    except Exception:
        return False


def estimator_classes(estimator: Any) -> list[Any] | None:
    try:
        classes = getattr(estimator, "classes_", None)
    except Exception:
        return None
    if classes is None:
        return None
    tolist = getattr(classes, "tolist", None)
    return list(tolist() if tolist is not None else classes)


def estimator_feature_names(estimator: Any) -> list[str] | None:
    try:
        names = getattr(estimator, "feature_names_in_", None)
    except Exception:
        return None
    if names is None:
        return None
    return [str(n) for n in names]


class MonitoredMethod:
    """A monitored bound ``predict``/``predict_proba`` stored on one estimator instance."""

    __slots__ = ("__wrapped__", "estimator", "method", "monitor", "probabilities", "scores")

    def __init__(
        self,
        monitor: Monitor,
        estimator: Any,
        method: str,
        original: Callable[..., Any],
        scores: Callable[[Any, Any], Any] | None,
    ) -> None:
        self.monitor = monitor
        self.estimator = estimator
        self.method = method
        self.__wrapped__ = original
        self.scores = scores
        self.probabilities = method == "predict_proba"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        spec = self.monitor.spec
        if spec.names is None:
            spec.names = estimator_feature_names(self.estimator)
        x = args[0] if args else kwargs.get("X")
        return run_sync(
            self.monitor,
            self.__wrapped__,
            args,
            kwargs,
            x,
            id(self.estimator),
            False,
            self.scores,
            self.probabilities,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Unpickles as the plain bound method of the (unpickled) estimator's class.
        return (getattr, (self.estimator, self.method))

    def __repr__(self) -> str:
        return f"<monitored {self.method} of {self.monitor.name!r}>"


def _original(estimator: Any, method: str) -> Callable[..., Any] | None:
    current = estimator.__dict__.get(method) if hasattr(estimator, "__dict__") else None
    if isinstance(current, MonitoredMethod):
        return current.__wrapped__
    try:
        found = getattr(estimator, method, None)
    except Exception:
        return None
    if found is not None and getattr(found, "_modeltel_auto", False):  # auto-instrumented
        found = found.__wrapped__
    return found if callable(found) else None


def instrument(estimator: Any, **options: Unpack[InstrumentOptions]) -> Any:
    """Monitor the ``predict`` and ``predict_proba`` calls of ``estimator``; return it.

    Feature names come from ``feature_names`` or the estimator's ``feature_names_in_``
    (and the columns of DataFrame inputs); the task from the estimator's type; labels of
    ``predict_proba`` from ``classes_``. A ``predict_proba`` call records the most probable
    class as label and, as score, the probability of the positive class (binary) or of the
    predicted class. A ``predict`` call records labels (or values) only, unless
    ``predict_scores=True``: then recorded calls also run ``predict_proba`` for the scores
    (outside the measured latency). ``explainer`` (for example
    ``shap.TreeExplainer(estimator).shap_values``) records feature attributions on a share
    (``attribution_rate``) of the recorded calls.

    Calling ``instrument`` again replaces the previous settings. Nested calls (a
    ``predict`` calling ``predict_proba``) are recorded once. Other arguments as for
    :func:`monitor`.
    """
    check_keywords(options, InstrumentOptions, "instrument")
    if not hasattr(estimator, "__dict__"):
        raise TypeError(f"cannot instrument {type(estimator).__name__}: it has no __dict__")
    if estimator_task(estimator) is None and not any(
        _original(estimator, m) is not None for m in METHODS
    ):
        raise TypeError(f"{type(estimator).__name__} has neither predict nor predict_proba")
    mon = new_monitor(
        options,
        name=options.get("name") or type(estimator).__name__,
        task=options.get("task") or estimator_task(estimator),
        feature_names=options.get("feature_names") or estimator_feature_names(estimator),
        classes=lambda: estimator_classes(estimator),
    )
    predict_scores = options.get("predict_scores", False)
    proba = _original(estimator, "predict_proba")
    for method in METHODS:
        original = _original(estimator, method)
        if original is None:
            continue
        scores = None
        if method == "predict" and predict_scores and proba is not None:
            scores = _scores_from(proba, estimator)
        estimator.__dict__[method] = MonitoredMethod(mon, estimator, method, original, scores)
    return estimator


instrument.__signature__ = keywords_signature(instrument, InstrumentOptions)  # type: ignore[attr-defined]


def uninstrument_estimator(estimator: Any) -> None:
    """Remove what :func:`instrument` put on ``estimator``."""
    for method in METHODS:
        if isinstance(getattr(estimator, "__dict__", {}).get(method), MonitoredMethod):
            del estimator.__dict__[method]


def _scores_from(proba: Callable[..., Any], estimator: Any) -> Callable[[Any, Any], Any]:
    def scores(x: Any, labels: Any) -> Any:
        batch = isinstance(labels, list)
        try:
            result = proba(x)
        except Exception:
            report_once(("scores", id(estimator)), "modeltel: predict_proba failed for scores")
            return None
        return _outputs.score_of_predicted(labels, result, estimator_classes(estimator), batch)

    return scores
