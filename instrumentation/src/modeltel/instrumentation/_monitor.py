"""The monitored call: one span per prediction call (or per slice of a large batch) carrying
the attribute contract (:mod:`modeltel.instrumentation.attributes`, ``docs/attributes.md``),
plus the prediction metrics.

Order of work in a recorded call: read the features (outside the span's time window), start
the span as a child of the current span and make it current, call the model, note the end
time, then set every attribute at once and end the span with that end time, so the span's
duration is the model's latency and not modeltel's bookkeeping. Everything modeltel does
is guarded: a failure is logged once and the prediction goes on; the user's exception is
recorded on the span and re-raised unchanged.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from modeltel.instrumentation import _attributions, _ids, _inputs, _outputs, _sampling
from modeltel.instrumentation import attributes as A
from modeltel.instrumentation._config import Settings, logger, report_once
from modeltel.instrumentation._telemetry import metrics_for, tracer_for

_perf = time.perf_counter
_time_ns = time.time_ns
_random = _ids._rng.random

# Keys of the monitored calls running in this context: nested calls of the same estimator
# (RandomForest.predict calls predict_proba) and estimator calls inside any monitored call
# (under auto-instrumentation) are not recorded twice.
_active: ContextVar[tuple[object, ...]] = ContextVar("modeltel_active_calls", default=())


def error_type(error: BaseException) -> str:
    """The exception's fully qualified class name (``ValueError`` for a built-in one)."""
    kind = type(error)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


