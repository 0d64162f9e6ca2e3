"""Auto-instrumentation of scikit-learn: ``opentelemetry-instrument python app.py``.

:class:`SklearnInstrumentor` is registered under the ``opentelemetry_instrumentor`` entry
point (name ``sklearn``), so ``opentelemetry-instrument`` loads it and every scikit-learn
estimator's ``predict``/``predict_proba`` calls are monitored with no code change. It can
also be used directly::

    SklearnInstrumentor().instrument(sample_rate=0.1)

How: the methods are wrapped where they are defined (the class in the MRO that owns them,
for example ``LinearClassifierMixin.predict``), for every ``BaseEstimator`` subclass already
imported and, through ``BaseEstimator.__init_subclass__``, every one defined later.
Only the outermost call is recorded: a ``Pipeline.predict`` is one prediction, not one per
step, and predictions made inside ``fit``/``partial_fit``/``score`` (out-of-bag scores,
early stopping) are not recorded at all. The model name is ``$MODELTEL_MODEL_NAME`` or the
estimator's class name, the version ``$MODELTEL_MODEL_VERSION`` or ``"unversioned"``;
:func:`~modeltel.instrumentation.instrument` on an estimator overrides both for it.
``instrument()``/``uninstrument()`` are idempotent and ``uninstrument()`` restores the
original methods.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Collection
from typing import Any, cast

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from modeltel.instrumentation import environment_variables as env
from modeltel.instrumentation._config import logger, report_once
from modeltel.instrumentation._monitor import Monitor, _active
from modeltel.instrumentation._options import (
    AUTO_OPTIONS,
    Options,
    new_monitor,
    resolve_options_capture,
)
from modeltel.instrumentation._sklearn import (
    estimator_classes,
    estimator_feature_names,
    estimator_task,
)
from modeltel.instrumentation._wrap import run_sync

PREDICT_METHODS = ("predict", "predict_proba")
GUARD_METHODS = ("fit", "partial_fit", "score")


class _State:
    """Settings of one ``instrument()`` and the monitor of each estimator instance."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.enabled = True
        self._lock = threading.Lock()
        self._monitors: weakref.WeakKeyDictionary[Any, Monitor] = weakref.WeakKeyDictionary()

    def monitor(self, estimator: Any) -> Monitor:
        try:
            found = self._monitors.get(estimator)
        except TypeError:  # not weak-referenceable
            found = None
        if found is not None:
            return found
        with self._lock:
            options = self.options
            name = options.get("name") or _env(env.MODELTEL_MODEL_NAME) or type(estimator).__name__
            found = new_monitor(
                options,
                name=name,
                task=estimator_task(estimator),
                feature_names=estimator_feature_names(estimator),
                classes=lambda: estimator_classes(estimator),
            )
            with contextlib.suppress(TypeError):
                self._monitors[estimator] = found
            return found


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


class _Bound:
    """What ``estimator.predict`` returns while instrumented: the monitored bound method."""

    __slots__ = ("__wrapped__", "descriptor", "estimator")
    _modeltel_auto = True

    def __init__(self, descriptor: _Patched, estimator: Any, bound: Callable[..., Any]) -> None:
        self.descriptor = descriptor
        self.estimator = estimator
        self.__wrapped__ = bound

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        descriptor = self.descriptor
        state = descriptor.state
        if not state.enabled:
            return self.__wrapped__(*args, **kwargs)
        if descriptor.guard_only:
            token = _active.set((*_active.get(), id(self.estimator)))
            try:
                return self.__wrapped__(*args, **kwargs)
            finally:
                _active.reset(token)
        if _active.get():
            return self.__wrapped__(*args, **kwargs)
        try:
            monitor = state.monitor(self.estimator)
        except Exception:
            report_once(("auto", "monitor"), "modeltel could not monitor a scikit-learn estimator")
            return self.__wrapped__(*args, **kwargs)
        x = args[0] if args else kwargs.get("X")
        return run_sync(
            monitor,
            self.__wrapped__,
            args,
            kwargs,
            x,
            id(self.estimator),
            True,
            None,
            descriptor.name == "predict_proba",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (getattr, (self.estimator, self.descriptor.name))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__wrapped__, name)


