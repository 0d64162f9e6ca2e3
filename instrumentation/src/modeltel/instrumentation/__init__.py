"""modeltel.instrumentation: one line to monitor a model serving app with OpenTelemetry.

::

    from modeltel.instrumentation import setup, instrument

    setup()                                         # OTLP exporters from OTEL_* (if none yet)
    model = instrument(joblib.load("churn.pkl"), name="churn", version="3")

Every prediction call becomes a span ``predict {model}`` carrying its features,
predictions and ids, counted by the metrics ``ml.predictions``, ``ml.prediction.duration``
and ``ml.prediction.errors``: the attribute contract, whose names and value rules are the
constants and functions of :mod:`modeltel.instrumentation.attributes` (described in full in
``docs/attributes.md`` and ``docs/metrics.md``). Ground truth
arriving later goes through :func:`log_labels`. Telemetry never breaks a prediction.

Public surface:

- :func:`setup` — tracer, meter and logger providers with OTLP exporters, when missing;
- :func:`monitor` — decorator/wrapper for any predict function (sync or async);
- :func:`instrument` — monitor a scikit-learn-style estimator in place;
- :func:`log_labels` — send ground truth for prediction ids;
- :func:`last_prediction_ids` — the ids of the call just made (to return to clients);
- :func:`prediction_ids` — supply the ids of the calls made in a block;
- :func:`attributions` — supply the feature attributions (e.g. SHAP values) of the calls made
  in a block (``monitor``/``instrument`` also take an ``explainer`` that computes them on a
  sampled share of calls).

``opentelemetry-instrument`` monitors every scikit-learn estimator with no code change
through :class:`modeltel.instrumentation.auto.SklearnInstrumentor`.
"""

from __future__ import annotations

from modeltel.instrumentation._attributions import attributions
from modeltel.instrumentation._ids import last_prediction_ids, prediction_ids
from modeltel.instrumentation._labels import log_labels
from modeltel.instrumentation._setup import setup
from modeltel.instrumentation._sklearn import instrument
from modeltel.instrumentation._wrap import monitor
from modeltel.instrumentation.version import __version__

__all__ = [
    "__version__",
    "attributions",
    "instrument",
    "last_prediction_ids",
    "log_labels",
    "monitor",
    "prediction_ids",
    "setup",
]
