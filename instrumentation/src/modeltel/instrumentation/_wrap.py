"""``monitor()``: the decorator/wrapper around any predict function, sync or async."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, Unpack, overload

from modeltel.instrumentation._monitor import Call, Monitor, _active, _perf
from modeltel.instrumentation._options import (
    MonitorOptions,
    check_keywords,
    keywords_signature,
    new_monitor,
)

F = TypeVar("F", bound=Callable[..., Any])
Picker = Callable[[tuple[Any, ...], dict[str, Any]], Any]


def run_sync(
    monitor: Monitor,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    x: Any,
    key: object,
    guard_any: bool,
    scores: Callable[[Any, Any], Any] | None = None,
    probabilities: bool = False,
) -> Any:
    """Call ``fn`` as one monitored prediction (``x`` is its input)."""
    active = _active.get()
    if active and (guard_any or key in active):
        return fn(*args, **kwargs)
    call: Call = monitor.begin(x)
    token = _active.set((*active, key))
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:
        end = _perf()
        monitor.finish(call, None, exc, end)
        _active.reset(token)
        raise
    end = _perf()
    monitor.finish(call, result, None, end, scores, probabilities)
    _active.reset(token)
    return result


async def run_async(
    monitor: Monitor,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    x: Any,
    key: object,
    guard_any: bool,
) -> Any:
    """Await ``fn`` as one monitored prediction: the latency includes the awaiting."""
    active = _active.get()
    if active and (guard_any or key in active):
        return await fn(*args, **kwargs)
    call: Call = monitor.begin(x)
    token = _active.set((*active, key))
    try:
        result = await fn(*args, **kwargs)
    except BaseException as exc:
        end = _perf()
        monitor.finish(call, None, exc, end)
        _active.reset(token)
        raise
    end = _perf()
    monitor.finish(call, result, None, end)
    _active.reset(token)
    return result


def input_picker(fn: Callable[..., Any]) -> Picker:
    """How to find the model input among a call's arguments.

    The input is the first positional parameter (after ``self``/``cls`` for a function
    defined in a class), given by position or by name; a function taking only ``**kwargs``
    gets its keyword arguments read as one row.
    """
    index, name = 0, None
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if positional and positional[0].name in ("self", "cls") and not inspect.ismethod(fn):
        index = 1
    if len(positional) > index:
        parameter = positional[index]
        if parameter.kind == parameter.POSITIONAL_OR_KEYWORD:
            name = parameter.name

    def pick(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if len(args) > index:
            return args[index]
        if kwargs:
            if name is not None and name in kwargs:
                return kwargs[name]
            return kwargs
        return None

    return pick


def wrap_function(monitor: Monitor, fn: Callable[..., Any]) -> Callable[..., Any]:
    pick = input_picker(fn)
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - async callable objects
    ):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            return await run_async(monitor, fn, args, kwargs, pick(args, kwargs), monitor, False)

        async_wrapper.modeltel_monitor = monitor  # type: ignore[attr-defined]
        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return run_sync(monitor, fn, args, kwargs, pick(args, kwargs), monitor, False)

    wrapper.modeltel_monitor = monitor  # type: ignore[attr-defined]
    return wrapper


@overload
def monitor(fn: F, /, **options: Unpack[MonitorOptions]) -> F: ...


@overload
def monitor(fn: None = None, /, **options: Unpack[MonitorOptions]) -> Callable[[F], F]: ...


def monitor(fn: Callable[..., Any] | None = None, /, **options: Unpack[MonitorOptions]) -> Any:
    """Monitor a predict function: every call becomes a prediction span plus metrics.

    Use it as a decorator (``@monitor(name="churn")``) or as a wrapper
    (``predict = monitor(model.predict, name="churn")``), on plain or ``async`` functions.
    The wrapped function's input is its first argument (after ``self``): a pandas
    DataFrame, a numpy array, a dict, a list of dicts or rows, or a scalar row. What it
    returns is handed back unchanged, and read as labels, scores/probabilities or values.
    The span's attributes are the attribute contract's (``docs/attributes.md``).

    Args:
        name: ``ml.model.name`` (default: the function's qualified name).
        version: ``ml.model.version``; else ``$MODELTEL_MODEL_VERSION``, else
            ``"unversioned"``.
        task: ``"classification"`` or ``"regression"``; inferred from the outputs when
            omitted (float values mean regression).
        feature_names: names of the columns of array inputs (default ``x0``, ``x1``...).
        categorical: features to treat as categorical even when their values are numbers
            (string and boolean features always are).
        sample_rate: share of calls recorded as spans; else ``$MODELTEL_SAMPLE_RATE``, else 1.
            Metrics count every call.
        prediction_id: where ids come from: the name of an id column/key of the input
            (left out of the features) or a function of the input returning the ids.
            Ids supplied with :func:`prediction_ids` win; missing ids are generated
            (UUIDv7). :func:`last_prediction_ids` reads them after the call.
        classes: class labels of the columns of a probability output (default: the
            column index).
        max_batch_span_rows: most rows per span; else ``$MODELTEL_MAX_BATCH_SPAN_ROWS``,
            else 1000.
        batch_overflow: ``"split"`` or ``"sample"`` for larger calls; else
            ``$MODELTEL_BATCH_OVERFLOW``, else ``"split"``.
        explainer: a function of the model input returning its feature attributions (for
            example SHAP values: rows × features), recorded as ``ml.attribution.<feature>``.
            It runs after the model, outside the recorded latency, on a share of the
            recorded calls; see :func:`~modeltel.instrumentation.attributions` for the
            values understood and for attributions computed by the caller.
        attribution_rate: share of recorded calls the explainer runs on; else
            ``$MODELTEL_ATTRIBUTION_RATE``, else 0.1.
        features_include: allowlist: the only features recorded; else
            ``$MODELTEL_FEATURES_INCLUDE`` (comma-separated), else every feature.
        features_exclude: denylist: features never recorded; else
            ``$MODELTEL_FEATURES_EXCLUDE``.
        feature_treatments: feature name → ``"drop"`` (never recorded) or ``"hash"``
            (recorded as ``h:`` + 16 hex digits of HMAC-SHA256 of its text, categorical);
            else ``$MODELTEL_FEATURE_TREATMENTS`` (``postcode:hash,name:drop``).
        hash_salt: the key of ``hash``; else ``$MODELTEL_HASH_SALT``. Without one hashes
            are unsalted and a warning is logged once (``docs/capture.md``).
        tracer_provider: provider of the spans (default: the global one).
        meter_provider: provider of the metrics (default: the global one).

    Raises:
        ValueError: when an argument is invalid (at decoration time, never during a call),
            or a capture variable (``MODELTEL_FEATURES_*``, ``MODELTEL_FEATURE_TREATMENTS``) is.
        TypeError: for an unknown keyword argument.
    """
    check_keywords(options, MonitorOptions, "monitor")

    def decorate(target: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(target):
            raise TypeError(f"monitor() wraps a callable, got {type(target).__name__}")
        owner = getattr(target, "__self__", None)  # e.g. monitor(model.predict_proba)
        name = options.get("name")
        feature_names = options.get("feature_names")
        classes = options.get("classes")
        mon = new_monitor(
            options,
            name=name if name is not None else _default_name(target),
            task=options.get("task"),
            feature_names=feature_names
            if feature_names is not None or owner is None
            else _owner_feature_names(owner),
            classes=classes
            if classes is not None or owner is None or not hasattr(owner, "classes_")
            else (lambda: _owner_classes(owner)),
        )
        return wrap_function(mon, target)

    if fn is None:
        return decorate
    return decorate(fn)


monitor.__signature__ = keywords_signature(monitor, MonitorOptions)  # type: ignore[attr-defined]


def _owner_classes(owner: Any) -> list[Any] | None:
    classes = getattr(owner, "classes_", None)
    if classes is None:
        return None
    tolist = getattr(classes, "tolist", None)
    return list(tolist() if tolist is not None else classes)


def _owner_feature_names(owner: Any) -> list[str] | None:
    names = getattr(owner, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def _default_name(fn: Callable[..., Any]) -> str:
    owner = getattr(fn, "__self__", None)
    if owner is not None and not isinstance(owner, type):
        return type(owner).__name__
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or "model")
