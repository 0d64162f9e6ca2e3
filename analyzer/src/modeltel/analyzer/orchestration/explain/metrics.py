"""The metrics ``modeltel explain`` can take apart: each a mean of a per-row value over the rows
it counts, so that a slice's share of it is a sum over the slice's rows.

Every entry names the prediction columns its rows need, whether it needs their labels, the
SQL condition of the rows it counts (``base``) and the SQL of its per-row value, both over the
columns of :func:`~modeltel.analyzer.base.prediction_rows.prediction_rows_sql`. Their values
equal the performance and service analyses' on the same rows: ``accuracy`` and ``mae``/``mse``
count the labelled predictions with both a prediction and a label; ``estimated_accuracy`` is
CBPE's expected accuracy (binary classifiers with scores: the score of the predicted class);
``error_ratio`` counts every prediction, ``label_coverage`` too (unweighted by sampling).

``drift:FEATURE`` (:func:`drift_metric`) is the PSI of a feature between the two windows, over
its slices' bins: a mean as well, of each row's ``ln(q₁/q₀)`` at its bin (``q``: the bins'
smoothed shares in each window), whose change between the windows is the PSI
(:mod:`.drift_share`).
"""

from __future__ import annotations

from dataclasses import dataclass

from modeltel.analyzer.base.errors import ConfigError


@dataclass(frozen=True)
class ExplainedMetric:
    """One metric :mod:`~modeltel.analyzer.orchestration.explain` can take apart."""

    name: str
    title: str
    """How a sentence names it."""
    task: str | None
    """``classification`` or ``regression`` when only one task has it."""
    columns: frozenset[str]
    labels: bool
    higher_is_better: bool
    base: str
    value: str
    """The per-row value (``{positive}``: the binary model's positive class)."""
    feature: str | None = None
    """The feature whose drift it is (``drift:FEATURE``); None for the other metrics."""


_LABELLED = "has_label = 1 AND label IS NOT NULL AND prediction_label IS NOT NULL"
_NUMERIC = (
    "has_label = 1 AND label_value IS NOT NULL AND prediction_value IS NOT NULL "
    "AND NOT isNaN(label_value) AND NOT isNaN(prediction_value)"
)

EXPLAINED = {
    m.name: m
    for m in (
        ExplainedMetric(
            "accuracy",
            "accuracy",
            "classification",
            frozenset({"prediction_label"}),
            labels=True,
            higher_is_better=True,
            base=_LABELLED,
            value="toFloat64(label = prediction_label)",
        ),
        ExplainedMetric(
            "estimated_accuracy",
            "estimated accuracy",
            "classification",
            frozenset({"prediction_label", "prediction_score"}),
            labels=False,
            higher_is_better=True,
            base="prediction_label IS NOT NULL AND prediction_score IS NOT NULL "
            "AND NOT isNaN(prediction_score)",
            value="if(prediction_label = {positive}, prediction_score, 1 - prediction_score)",
        ),
        ExplainedMetric(
            "mae",
            "mean absolute error",
            "regression",
            frozenset({"prediction_value"}),
            labels=True,
            higher_is_better=False,
            base=_NUMERIC,
            value="abs(prediction_value - label_value)",
        ),
        ExplainedMetric(
            "mse",
            "mean squared error",
            "regression",
            frozenset({"prediction_value"}),
            labels=True,
            higher_is_better=False,
            base=_NUMERIC,
            value="(prediction_value - label_value) * (prediction_value - label_value)",
        ),
        ExplainedMetric(
            "error_ratio",
            "error ratio",
            None,
            frozenset({"is_error"}),
            labels=False,
            higher_is_better=False,
            base="1",
            value="toFloat64(is_error)",
        ),
        ExplainedMetric(
            "label_coverage",
            "label coverage",
            None,
            frozenset(),
            labels=True,
            higher_is_better=True,
            base="1",
            value="toFloat64(has_label)",
        ),
    )
}
"""Every explained metric, by name."""


DRIFT_PREFIX = "drift:"
"""The prefix of a feature's drift: ``drift:age``."""


def drift_metric(feature: str) -> ExplainedMetric:
    """The PSI of ``feature`` between the windows (its per-row value is set per explanation)."""
    return ExplainedMetric(
        f"{DRIFT_PREFIX}{feature}",
        f"drift of {feature} (PSI)",
        None,
        frozenset(),
        labels=False,
        higher_is_better=False,
        base="1",
        value="0",
        feature=feature,
    )


def explained_metric(name: str | None, task: str, binary: bool) -> ExplainedMetric:
    """The metric ``name`` (default: accuracy for a classifier, mae for a regressor), checked
    against the model's task."""
    chosen = name or ("accuracy" if task == "classification" else "mae")
    if chosen.startswith(DRIFT_PREFIX):
        feature = chosen.removeprefix(DRIFT_PREFIX).strip()
        if not feature:
            raise ConfigError(f"metric {chosen!r} names no feature; use drift:FEATURE")
        return drift_metric(feature)
    metric = EXPLAINED.get(chosen)
    if metric is None:
        names = ", ".join([*EXPLAINED, "drift:FEATURE"])
        raise ConfigError(f"cannot explain metric {chosen!r}; use one of {names}")
    if metric.task is not None and metric.task != task:
        raise ConfigError(f"metric {chosen!r} needs a {metric.task} model; this one is a {task}")
    if chosen == "estimated_accuracy" and not binary:
        raise ConfigError("estimated_accuracy needs a binary classifier")
    return metric
