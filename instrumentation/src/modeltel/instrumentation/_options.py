"""The keyword arguments of ``monitor()``, ``instrument()`` and the auto-instrumentation,
declared once, and the :class:`~modeltel.instrumentation._monitor.Monitor` they make.

:class:`Options` names and types the arguments the three share (their meaning is documented
on :func:`~modeltel.instrumentation.monitor`); :class:`MonitorOptions` and
:class:`InstrumentOptions` add each function's own. The public functions take
``**options: Unpack[...]``, so type checkers see every keyword, and carry a generated
``__signature__`` (:func:`keywords_signature`), so ``help()`` and :mod:`inspect` show them too.
Precedence of the settings: argument > ``MODELTEL_*`` variable > default (:mod:`._config`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

from opentelemetry import trace

from modeltel.instrumentation import _config
from modeltel.instrumentation._monitor import Monitor
from modeltel.instrumentation.attributes import TASK_CLASSIFICATION, TASK_REGRESSION
from modeltel.instrumentation.capture import Capture, resolve_capture

TASKS = (TASK_CLASSIFICATION, TASK_REGRESSION)


class Options(TypedDict, total=False):
    """Arguments every monitored model takes; all optional, ``None`` meaning the default."""

    name: str | None
    version: str | None
    task: str | None
    feature_names: Sequence[str] | None
    categorical: Sequence[str] | None
    sample_rate: float | None
    prediction_id: str | Callable[[Any], Any] | None
    max_batch_span_rows: int | None
    batch_overflow: str | None
    explainer: Callable[[Any], Any] | None
    attribution_rate: float | None
    features_include: Sequence[str] | None
    features_exclude: Sequence[str] | None
    feature_treatments: Mapping[str, str] | None
    hash_salt: str | None
    tracer_provider: trace.TracerProvider | None
    meter_provider: Any


class MonitorOptions(Options, total=False):
    """``monitor()``: plus the class labels of a probability output."""

    classes: Sequence[Any] | None


class InstrumentOptions(Options, total=False):
    """``instrument()``: plus whether ``predict`` calls also record scores."""

    predict_scores: bool


AUTO_OPTIONS = (
    "name",
    "version",
    "categorical",
    "sample_rate",
    "prediction_id",
    "max_batch_span_rows",
    "batch_overflow",
    "features_include",
    "features_exclude",
    "feature_treatments",
    "hash_salt",
    "tracer_provider",
    "meter_provider",
)
"""What ``SklearnInstrumentor().instrument(**options)`` passes on to every estimator."""

_DEFAULTS: dict[str, Any] = {"predict_scores": False}


def check_keywords(options: Mapping[str, Any], kind: type, function: str) -> None:
    """TypeError, as Python raises it, for a keyword ``kind`` does not declare."""
    for key in options:
        if key not in kind.__annotations__:
            raise TypeError(f"{function}() got an unexpected keyword argument {key!r}")


def keywords_signature(function: Callable[..., Any], kind: type) -> inspect.Signature:
    """The signature ``function`` shows: its positional parameters, then every key of ``kind``
    as a keyword-only parameter defaulting to ``None`` (``predict_scores`` to ``False``)."""
    signature = inspect.signature(function)
    positional = [
        p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    keywords = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=_DEFAULTS.get(name),
            annotation=getattr(annotation, "__forward_arg__", annotation),
        )
        for name, annotation in kind.__annotations__.items()
    ]
    return signature.replace(parameters=[*positional, *keywords])


def new_monitor(
    options: Options,
    *,
    name: str,
    task: str | None,
    feature_names: Sequence[str] | None,
    classes: Any,
) -> Monitor:
    """The monitor of ``options`` with the model's ``name``, ``task``, ``feature_names`` and
    ``classes`` as the caller resolved them; ValueError when an argument is invalid."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if task is not None and (not isinstance(task, str) or not task):
        raise ValueError(f"task must be one of {TASKS} (or another non-empty string)")
    categorical = options.get("categorical")
    if isinstance(categorical, str):
        categorical = [categorical]
    if isinstance(feature_names, str):
        raise ValueError("feature_names must be a sequence of names, not one string")
    prediction_id = options.get("prediction_id")
    if prediction_id is not None and not isinstance(prediction_id, str | Callable):
        raise ValueError("prediction_id must be an id column name or a function of the input")
    explainer = options.get("explainer")
    if explainer is not None and not callable(explainer):
        raise ValueError("explainer must be a function of the model input returning attributions")
    capture = resolve_options_capture(options)
    monitor = Monitor(
        name=name,
        version=_config.resolve_version(options.get("version")),
        task=task,
        settings=_config.resolve_settings(
            options.get("sample_rate"),
            options.get("max_batch_span_rows"),
            options.get("batch_overflow"),
            options.get("attribution_rate"),
        ),
        feature_names=[str(n) for n in feature_names] if feature_names is not None else None,
        categorical=[str(c) for c in categorical] if categorical is not None else None,
        prediction_id=prediction_id,
        classes=classes,
        tracer_provider=options.get("tracer_provider"),
        meter_provider=options.get("meter_provider"),
        explainer=explainer,
    )
    monitor.spec.capture = None if capture.is_default else capture
    return monitor


def resolve_options_capture(options: Options) -> Capture:
    """The capture settings of ``options`` (else the ``MODELTEL_*`` variables); ValueError
    naming the option when one is invalid. Warns once when features are hashed unsalted."""
    capture = resolve_capture(
        options.get("features_include"),
        options.get("features_exclude"),
        options.get("feature_treatments"),
        options.get("hash_salt"),
    )
    warning = capture.unsalted_warning()
    if warning is not None:
        _config.report_once(("capture", "unsalted"), "modeltel: %s", warning, exc=False)
    return capture