class _Patched:
    """Class-level replacement of a method; keeps the original descriptor's behaviour
    (``available_if`` still hides ``predict_proba`` when the final step lacks it)."""

    def __init__(self, original: Any, name: str, state: _State, guard_only: bool) -> None:
        self.original = original
        self.name = name
        self.state = state
        self.guard_only = guard_only
        self.__doc__ = getattr(original, "__doc__", None)
        self.__wrapped__ = original

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        bound = self.original.__get__(obj, owner)
        if obj is None:
            return bound
        return _Bound(self, obj, bound)


class SklearnInstrumentor(BaseInstrumentor):
    """Monitors every scikit-learn estimator's predictions (``opentelemetry-instrument``).

    ``instrument(**options)`` accepts the options named in ``AUTO_OPTIONS``
    (``tracer_provider``, ``meter_provider``, ``sample_rate``, ``version``, ``name``,
    ``categorical``, ``prediction_id``, ``max_batch_span_rows``, ``batch_overflow`` and the
    capture settings ``features_include``, ``features_exclude``, ``feature_treatments`` and
    ``hash_salt``), with the meaning they have in :func:`~modeltel.instrumentation.monitor`;
    others are ignored. Invalid capture settings (arguments or ``MODELTEL_*`` variables)
    raise ValueError here, before any estimator is patched.
    """

    _patched: list[tuple[type, str, Any]]
    _hook: tuple[type, Any] | None = None
    _state: _State | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("scikit-learn >= 1.0",)

    def _instrument(self, **kwargs: Any) -> None:
        try:
            from sklearn.base import BaseEstimator
        except ImportError:
            logger.debug("scikit-learn is not installed; nothing to instrument")
            return
        options = cast(Options, {k: v for k, v in kwargs.items() if k in AUTO_OPTIONS})
        resolve_options_capture(options)  # a bad privacy setting fails here, not per estimator
        state = _State(options)
        self._state = state
        self._patched = []
        stack = [BaseEstimator]
        seen: set[type] = set()
        while stack:
            cls = stack.pop()
            if cls in seen:
                continue
            seen.add(cls)
            self._patch_class(cls, state)
            stack.extend(cls.__subclasses__())
        self._install_hook(BaseEstimator, state)

    def _patch_class(self, cls: type, state: _State) -> None:
        for name in PREDICT_METHODS + GUARD_METHODS:
            for klass in cls.__mro__:
                if klass is object:
                    break
                attribute = klass.__dict__.get(name)
                if attribute is None:
                    continue
                if not isinstance(attribute, _Patched):
                    try:
                        setattr(
                            klass, name, _Patched(attribute, name, state, name in GUARD_METHODS)
                        )
                    except (TypeError, AttributeError):
                        break
                    self._patched.append((klass, name, attribute))
                break

    def _install_hook(self, base: type, state: _State) -> None:
        had_own = "__init_subclass__" in base.__dict__
        own = base.__dict__.get("__init_subclass__")
        instrumentor = self

        def __init_subclass__(cls: type, **kwargs: Any) -> None:
            if own is not None:
                own.__get__(None, cls)(**kwargs)
            else:
                super(cast(Any, base), cast(Any, cls)).__init_subclass__(**kwargs)
            if state.enabled:
                try:
                    instrumentor._patch_class(cls, state)
                except Exception:
                    report_once(("auto", "subclass"), "modeltel could not patch %s", cls)

        base.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[assignment]
        self._hook = (base, own if had_own else None)

    def _uninstrument(self, **kwargs: Any) -> None:
        state = self._state
        if state is not None:
            state.enabled = False
        for klass, name, original in reversed(getattr(self, "_patched", [])):
            if isinstance(klass.__dict__.get(name), _Patched):
                setattr(klass, name, original)
        self._patched = []
        if self._hook is not None:
            base, own = self._hook
            if own is not None:
                base.__init_subclass__ = own  # type: ignore[method-assign]
            else:
                with contextlib.suppress(AttributeError):
                    del base.__init_subclass__
            self._hook = None
        self._state = None