class Monitor:
    """Settings, feature knowledge and telemetry handles of one monitored model."""

    def __init__(
        self,
        *,
        name: str,
        version: str,
        task: str | None,
        settings: Settings,
        feature_names: Sequence[str] | None,
        categorical: Sequence[str] | None,
        prediction_id: str | Callable[[Any], Any] | None,
        classes: Sequence[Any] | Callable[[], Sequence[Any] | None] | None,
        tracer_provider: trace.TracerProvider | None,
        meter_provider: Any,
        explainer: Callable[[Any], Any] | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.task = task
        self.settings = settings
        self.classes: Any = classes if classes is None or callable(classes) else list(classes)
        id_column = prediction_id if isinstance(prediction_id, str) else None
        self.id_function = prediction_id if callable(prediction_id) else None
        self.spec = _inputs.FeatureSpec(feature_names, set(categorical or ()), id_column)
        self.span_name = A.span_name(name)
        self.tracer = tracer_for(tracer_provider)
        self.metrics = metrics_for(meter_provider)
        self.ok_series = self.metrics.series(name, version, A.OUTCOME_SUCCESS)
        self.error_series = self.metrics.series(name, version, A.OUTCOME_ERROR)
        self.has_given_ids = id_column is not None or self.id_function is not None
        self.explainer = explainer
        self._keys: dict[str, str] = {}
        self._attribution_keys: dict[str, str] = {}
        self._warned_limit = False

    # -- the two halves of a call ----------------------------------------------------------

    def begin(self, x: Any) -> Call:
        """Everything before the model runs (never raises)."""
        call = Call(self)
        call.input = x
        try:
            rate = self.settings.sample_rate
            if rate < 1.0 and (rate <= 0.0 or _random() >= rate):
                call.rows, call.batch = _inputs.count_rows(x)
            else:
                self._start_span(call, x)
        except Exception:
            report_once((self.name, "begin"), "modeltel failed before a %s prediction", self.name)
        call.start = _perf()
        return call

    def _start_span(self, call: Call, x: Any) -> None:
        parent = otel_context.get_current()
        parent_span = trace.get_current_span(parent).get_span_context()
        unsampled_parent = parent_span.is_valid and not parent_span.trace_flags.sampled
        if not unsampled_parent:
            call.features = self._read_features(x)
        start_ns = _time_ns()
        span = self.tracer.start_span(self.span_name, context=parent, kind=SpanKind.INTERNAL)
        if not span.is_recording():
            call.rows, call.batch = _inputs.count_rows(x)
            call.features = None
            return
        if unsampled_parent:
            call.features = self._read_features(x)
        call.span = span
        call.parent = parent
        call.start_ns = getattr(span, "start_time", None) or start_ns
        call.input = x
        features = call.features
        if features is not None:
            call.rows, call.batch = features.count, features.batch
        else:
            call.rows, call.batch = _inputs.count_rows(x)
        call.token = otel_context.attach(trace.set_span_in_context(span, parent))

    def _read_features(self, x: Any) -> _inputs.Rows | None:
        try:
            rows = _inputs.extract(x, self.spec)
        except Exception:
            report_once(
                (self.name, "features", type(x).__name__),
                "modeltel could not read the features of %s from a %s; they are not recorded",
                self.name,
                type(x).__name__,
            )
            return None
        if rows is None:
            report_once(
                (self.name, "unsupported", type(x).__name__),
                "modeltel does not understand %s inputs of type %s; features are not recorded",
                self.name,
                type(x).__name__,
                exc=False,
            )
        return rows

    def finish(
        self,
        call: Call,
        result: Any,
        error: BaseException | None,
        end: float,
        scores: Callable[[Any, Any], Any] | None = None,
        probabilities: bool = False,
    ) -> None:
        """Everything after the model ran (never raises)."""
        span = call.span
        end_ns = _time_ns() if span is not None else 0
        if call.token is not None:
            try:
                otel_context.detach(call.token)
            except Exception:
                report_once((self.name, "detach"), "modeltel could not restore the context")
        try:
            rows = call.rows
            if error is None and rows == 0:
                rows = _output_rows(result)
            series = self.ok_series if error is None else self.error_series
            self.metrics.add(series, end - call.start, rows)
            if span is None:
                given = None
                if self.has_given_ids or _ids.supplied_ids() is not None:
                    given = self._given_ids(call, None, rows)
                _ids.set_last(rows, given)
                return
            self._record(call, result, error, end_ns, scores, probabilities)
        except Exception:
            report_once((self.name, "finish"), "modeltel failed after a %s prediction", self.name)
            with contextlib.suppress(Exception):
                _ids.set_last(call.rows, None)  # never leave the previous call's ids
            if span is not None and span.is_recording():
                with contextlib.suppress(Exception):
                    span.end(end_time=end_ns)

    # -- span attributes -------------------------------------------------------------------

    def _record(
        self,
        call: Call,
        result: Any,
        error: BaseException | None,
        end_ns: int,
        scores: Callable[[Any, Any], Any] | None,
        probabilities: bool,
    ) -> None:
        span = call.span
        assert span is not None
        features = call.features
        outputs = None
        batch = call.batch
        rows = call.rows
        if error is None:
            outputs = self._read_outputs(result, batch if rows else None, probabilities)
            if outputs is not None and rows == 0:
                rows = outputs.count
                batch = isinstance(outputs.labels, list) or isinstance(outputs.values, list)
            if outputs is not None and scores is not None and outputs.scores is None:
                outputs.scores = self._extra_scores(scores, call.input, outputs, batch)
            if outputs is not None and outputs.count != rows:
                report_once(
                    (self.name, "mismatch"),
                    "modeltel: %s returned %d predictions for %d rows; predictions not recorded",
                    self.name,
                    outputs.count,
                    rows,
                    exc=False,
                )
                outputs = None
        task = self.task or (outputs.task if outputs is not None else None)
        if self.task is None and task is not None:
            self.task = task
        ids = self._ids(call, features, rows)

        fixed: dict[str, Any] = {}
        per_row: dict[str, Any] = {}
        if features is not None:
            keys = self._keys
            for name, value in features.columns.items():
                key = keys.get(name)
                if key is None:
                    key = keys[name] = A.feature_key(name)
                per_row[key] = value
            if features.categorical:
                cats = features.categorical
                if A.RESERVED_FEATURE in cats:
                    cats = [A.sent_name(c) for c in cats]
                fixed[A.ML_FEATURE_CATEGORICAL] = cats
        if error is None:
            self._add_attributions(call, per_row, rows, batch)
        if outputs is not None:
            if outputs.labels is not None:
                per_row[A.ML_PREDICTION_LABEL] = outputs.labels
            if outputs.scores is not None:
                per_row[A.ML_PREDICTION_SCORE] = outputs.scores
            if outputs.values is not None:
                per_row[A.ML_PREDICTION_VALUE] = outputs.values
        if task is not None:
            fixed[A.ML_TASK] = task
        fixed[A.ML_MODEL_VERSION] = self.version
        fixed[A.ML_MODEL_NAME] = self.name
        weight = _sampling.weight(self.settings.sample_rate, self.tracer)
        if weight != 1.0:
            fixed[A.ML_SAMPLING_WEIGHT] = weight

        if not batch:
            attributes = per_row
            attributes[A.ML_BATCH_SIZE] = 1
            if ids[0] is not None:
                attributes[A.ML_PREDICTION_ID] = ids[0]
            attributes.update(fixed)
            _ids.set_last(1, ids)
            self._end(span, attributes, error, end_ns, first=True)
            return

        limit = self.settings.max_batch_span_rows
        if rows <= limit:
            self._end_batch(span, per_row, fixed, ids, 0, rows, error, end_ns, first=True)
            _ids.set_last(rows, ids)
            return
        if self.settings.batch_overflow == "sample":
            chosen = sorted(_ids._rng.sample(range(rows), limit))
            sampled = {k: [v[i] for i in chosen] for k, v in per_row.items()}
            chosen_ids = [ids[i] for i in chosen]
            fixed[A.ML_SAMPLING_WEIGHT] = _sampling.weight(
                self.settings.sample_rate, self.tracer, rows, limit
            )
            self._end_batch(span, sampled, fixed, chosen_ids, 0, limit, error, end_ns, first=True)
            kept: list[str | None] = [None] * rows
            supplied = call.given_ids
            if supplied is not None:
                kept = list(supplied)
            for i, pid in zip(chosen, chosen_ids, strict=True):
                kept[i] = pid
            _ids.set_last(rows, kept)
            return
        for start in range(0, rows, limit):
            stop = min(start + limit, rows)
            if start == 0:
                target = span
            else:
                target = self.tracer.start_span(
                    self.span_name,
                    context=call.parent,
                    kind=SpanKind.INTERNAL,
                    start_time=call.start_ns,
                )
            self._end_batch(
                target, per_row, fixed, ids, start, stop, error, end_ns, first=start == 0
            )
        _ids.set_last(rows, ids)

    def _add_attributions(
        self, call: Call, per_row: dict[str, Any], rows: int, batch: bool
    ) -> None:
        """``ml.attribution.*`` of the call: the caller's, else the explainer's when sampled."""
        given = _attributions.supplied()
        source = "given"
        if given is not None:
            values = given[0]
        elif self.explainer is not None:
            rate = self.settings.attribution_rate
            if rate <= 0.0 or (rate < 1.0 and _random() >= rate):
                return
            source = "explainer"
            try:
                values = self.explainer(call.input)
            except Exception:
                report_once(
                    (self.name, "explainer"),
                    "modeltel: the explainer of %s failed; attributions are not recorded",
                    self.name,
                )
                return
        else:
            return
        features = call.features
        names = list(features.columns) if features is not None else (self.spec.names or [])
        try:
            columns = _attributions.columns(values, rows, batch, names)
        except _attributions.AttributionError as exc:
            report_once(
                (self.name, "attributions", source),
                "modeltel: %s attributions of %s not recorded: %s",
                source,
                self.name,
                exc,
                exc=False,
            )
            return
        keys = self._attribution_keys
        capture = self.spec.capture
        for name, value in columns.items():
            if value is None:
                continue  # single row: a missing attribution is left out
            if capture is not None and not capture.records(name):
                continue  # a feature that is not recorded has no attribution either
            key = keys.get(name)
            if key is None:
                key = keys[name] = A.attribution_key(name)
            per_row[key] = value

    def _end_batch(
        self,
        span: trace.Span,
        per_row: dict[str, Any],
        fixed: dict[str, Any],
        ids: list[str],
        start: int,
        stop: int,
        error: BaseException | None,
        end_ns: int,
        first: bool,
    ) -> None:
        whole = start == 0 and stop == len(ids)
        attributes = dict(per_row) if whole else {k: v[start:stop] for k, v in per_row.items()}
        attributes[A.ML_BATCH_SIZE] = stop - start
        attributes[A.ML_PREDICTION_ID] = ids if whole else ids[start:stop]
        attributes.update(fixed)
        self._end(span, attributes, error, end_ns, first)

    def _end(
        self,
        span: trace.Span,
        attributes: dict[str, Any],
        error: BaseException | None,
        end_ns: int,
        first: bool,
    ) -> None:
        if error is not None:
            attributes[A.ERROR_TYPE] = error_type(error)
        span.set_attributes(attributes)
        if error is not None:
            if first:
                span.record_exception(error, escaped=True)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        if not self._warned_limit:
            dropped = getattr(span, "dropped_attributes", 0)
            if dropped:
                self._warned_limit = True
                logger.warning(
                    "The tracer provider dropped %d attributes of a %s prediction span (span "
                    "attribute limit reached); raise OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT to at "
                    "least %d or let modeltel.instrumentation.setup() configure the provider",
                    dropped,
                    self.name,
                    len(attributes) + 8,
                )
        span.end(end_time=end_ns)

    def _read_outputs(
        self, result: Any, batch: bool | None, probabilities: bool
    ) -> _outputs.Outputs | None:
        try:
            if batch is None:
                batch = _inputs.count_rows(result)[1] or _looks_like_batch(result)
            classes = self.classes() if callable(self.classes) else self.classes
            outputs = _outputs.read(result, batch, self.task, classes, probabilities)
        except Exception:
            report_once(
                (self.name, "outputs", type(result).__name__),
                "modeltel could not read the predictions of %s from a %s",
                self.name,
                type(result).__name__,
            )
            return None
        if outputs is None:
            report_once(
                (self.name, "unsupported-output", type(result).__name__),
                "modeltel does not understand %s outputs of type %s; predictions not recorded",
                self.name,
                type(result).__name__,
                exc=False,
            )
        return outputs

    def _extra_scores(
        self, scores: Callable[[Any, Any], Any], x: Any, outputs: _outputs.Outputs, batch: bool
    ) -> Any:
        try:
            return scores(x, outputs.labels)
        except Exception:
            report_once(
                (self.name, "scores"),
                "modeltel could not compute the scores of %s predictions",
                self.name,
            )
            return None

    def _ids(self, call: Call, features: _inputs.Rows | None, rows: int) -> list[str]:
        given = self._given_ids(call, features, rows)
        call.given_ids = given
        return _ids.complete_ids(given, rows)

    def _given_ids(
        self, call: Call, features: _inputs.Rows | None, rows: int
    ) -> Sequence[str | None] | None:
        """Ids from the caller (:func:`prediction_ids`), the id column or the id function."""
        given: Sequence[str | None] | None = _ids.supplied_ids()
        if given is None and self.spec.id_column is not None:
            if features is not None:
                given = features.ids
            else:
                given = _inputs.read_id_column(call.input, self.spec.id_column)
        if given is None and self.id_function is not None:
            try:
                derived = self.id_function(call.input)
                if isinstance(derived, (str, int)) or derived is None:
                    given = [_ids.id_text(derived)]
                else:
                    given = [_ids.id_text(v) for v in _ids._iterable(derived)]
            except Exception:
                report_once(
                    (self.name, "id-function"),
                    "modeltel: the prediction_id function of %s failed; ids are generated",
                    self.name,
                )
        if given is not None and len(given) != rows:
            report_once(
                (self.name, "id-count"),
                "modeltel: %d prediction ids given for %d rows of %s; ids are generated",
                len(given),
                rows,
                self.name,
                exc=False,
            )
            given = None
        return given


class Call:
    """State of one call between :meth:`Monitor.begin` and :meth:`Monitor.finish`."""

    __slots__ = (
        "batch",
        "features",
        "given_ids",
        "input",
        "monitor",
        "parent",
        "rows",
        "span",
        "start",
        "start_ns",
        "token",
    )

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.rows = 0
        self.batch = False
        self.features: _inputs.Rows | None = None
        self.span: trace.Span | None = None
        self.token: Any = None
        self.parent: Any = None
        self.start = 0.0
        self.start_ns = 0
        self.input: Any = None
        self.given_ids: Sequence[str | None] | None = None


def _output_rows(result: Any) -> int:
    """Rows of a call whose input was not understood, from what it returned."""
    try:
        shape = getattr(result, "shape", None)
        if shape is not None:
            return int(shape[0]) if len(shape) else 1
        if isinstance(result, (list, tuple)):
            return len(result)
    except Exception:
        pass
    return 1


def _looks_like_batch(result: Any) -> bool:
    if isinstance(result, (list, tuple)):
        return len(result) != 1 or not isinstance(result[0], (int, float, str, bool))
    shape = getattr(result, "shape", None)
    return shape is not None and len(shape) >= 1
