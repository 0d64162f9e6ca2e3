"""The attribute contract: the names, shapes and value rules of the telemetry modeltel sends.

One documented constant per name, in the style of ``opentelemetry.semconv``. The instrumentation
writes these names and the analyzer's projection reads them; ``docs/attributes.md`` of the
repository describes the contract in full (types, missing values, errors).

**Prediction span** ``predict {model}`` (kind INTERNAL), one per monitored call or per slice
of a large batch: :data:`ML_MODEL_NAME`, :data:`ML_MODEL_VERSION`, :data:`ML_TASK`,
:data:`ML_BATCH_SIZE`, :data:`ML_PREDICTION_ID`, one ``ml.feature.<name>`` per input feature
(:func:`feature_key`), :data:`ML_FEATURE_CATEGORICAL`, :data:`ML_PREDICTION_LABEL`,
:data:`ML_PREDICTION_SCORE`, :data:`ML_PREDICTION_VALUE` and, when attributions are known, one
``ml.attribution.<name>`` per feature (:func:`attribution_key`). A call that raised has status
ERROR and an exception event, and carries its features and ids but no ``ml.prediction.label``,
``score`` or ``value``.

**Batch rule.** A single-row call carries scalars: ``ml.batch.size`` is 1 and every per-row
attribute (``ml.prediction.*``, ``ml.feature.*``, ``ml.attribution.*``) is one value. A batch
call (a DataFrame, a 2-D array, a list of rows, even with one row) carries arrays:
``ml.prediction.id`` is a string array and every per-row attribute an array with one element
per row, in row order; ``ml.batch.size`` is their length. A batch longer than the span row
limit is split into several spans or sampled, each span following the same rule.

**Missing values.** ``None``, NaN and pandas NA/NaT are missing: a scalar attribute is then
left out, an array element is ``None``. +/-inf is a number and is kept.

**Value to text.** Categorical features, labels and ids are sent as text by :func:`text`:
strings as they are, booleans ``true``/``false``, integers in decimal and floats by
:func:`number_text` — the way the OpenTelemetry Collector's ClickHouse exporter writes a number
attribute, so ``1``, ``1.0`` and ``numpy.int64(1)`` all read ``"1"`` on both sides of the
label join, whichever side wrote them. Numeric features, scores and values stay floats.

**Label log record** (event :data:`LABEL_EVENT_NAME`): :data:`ML_MODEL_NAME`,
:data:`ML_PREDICTION_ID`, :data:`ML_LABEL` and, for numbers, :data:`ML_LABEL_VALUE`; scalars
for one label, parallel arrays for many.

**Metrics** (never sampled): :data:`ML_PREDICTIONS`, :data:`ML_PREDICTION_DURATION` and
:data:`ML_PREDICTION_ERRORS`, each with :data:`ML_MODEL_NAME`, :data:`ML_MODEL_VERSION` and
:data:`ML_OUTCOME`.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

INSTRUMENTATION_SCOPE = "modeltel.instrumentation"
"""Name of the tracer, meter and logger the instrumentation uses."""

# -- the prediction span -------------------------------------------------------------------

PREDICTION_SPAN_PREFIX = "predict "
"""Prediction spans are named ``predict {model}`` (see :func:`span_name`)."""

ML_MODEL_NAME = "ml.model.name"
"""string: the model's name (``churn``). Required: a span or log record without it is not
modeltel's."""

ML_MODEL_VERSION = "ml.model.version"
"""string: the model's version (``3``); :data:`UNVERSIONED` when none was given."""

ML_TASK = "ml.task"
"""string: :data:`TASK_CLASSIFICATION` or :data:`TASK_REGRESSION`; left out when unknown."""

ML_BATCH_SIZE = "ml.batch.size"
"""int: the rows this span carries (1 for a single-row call)."""

ML_PREDICTION_ID = "ml.prediction.id"
"""string (single row) or string[] (batch): the ids labels are joined on (UUIDv7 when the
caller gives none)."""

ML_PREDICTION_LABEL = "ml.prediction.label"
"""string or string[]: the predicted class, as :func:`text` writes it."""

ML_PREDICTION_SCORE = "ml.prediction.score"
"""double or double[]: the probability of the positive class (binary) or of the predicted
class."""

ML_PREDICTION_VALUE = "ml.prediction.value"
"""double or double[]: the predicted number of a regression model."""

ML_FEATURE_PREFIX = "ml.feature."
"""``ml.feature.<name>``: one input feature; double(s) for numbers, string(s) for categories."""

ML_FEATURE_CATEGORICAL = "ml.feature.categorical"
"""string[]: the features of this span that are categorical (sent as text)."""

ML_SAMPLING_WEIGHT = "ml.sampling.weight"
"""double: how many predictions each row of the span stands for (>= 1; left out when 1): the
inverse of the share of calls recorded (``sample_rate`` × the tracer's ratio sampler) times
the inverse of the share of a large batch's rows kept (``batch_overflow="sample"``). The
analyzer multiplies it by the adjusted count of the span's ``tracestate`` (``ot=th:…``)."""

ERROR_TYPE = "error.type"
"""string: on a failed call's span, the exception's fully qualified class name
(OpenTelemetry's general attribute, e.g. ``ValueError``, ``sklearn.exceptions.NotFittedError``)."""

ML_ATTRIBUTION_PREFIX = "ml.attribution."
"""``ml.attribution.<name>``: double or double[]: how much the feature pushed the prediction
(e.g. a SHAP value)."""

RESERVED_FEATURE = "categorical"
"""A feature with this name is sent as ``categorical_``: ``ml.feature.categorical`` is taken."""

