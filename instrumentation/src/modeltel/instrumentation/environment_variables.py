"""Environment variables read by ``modeltel.instrumentation``.

Precedence everywhere: explicit argument > environment variable > default. Variables are
read when a monitor is created (or when :func:`~modeltel.instrumentation.setup` or the
auto-instrumentation runs), never at import time. A bad value is logged as a warning and
the default is used instead: telemetry settings never stop the serving app. The exception are
the capture settings (:data:`MODELTEL_FEATURES_INCLUDE`, :data:`MODELTEL_FEATURES_EXCLUDE`,
:data:`MODELTEL_FEATURE_TREATMENTS`): a bad one raises when the monitor is created, since
falling back to "record every feature" would record what they were meant to keep out.

The standard ``OTEL_*`` variables (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_EXPORTER_OTLP_*``, ``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT``, ...) are honoured by
:func:`~modeltel.instrumentation.setup` through the OTel SDK itself.
"""

from __future__ import annotations

from modeltel.instrumentation.attributes import UNVERSIONED

MODELTEL_SAMPLE_RATE = "MODELTEL_SAMPLE_RATE"
"""Share of prediction calls recorded as spans, between 0 and 1 (default 1: every call).

Metrics (``ml.predictions``, ``ml.prediction.duration``, ``ml.prediction.errors``) count
every call whatever the rate.
"""

MODELTEL_ATTRIBUTION_RATE = "MODELTEL_ATTRIBUTION_RATE"
"""Share of recorded prediction calls on which a registered explainer runs, between 0 and 1
(default 0.1). The explainer (for example SHAP) runs after the model, outside the recorded
latency, so this bounds what explanations add to serving. Attributions passed by the caller
(:func:`~modeltel.instrumentation.attributions`) are recorded whatever the rate."""

MODELTEL_MAX_BATCH_SPAN_ROWS = "MODELTEL_MAX_BATCH_SPAN_ROWS"
"""Most rows one prediction span carries (default 1000); larger calls are split or sampled
according to :data:`MODELTEL_BATCH_OVERFLOW`, so that no OTLP request grows unbounded."""

MODELTEL_BATCH_OVERFLOW = "MODELTEL_BATCH_OVERFLOW"
"""What happens to a call with more rows than :data:`MODELTEL_MAX_BATCH_SPAN_ROWS`:
``split`` (default: several spans, every row recorded) or ``sample`` (one span holding a
uniform random sample of the rows)."""

MODELTEL_MODEL_NAME = "MODELTEL_MODEL_NAME"
"""Model name given to estimators monitored by the auto-instrumentation (default: the
estimator's class name)."""

MODELTEL_MODEL_VERSION = "MODELTEL_MODEL_VERSION"
"""Model version given to monitors created without an explicit ``version`` (default
``"unversioned"``)."""

MODELTEL_FEATURES_INCLUDE = "MODELTEL_FEATURES_INCLUDE"
"""Allowlist: comma-separated feature names, the only features recorded (default: every
feature). See :mod:`modeltel.instrumentation.capture` and ``docs/capture.md``."""

MODELTEL_FEATURES_EXCLUDE = "MODELTEL_FEATURES_EXCLUDE"
"""Denylist: comma-separated feature names never recorded (no attribute on the span)."""

MODELTEL_FEATURE_TREATMENTS = "MODELTEL_FEATURE_TREATMENTS"
"""Per-feature treatments, ``feature:treatment`` separated by commas, for example
``postcode:hash,name:drop``: ``drop`` never records the feature, ``hash`` records the salted
hash of its text (``h:`` + 16 hex digits) as a categorical feature."""

MODELTEL_HASH_SALT = "MODELTEL_HASH_SALT"
"""The secret key of the ``hash`` treatment. Set the same value where the model runs and where
its references are uploaded (the analyzer reads it too), so that hashes match. Without it,
hashing still works but a warning says to set one: unsalted hashes of a small set of values
(postcodes, ages) can be reversed by hashing every candidate."""

DEFAULT_SAMPLE_RATE = 1.0
DEFAULT_ATTRIBUTION_RATE = 0.1
DEFAULT_MAX_BATCH_SPAN_ROWS = 1000
DEFAULT_BATCH_OVERFLOW = "split"
DEFAULT_MODEL_VERSION = UNVERSIONED
BATCH_OVERFLOW_CHOICES = ("split", "sample")
