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

from modeltel.analyzer.analyses.fairness.config import FairnessConfig, bin_labels
from modeltel.analyzer.base.prediction_rows import RowShape
from modeltel.analyzer.base.query import Params
from modeltel.analyzer.base.row_scan import Aggregates, RowRequest

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


def fairness_request(config: FairnessConfig) -> RowRequest:
    """The row request of ``config``: its answer's rows are ``(w, a, g0 … gN, *COUNTS)`` with
    ``a`` the index of the protected attribute in ``config.protected`` and ``g<a>`` its group
    (NULL: missing or outside the bins)."""
    score = config.favorable_score is not None
    names = tuple(f"g{i}" for i in range(len(config.protected)))

    def build(shape: RowShape, params: Params, scope: str) -> Aggregates:
        if score:
            cut = params.add(config.favorable_score, "Float64")
            sel = f"toUInt8(ifNull(prediction_score >= {cut}, 0))"
        else:
            sel = f"toUInt8(ifNull(prediction_label = {params.add(config.favorable, 'String')}, 0))"
        pos = f"toUInt8(ifNull(label = {params.add(config.positive_label, 'String')}, 0))"
        keys = tuple(
            _group(shape.feature_column(a), config.bins.get(a), shape.categorical(a), params)
            for a in config.protected
        )
        counts = (
            "count()",
            f"sum({sel})",
            "sum(has_label)",
            f"sum(has_label AND {pos})",
            f"sum(has_label AND {pos} AND {sel})",
            f"sum(has_label AND NOT {pos})",
            f"sum(has_label AND NOT {pos} AND {sel})",
            f"sum(has_label AND {sel} = {pos})",
        )
        return Aggregates(keys, counts)

    return RowRequest(
        key=(
            config.protected,
            tuple(sorted(config.bins.items())),
            config.favorable,
            config.favorable_score,
            config.positive_label,
        ),
        columns=frozenset({"prediction_score" if score else "prediction_label"}),
        features=frozenset(config.protected),
        labels=True,
        keys=names,
        sets=tuple((name,) for name in names),
        build=build,
    )