UNVERSIONED = "unversioned"
"""The version of a model sent without one."""

TASK_CLASSIFICATION = "classification"
TASK_REGRESSION = "regression"

SPAN_ATTRIBUTES = (
    ML_MODEL_NAME,
    ML_MODEL_VERSION,
    ML_TASK,
    ML_BATCH_SIZE,
    ML_PREDICTION_ID,
    ML_PREDICTION_LABEL,
    ML_PREDICTION_SCORE,
    ML_PREDICTION_VALUE,
    ML_FEATURE_CATEGORICAL,
    ML_SAMPLING_WEIGHT,
    ERROR_TYPE,
)
"""The fixed-name span attributes (features and attributions are named by prefix)."""

# -- the label log record ------------------------------------------------------------------

LABEL_EVENT_NAME = "ml.label"
"""Event name of a label log record (the record's ``EventName`` and its :data:`EVENT_NAME`)."""

EVENT_NAME = "event.name"
"""string: the OpenTelemetry event-name attribute; set on label records for older SDKs."""

ML_LABEL = "ml.label"
"""string or string[]: the true class, as :func:`text` writes it."""

ML_LABEL_VALUE = "ml.label.value"
"""double or double[]: the true number, when the label is a number (regression targets)."""

LABEL_ATTRIBUTES = (EVENT_NAME, ML_MODEL_NAME, ML_PREDICTION_ID, ML_LABEL, ML_LABEL_VALUE)
"""The attributes of a label log record."""

# -- metrics -------------------------------------------------------------------------------

ML_PREDICTIONS = "ml.predictions"
"""Counter, unit ``{prediction}``: rows predicted, every call whatever the span sampling."""

ML_PREDICTION_DURATION = "ml.prediction.duration"
"""Histogram, unit ``s``: duration of prediction calls."""

ML_PREDICTION_ERRORS = "ml.prediction.errors"
"""Counter, unit ``{error}``: prediction calls that raised."""

ML_OUTCOME = "ml.outcome"
"""Metric attribute: :data:`OUTCOME_SUCCESS` or :data:`OUTCOME_ERROR`."""

OUTCOME_SUCCESS = "success"
OUTCOME_ERROR = "error"


# -- names -----------------------------------------------------------------------------------


def span_name(model: str) -> str:
    """``predict {model}``."""
    return PREDICTION_SPAN_PREFIX + model


def sent_name(feature: str) -> str:
    """The name a feature travels under (:data:`RESERVED_FEATURE` gets a trailing ``_``)."""
    return feature + "_" if feature == RESERVED_FEATURE else feature


def feature_key(feature: str) -> str:
    """The span attribute of a feature: ``ml.feature.<feature>``."""
    return ML_FEATURE_PREFIX + sent_name(feature)


def attribution_key(feature: str) -> str:
    """The span attribute of a feature's attribution: ``ml.attribution.<feature>``."""
    return ML_ATTRIBUTION_PREFIX + sent_name(feature)


def quoted(name: str) -> str:
    """``name`` as a ClickHouse string literal (``'ml.model.name'``), to build SQL from names."""
    return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


# -- values ----------------------------------------------------------------------------------


def is_missing(value: Any) -> bool:
    """``None``, NaN (Python or numpy) and pandas NA/NaT are missing."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    name = type(value).__name__
    if name in ("NAType", "NaTType"):
        return True
    if not hasattr(value, "dtype"):
        return False
    try:
        return bool(value != value)
    except Exception:
        return False


def _unbox(value: Any) -> Any:
    """numpy scalars to Python scalars; everything else unchanged (numpy is never imported)."""
    item = getattr(value, "item", None)
    if item is not None and hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0:
        try:
            return item()
        except Exception:
            return value
    return value


def number_text(value: float) -> str:
    """A float as the exporter writes a number attribute.

    The shortest digits that read back as the same float, written out in full from 1e-6 to
    1e21 and in exponent form outside (``1e-7``, ``1e+21``); integral values have no
    fractional part (``1.0`` → ``"1"``, and ``-0.0`` is ``"0"``, where the exporter writes
    ``-0``); infinities are ``+Inf``/``-Inf``, NaN is ``NaN``.
    """
    if value == 0:
        return "0"
    text = repr(value)
    if "e" not in text and "n" not in text:
        # repr is positional in [1e-4, 1e16): the same digits, only its ".0" differs.
        return text[:-2] if text.endswith(".0") else text
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    magnitude = abs(value)
    if magnitude < 1e-6 or magnitude >= 1e21:
        mantissa, exponent = text.split("e")
        if mantissa.endswith(".0"):
            mantissa = mantissa[:-2]
        sign, digits = exponent[0], exponent[1:].lstrip("0") or "0"
        return f"{mantissa}e+{digits.zfill(2)}" if sign == "+" else f"{mantissa}e-{digits}"
    text = format(Decimal(text), "f")
    return text[:-2] if text.endswith(".0") else text


def text(value: Any) -> str | None:
    """A categorical value, label or id as text; ``None`` when missing.

    Strings as they are, booleans ``true``/``false``, integers in decimal, floats by
    :func:`number_text`, bytes decoded as UTF-8, dates and times in ISO 8601, anything else
    by ``str``. numpy and pandas scalars count as the Python value they hold.
    """
    t = type(value)
    if t is str:
        return value
    if value is None:
        return None
    if t is int:
        return str(value)
    if t is float:
        return None if value != value else number_text(value)
    if t is bool:
        return "true" if value else "false"
    value = _unbox(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return None if value != value else number_text(float(value))
    if is_missing(value):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)
