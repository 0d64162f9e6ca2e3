"""SQL of the fairness analysis: per window, protected attribute and group, the counts every
fairness metric is made of, in one statement over one row per prediction
(:mod:`modeltel.analyzer.base.prediction_rows`, with labels).

A row's group is its protected feature's value (a categorical feature's text, a numeric one's
bin of ``fairness.bins`` or, without bins, its number as text); NULL when the value is missing
or outside the bins. ``sel`` is 1 when the prediction is favorable (its label equals
``favorable``, or its score reaches ``favorable_score``), ``pos`` when its true label equals the
favorable label.
"""

from __future__ import annotations

from collections.abc import Mapping

from modeltel.analyzer.analyses.fairness.config import FairnessConfig, bin_labels
from modeltel.analyzer.base.prediction_rows import RowShape, prediction_rows_sql, shape_of
from modeltel.analyzer.base.query import Params, TimeWindows

COUNTS = ("n", "selected", "labelled", "positives", "tp", "negatives", "fp", "correct")
"""The counts of a (window, attribute, group) row, after ``w``, ``a`` and ``g``."""


def _group(column: str, edges: tuple[float, ...] | None, categorical: bool, params: Params) -> str:
    if categorical:
        return column
    if not edges:
        return f"if({column} IS NULL, NULL, toString({column}))"
    names = bin_labels(edges)
    arms = [f"{column} < {params.add(edges[0], 'Float64')}, NULL"]
    for edge, name in zip(edges[1:-1], names, strict=False):
        arms.append(f"{column} < {params.add(edge, 'Float64')}, {params.add(name, 'String')}")
    arms.append(
        f"{column} <= {params.add(edges[-1], 'Float64')}, {params.add(names[-1], 'String')}"
    )
    return f"multiIf({column} IS NULL, NULL, {', '.join(arms)}, NULL)"


def fairness_sql(
    model: str,
    version: str,
    windows: TimeWindows,
    config: FairnessConfig,
    kinds: Mapping[str, bool],
    params: Params,
    *,
    filter_labels: bool = True,
) -> tuple[str, RowShape]:
    """Rows ``w``, ``a`` (index in ``config.protected``), ``g`` (group, NULL: missing or outside
    the bins) and :data:`COUNTS` (``filter_labels`` as in
    :func:`~modeltel.analyzer.base.prediction_rows.prediction_rows_sql`)."""
    if config.favorable_score is not None:
        columns, sel = (
            {"prediction_score"},
            (f"ifNull(prediction_score >= {params.add(config.favorable_score, 'Float64')}, 0)"),
        )
    else:
        columns = {"prediction_label"}
        sel = f"ifNull(prediction_label = {params.add(config.favorable, 'String')}, 0)"
    shape = shape_of(columns, {a: kinds.get(a, False) for a in config.protected}, True)
    rows = prediction_rows_sql(model, version, windows, shape, params, filter_labels=filter_labels)
    groups = ", ".join(
        f"tuple(toUInt16({i}), "
        f"{_group(shape.feature_column(a), config.bins.get(a), kinds.get(a, False), params)})"
        for i, a in enumerate(config.protected)
    )
    pos = f"ifNull(label = {params.add(config.positive_label, 'String')}, 0)"
    return (
        "SELECT w, tupleElement(ag, 1) AS a, tupleElement(ag, 2) AS g, count() AS n, "
        "sum(sel) AS selected, sum(has_label) AS labelled, "
        "sum(has_label AND pos) AS positives, sum(has_label AND pos AND sel) AS tp, "
        "sum(has_label AND NOT pos) AS negatives, sum(has_label AND NOT pos AND sel) AS fp, "
        "sum(has_label AND sel = pos) AS correct "
        f"FROM (SELECT w, has_label, toUInt8({sel}) AS sel, toUInt8({pos}) AS pos, "
        f"arrayJoin([{groups}]) AS ag FROM ({rows})) GROUP BY w, a, g",
        shape,
    )
