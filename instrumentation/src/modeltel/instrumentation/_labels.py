"""``log_labels``: ground truth as OTel log records (event ``ml.label``).

One record carries up to ``MAX_LABELS_PER_RECORD`` labels as parallel arrays
(``ml.prediction.id`` string[], ``ml.label`` string[], ``ml.label.value`` double[] when
labels are numbers); a single label is sent with scalar attributes. The names and rules are
the attribute contract's (:mod:`modeltel.instrumentation.attributes`, ``docs/attributes.md``);
the ClickHouse view ``ml_labels_mv`` reads both shapes.
"""

from __future__ import annotations

import datetime
import inspect
import threading
import weakref
from collections.abc import Iterable
from typing import Any

from opentelemetry import _logs

from modeltel.instrumentation import _values as V
from modeltel.instrumentation import attributes as A
from modeltel.instrumentation._config import report_once
from modeltel.instrumentation._ids import id_text
from modeltel.instrumentation.version import __version__

MAX_LABELS_PER_RECORD = 1000
_SCOPE = A.INSTRUMENTATION_SCOPE

_lock = threading.Lock()
_loggers: weakref.WeakKeyDictionary[Any, _logs.Logger] = weakref.WeakKeyDictionary()
_global_logger: list[_logs.Logger] = []


def _logger_for(provider: _logs.LoggerProvider | None) -> _logs.Logger:
    with _lock:
        if provider is None:
            if not _global_logger:
                _global_logger.append(_logs.get_logger(_SCOPE, __version__))
            return _global_logger[0]
        found = _loggers.get(provider)
        if found is None:
            found = _loggers[provider] = provider.get_logger(_SCOPE, __version__)
        return found


def _emit_takes_keywords() -> bool:
    try:
        return "event_name" in inspect.signature(_logs.Logger.emit).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False


_KEYWORD_EMIT = _emit_takes_keywords()


def _is_batch(value: Any) -> bool:
    if isinstance(value, (str, bytes)) or value is None:
        return False
    if getattr(value, "ndim", 1) == 0:
        return False
    return isinstance(value, Iterable)


def _as_list(value: Any) -> list[Any]:
    tolist = getattr(value, "tolist", None)
    if tolist is not None:
        out = tolist()
        return out if isinstance(out, list) else [out]
    return list(value)


def _timestamp_ns(timestamp: Any) -> int | None:
    if timestamp is None:
        return None
    if isinstance(timestamp, datetime.datetime):
        if timestamp.tzinfo is None:
            timestamp = timestamp.astimezone()
        return int(timestamp.timestamp() * 1_000_000) * 1000
    if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
        # seconds (float or small int) or nanoseconds (large int)
        return int(timestamp) if timestamp > 1e14 else int(timestamp * 1e9)
    raise TypeError("timestamp must be a datetime, Unix seconds or Unix nanoseconds")


def log_labels(
    model: str,
    prediction_ids: Any,
    labels: Any,
    *,
    timestamp: Any = None,
    logger_provider: _logs.LoggerProvider | None = None,
) -> int:
    """Send the ground truth of earlier predictions; return how many labels were sent.

    Args:
        model: the ``ml.model.name`` of the predictions.
        prediction_ids: one id or a sequence of ids (list, tuple, numpy array, pandas
            Series), as returned by :func:`last_prediction_ids`.
        labels: one label or a sequence of the same length. Classes are sent as text
            (``ml.label``), written like predicted labels so they join (``1``, ``1.0``
            and ``numpy.int64(1)`` are all ``"1"``); numbers are also sent as
            ``ml.label.value`` (regression targets). Missing labels (``None``, NaN) are
            skipped.
        timestamp: when the truth was observed (datetime, Unix seconds or nanoseconds);
            default now.
        logger_provider: provider of the log records (default: the global one).

    Raises:
        ValueError: when ids and labels differ in length, or ``model`` is empty.
    """
    if not isinstance(model, str) or not model:
        raise ValueError(f"model must be a non-empty string, got {model!r}")
    if _is_batch(prediction_ids):
        ids = _as_list(prediction_ids)
        values = _as_list(labels) if _is_batch(labels) else None
        if values is None or len(values) != len(ids):
            raise ValueError(
                f"{len(ids)} prediction ids need as many labels, got "
                f"{len(values) if values is not None else 'a single label'}"
            )
        batch = True
    else:
        if _is_batch(labels):
            raise ValueError("one prediction id needs one label, got a sequence of labels")
        ids, values, batch = [prediction_ids], [labels], False
    when = _timestamp_ns(timestamp)

    rows: list[tuple[str, str, float | None]] = []
    for pid, label in zip(ids, values, strict=True):
        pid_text = id_text(pid)
        label_text = V.text(label)
        if pid_text is None or label_text is None:
            continue
        number = V.number(label)
        rows.append((pid_text, label_text, None if number is None else float(number)))
    if not rows:
        return 0
    try:
        logger = _logger_for(logger_provider)
        if not batch:
            pid_text, label_text, number = rows[0]
            attributes: dict[str, Any] = {
                A.EVENT_NAME: A.LABEL_EVENT_NAME,
                A.ML_MODEL_NAME: model,
                A.ML_PREDICTION_ID: pid_text,
                A.ML_LABEL: label_text,
            }
            if number is not None:
                attributes[A.ML_LABEL_VALUE] = number
            _emit(logger, attributes, when)
            return 1
        for start in range(0, len(rows), MAX_LABELS_PER_RECORD):
            chunk = rows[start : start + MAX_LABELS_PER_RECORD]
            attributes = {
                A.EVENT_NAME: A.LABEL_EVENT_NAME,
                A.ML_MODEL_NAME: model,
                A.ML_PREDICTION_ID: [r[0] for r in chunk],
                A.ML_LABEL: [r[1] for r in chunk],
            }
            if any(r[2] is not None for r in chunk):
                attributes[A.ML_LABEL_VALUE] = [r[2] for r in chunk]
            _emit(logger, attributes, when)
    except Exception:
        report_once(("labels", model), "modeltel could not send labels of %s", model)
        return 0
    return len(rows)


def _emit(logger: _logs.Logger, attributes: dict[str, Any], when: int | None) -> None:
    if _KEYWORD_EMIT:
        logger.emit(
            timestamp=when,
            severity_number=_logs.SeverityNumber.INFO,
            severity_text="INFO",
            attributes=attributes,
            event_name=A.LABEL_EVENT_NAME,
        )
        return
    record = _logs.LogRecord(  # older API: no event_name field
        timestamp=when,
        severity_number=_logs.SeverityNumber.INFO,
        severity_text="INFO",
        attributes=attributes,
    )
    logger.emit(record)
