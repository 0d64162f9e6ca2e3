"""SQL of the performance analysis: predictions joined with their latest label, per window.

The join is a ``GROUP BY id_key`` over ``ml_predictions UNION ALL ml_labels`` (one group per
prediction id, the label row with the latest ``received_at`` winning), which costs less than
a hash join and needs no ``FINAL``. Predicted and true classes travel as small integers
(their 1-based index in the model's class list, 0 for none), times as Int64 nanoseconds and
missing numbers as NaN, so the grouped payload stays fixed-size. Everything else (confusion
counts, log loss and MAPE sums, exact ROC AUC, exact delay quantiles, CBPE sums) is
aggregated per window in the same statement; Python receives one row per window.

Windows (:mod:`modeltel.analyzer.base.query`) are either aligned time windows
(``origin + k·size``), or sliding windows of N predictions with step S over the predictions
of a time range ordered by (time, id): window k holds rows [k·S, k·S + N); only full windows
are computed.

Segments (:mod:`modeltel.analyzer.base.segments`): the joined rows carry the prediction's
feature key (and service), get the segment dimensions joined and are repeated once per
dimension (``sd``, ``sv``); the aggregates then group by ``(w, sd, sv)`` instead of ``w``, so
the overall numbers (``sd = 0``) and every segment's come from the same statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modeltel.analyzer.analyses.performance.metrics import EPS
from modeltel.analyzer.base.prediction_rows import ROW_KEY
from modeltel.analyzer.base.query import (
    Params,
    TimeWindows,
    Windows,
    prediction_filter,
    time_key,
)
from modeltel.analyzer.base.segments import SEGMENT_KEY

DELAY_QUANTILES = (0.5, 0.95, 0.99)
NO_CLASS = 65535
"""Index standing for a class that is not in the class list (e.g. an absent positive class)."""


@dataclass(frozen=True)
class Payload:
    """Task-specific columns carried through the join: (prediction side, label side)."""

    prediction: tuple[tuple[str, str], ...]
    label: tuple[tuple[str, str], ...]


def classification_payload(classes: Sequence[str], params: Params) -> Payload:
    """Predicted/true class as their 1-based index in ``classes`` (0: none); score or NaN."""
    arr = params.add(list(classes), "Array(String)")
    return Payload(
        prediction=(
            ("pi", f"toUInt16(indexOf({arr}, prediction_label))"),
            ("score", "ifNull(prediction_score, nan)"),
        ),
        label=(("yi", f"toUInt16(indexOf({arr}, label))"),),
    )


def regression_payload() -> Payload:
    return Payload(
        prediction=(("pv", "ifNull(prediction_value, nan)"),),
        label=(("yv", "ifNull(label_value, nan)"),),
    )


CARRIED = {
    SEGMENT_KEY: (ROW_KEY, "toUInt64(0)"),
    "service_name": ("service_name", "''"),
}
"""Prediction columns a joined row can carry: (name, (expression, label-side default))."""

_DEFAULTS = {"pi": "toUInt16(0)", "score": "nan", "yi": "toUInt16(0)", "pv": "nan", "yv": "nan"}


def joined_sql(
    model: str,
    version: str,
    windows: Windows,
    payload: Payload,
    params: Params,
    *,
    filter_labels: bool = True,
    carry: Sequence[str] = (),
) -> str:
    """One row per prediction of the windows: ``w`` (time key, or row number for sliding
    windows), ``ts`` (ns), ``has`` (a label exists), ``lts`` (label time, ns) and the payload.

    ``filter_labels`` restricts the label side to the ids of those predictions (worth it when
    the windows hold a small part of the model's labels). ``carry`` adds prediction columns
    of :data:`CARRIED` (what segments are keyed on).
    """
    where = prediction_filter(model, version, windows, params)
    model_p = params.add(model, "String")
    if isinstance(windows, TimeWindows):
        w_expr = time_key(windows, params)
    else:
        w_expr = "toInt64(row_number() OVER (ORDER BY timestamp, prediction_id) - 1)"
    carried = [(name, CARRIED[name]) for name in carry]
    pred_cols = ", ".join(
        [
            *(f"{expr} AS {name}" for name, expr in payload.prediction),
            *(f"{expr} AS {name}" for name, (expr, _) in carried),
        ]
    )
    pred_defaults = ", ".join(f"{_DEFAULTS[name]} AS {name}" for name, _ in payload.label)
    label_defaults = ", ".join(
        [*(f"{_DEFAULTS[name]}" for name, _ in payload.prediction), *(d for _, (_, d) in carried)]
    )
    label_cols = ", ".join(expr for _, expr in payload.label)
    label_where = f"model = {model_p}"
    if filter_labels:
        label_where += f" AND id_key IN (SELECT id_key FROM ml_predictions WHERE {where})"
    union = (
        f"SELECT id_key AS k, toUInt8(0) AS src, {w_expr} AS w, "
        f"toUnixTimestamp64Nano(timestamp) AS ts, {pred_cols}, {pred_defaults}, "
        f"toInt64(0) AS lts, toInt64(0) AS rcv, weight AS wt FROM ml_predictions WHERE {where} "
        f"UNION ALL "
        f"SELECT id_key, toUInt8(1), toInt64(0), toInt64(0), {label_defaults}, {label_cols}, "
        f"toUnixTimestamp64Nano(timestamp), toUnixTimestamp64Nano(received_at), 1.0 "
        f"FROM ml_labels WHERE {label_where}"
    )
    picks = ["anyIf(w, src = 0) AS w", "anyIf(ts, src = 0) AS ts", "anyIf(wt, src = 0) AS wt"]
    picks += [f"anyIf({name}, src = 0) AS {name}" for name, _ in payload.prediction]
    picks += [f"anyIf({name}, src = 0) AS {name}" for name, _ in carried]
    picks += [f"argMaxIf({name}, rcv, src = 1) AS {name}" for name, _ in payload.label]
    picks += ["argMaxIf(lts, rcv, src = 1) AS lts", "max(src) AS has"]
    return f"SELECT {', '.join(picks)} FROM ({union}) GROUP BY k HAVING min(src) = 0"


VERSIONS = "Array(Tuple(String, String))"
"""The type of the (model, version) pairs a fleet statement covers."""


def fleet_filter(targets: Sequence[tuple[str, str]], windows: TimeWindows, params: Params) -> str:
    """WHERE clause selecting the predictions of ``windows`` of the (model, version) pairs
    ``targets`` in ``ml_predictions``."""
    pairs = params.add([tuple(t) for t in targets], VERSIONS)
    where = (
        f"(model, version) IN {pairs} "
        f"AND timestamp >= fromUnixTimestamp64Nano({params.add(windows.start_ns, 'Int64')}) "
        f"AND timestamp < fromUnixTimestamp64Nano({params.add(windows.end_ns, 'Int64')})"
    )
    if len(windows.keys) < (windows.end_ns - windows.start_ns) // windows.size_ns:
        keys = params.add(list(windows.keys), "Array(Int64)")
        where += f" AND {time_key(windows, params)} IN {keys}"
    return where


def fleet_joined_sql(
    targets: Sequence[tuple[str, str]],
    windows: TimeWindows,
    payload: Payload,
    params: Params,
    *,
    filter_labels: bool = True,
) -> str:
    """:func:`joined_sql` of every (model, version) of ``targets`` at once: rows start with
    ``model`` and ``version``; a label row joins each version of its model in ``targets``
    (grouped by (model, version, id), as the version's own statement would)."""
    versions: dict[str, list[str]] = {}
    for model, version in targets:
        versions.setdefault(model, []).append(version)
    models = params.add(sorted(versions), "Array(String)")
    of_model = params.add([versions[m] for m in sorted(versions)], "Array(Array(String))")
    where = fleet_filter(targets, windows, params)
    w_expr = time_key(windows, params)
    pred_cols = ", ".join(f"{expr} AS {name}" for name, expr in payload.prediction)
    pred_defaults = ", ".join(f"{_DEFAULTS[name]} AS {name}" for name, _ in payload.label)
    label_defaults = ", ".join(f"{_DEFAULTS[name]}" for name, _ in payload.prediction)
    label_cols = ", ".join(expr for _, expr in payload.label)
    label_where = f"model IN {models}"
    if filter_labels:
        label_where += f" AND id_key IN (SELECT id_key FROM ml_predictions WHERE {where})"
    union = (
        f"SELECT model AS m, version AS v, id_key AS k, toUInt8(0) AS src, {w_expr} AS w, "
        f"toUnixTimestamp64Nano(timestamp) AS ts, {pred_cols}, {pred_defaults}, "
        f"toInt64(0) AS lts, toInt64(0) AS rcv, weight AS wt FROM ml_predictions WHERE {where} "
        f"UNION ALL "
        f"SELECT model, arrayJoin({of_model}[indexOf({models}, model)]), id_key, toUInt8(1), "
        f"toInt64(0), toInt64(0), "
        f"{label_defaults}, {label_cols}, "
        f"toUnixTimestamp64Nano(timestamp), toUnixTimestamp64Nano(received_at), 1.0 "
        f"FROM ml_labels WHERE {label_where}"
    )
    picks = ["m AS model", "v AS version"]
    picks += ["anyIf(w, src = 0) AS w", "anyIf(ts, src = 0) AS ts", "anyIf(wt, src = 0) AS wt"]
    picks += [f"anyIf({name}, src = 0) AS {name}" for name, _ in payload.prediction]
    picks += [f"argMaxIf({name}, rcv, src = 1) AS {name}" for name, _ in payload.label]
    picks += ["argMaxIf(lts, rcv, src = 1) AS lts", "max(src) AS has"]
    return f"SELECT {', '.join(picks)} FROM ({union}) GROUP BY m, v, k HAVING min(src) = 0"


def window_rows(windows: Windows, total: int, joined: str, params: Params) -> str:
    """``joined`` with ``w`` turned into the window number (sliding windows: one row per window
    a prediction belongs to)."""
    if isinstance(windows, TimeWindows):
        return joined
    size = params.add(windows.size, "Int64")
    step = params.add(windows.step, "Int64")
    last = params.add((total - windows.size) // windows.step, "Int64")
    lo = f"if(r < {size}, 0, intDiv(r - {size}, {step}) + 1)"
    hi = f"least(intDiv(r, {step}), {last})"
    return (
        f"SELECT * EXCEPT r, arrayJoin(range({lo}, {hi} + 1)) AS w "
        f"FROM (SELECT * EXCEPT w, w AS r FROM ({joined})) WHERE {lo} <= {hi}"
    )


_WEIGHTED = "sum(wt) AS n_w, sumIf(wt, has = 1) AS n_labeled_w"
"""Predictions and labelled ones, weighted by their sampling weight (label coverage)."""

_DELAYS = (
    f"quantilesExactInclusiveIf({', '.join(map(str, DELAY_QUANTILES))})"
    "((lts - ts) / 1e9, has = 1) AS delays"
)


def _by(keys: Sequence[str]) -> str:
    return "".join(f", {k}" for k in keys)


def binary_sql(
    rows: str, positive: int, params: Params, *, estimated: bool, keys: Sequence[str] = ()
) -> str:
    """Per window (and ``keys``): counts, confusion cells, log-loss sum, ROC AUC, delays and
    CBPE sums."""
    pos = params.add(positive, "UInt16")
    eps = params.add(EPS, "Float64")

    def clip(x: str) -> str:
        return f"least(greatest({x}, {eps}), 1 - {eps})"

    loss = f"if(yp, -ln({clip('score')}), -ln({clip('1 - score')}))"
    cbpe = ""
    if estimated:
        cbpe = (
            ", countIf(es) AS n_est, sumIf(score, es AND pp) AS e_tp, "
            "sumIf(1 - score, es AND pp) AS e_fp, sumIf(score, es AND NOT pp) AS e_fn, "
            "sumIf(1 - score, es AND NOT pp) AS e_tn, sumIf(score * (1 - score), es) AS e_var, "
            "arraySort(groupArrayIf(score, es)) AS e_sorted, "
            "arraySum(arrayMap((x, c) -> x * (c - 0.5 * (1 - x)), e_sorted, "
            "arrayCumSum(arrayMap(x -> 1 - x, e_sorted)))) AS e_auc_num, "
            "arraySum(e_sorted) AS e_p, length(e_sorted) - e_p AS e_n"
        )
    by = _by(keys)
    return (
        f"SELECT w{by}, min(ts) AS first_ns, max(ts) AS last_ns, count() AS n, {_WEIGHTED}, "
        "countIf(has = 1) AS n_labeled, countIf(ev) AS n_eval, "
        "countIf(ev AND yp AND pp) AS tp, countIf(ev AND NOT yp AND pp) AS fp, "
        "countIf(ev AND yp AND NOT pp) AS fn, countIf(ev AND NOT yp AND NOT pp) AS tn, "
        f"countIf(sc) AS n_scored, countIf(sc AND yp) AS n_pos, sumIf({loss}, sc) AS loss, "
        "arrayROCAUC(groupArrayIf(score, sc), groupArrayIf(yp, sc)) AS auc, "
        f"{_DELAYS}{cbpe} "
        f"FROM (SELECT *, has = 1 AND yi > 0 AND pi > 0 AS ev, yi = {pos} AS yp, "
        f"pi = {pos} AS pp, has = 1 AND yi > 0 AND NOT isNaN(score) AS sc, "
        f"pi > 0 AND NOT isNaN(score) AS es FROM ({rows})) GROUP BY w{by} ORDER BY w{by}"
    )


def multiclass_sql(rows: str, keys: Sequence[str] = ()) -> str:
    """Per window (and ``keys``): counts, confusion cells (true, predicted, count), delays,
    Σ score."""
    by = _by(keys)
    return (
        f"SELECT w{by}, min(first_ns) AS first_ns, max(last_ns) AS last_ns, sum(c) AS n, "
        "sum(c_labeled) AS n_labeled, sum(c_w) AS n_w, sum(c_labeled_w) AS n_labeled_w, "
        "groupArrayIf((yi, pi, c_labeled), yi > 0 AND pi > 0 "
        "AND c_labeled > 0) AS cells, "
        f"quantilesExactInclusiveMerge({', '.join(map(str, DELAY_QUANTILES))})(d) AS delays, "
        "sum(c_est) AS n_est, sum(s_est) AS s_est "
        f"FROM (SELECT w{by}, yi, pi, min(ts) AS first_ns, max(ts) AS last_ns, count() AS c, "
        "countIf(has = 1) AS c_labeled, sum(wt) AS c_w, sumIf(wt, has = 1) AS c_labeled_w, "
        f"quantilesExactInclusiveStateIf({', '.join(map(str, DELAY_QUANTILES))})"
        "((lts - ts) / 1e9, has = 1) AS d, "
        "countIf(pi > 0 AND NOT isNaN(score)) AS c_est, "
        "sumIf(score, pi > 0 AND NOT isNaN(score)) AS s_est "
        f"FROM ({rows}) GROUP BY w{by}, yi, pi) GROUP BY w{by} ORDER BY w{by}"
    )


def regression_sql(rows: str, params: Params, keys: Sequence[str] = ()) -> str:
    """Per window (and ``keys``): counts, Σ|e|, Σe², Σ(y − ȳ)², Σ|e|/max(|y|, eps) and
    delays."""
    eps = params.add(EPS, "Float64")
    by = _by(keys)
    return (
        f"SELECT w{by}, min(ts) AS first_ns, max(ts) AS last_ns, count() AS n, {_WEIGHTED}, "
        "countIf(has = 1) AS n_labeled, countIf(ev) AS n_eval, "
        "sumIf(abs(yv - pv), ev) AS abs_error, sumIf((yv - pv) * (yv - pv), ev) AS sq_error, "
        "varPopStableIf(yv, ev) * n_eval AS ss_tot, "
        f"sumIf(abs(yv - pv) / greatest(abs(yv), {eps}), ev) AS ape, {_DELAYS} "
        "FROM (SELECT *, has = 1 AND NOT isNaN(yv) AND NOT isNaN(pv) AS ev "
        f"FROM ({rows})) GROUP BY w{by} ORDER BY w{by}"
    )
