"""SQL of the service analysis, on ``ml_predictions`` (one row per prediction; the call's
first row, ``row_index = 0``, stands for the call).

- :func:`service_query`: the window key and the WHERE clause of a model version's windows;
- :func:`window_stats_sql`: per window, predictions, calls, failed calls, the exact latency
  quantiles of the calls (:data:`LATENCY_QUANTILES`) and the latest prediction time;
- :func:`first_seen_sql` and :func:`baseline_counts_sql`: the version's first prediction,
  its latest one before the windows, and its predictions per window-sized bucket over the
  trailing volume baseline;
- :func:`shares_sql`: per window, the most frequent predicted classes and their counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modeltel.analyzer.base.query import Params, TimeWindows, time_key

LATENCY_QUANTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True)
class Query:
    """The parameters, window key and WHERE clause shared by the statements over the windows."""

    params: Params
    key: str
    in_range: str


def service_query(model: str, version: str, spec: TimeWindows) -> Query:
    """The expressions over the windows of ``spec``, with fresh parameters."""
    params = Params()
    model_p, version_p = params.add(model, "String"), params.add(version, "String")
    base = f"model = {model_p} AND version = {version_p}"
    key = time_key(spec, params)
    start = params.add(spec.start_ns, "Int64")
    end = params.add(spec.end_ns, "Int64")
    in_range = (
        f"{base} AND timestamp >= fromUnixTimestamp64Nano({start}) "
        f"AND timestamp < fromUnixTimestamp64Nano({end})"
    )
    return Query(params, key, in_range)


def window_stats_sql(q: Query) -> str:
    """Per window: ``w``, predictions, calls, failed calls, latency quantiles (an array) and
    the latest prediction (ns)."""
    quantiles = ", ".join(map(str, LATENCY_QUANTILES))
    return (
        f"SELECT {q.key} AS w, count(), countIf(row_index = 0), "
        f"countIf(row_index = 0 AND is_error = 1), "
        f"quantilesExactInclusiveIf({quantiles})(latency_s, row_index = 0), "
        f"toUnixTimestamp64Nano(max(timestamp)) FROM ml_predictions WHERE {q.in_range} "
        "GROUP BY w"
    )


def first_seen_sql(model: str, version: str, spec: TimeWindows) -> tuple[str, dict[str, Any]]:
    """(SQL, parameters) of one row: the version's first prediction, its latest before the
    windows (ns) and its prediction count."""
    return (
        "SELECT toUnixTimestamp64Nano(min(timestamp)), "
        "toUnixTimestamp64Nano(maxIf(timestamp, timestamp < fromUnixTimestamp64Nano({s:Int64}))), "
        "count() FROM ml_predictions WHERE model = {m:String} AND version = {v:String}",
        {"m": model, "v": version, "s": spec.start_ns},
    )


def baseline_counts_sql(
    model: str, version: str, spec: TimeWindows, baseline_windows: int
) -> tuple[str, Params]:
    """(SQL, parameters) of the predictions per window-sized bucket ``w`` from
    ``baseline_windows`` windows before the first one to the end of the last."""
    params = Params()
    key = time_key(spec, params)
    lo_ns = spec.start_ns - baseline_windows * spec.size_ns
    sql = (
        f"SELECT {key} AS w, count() FROM ml_predictions WHERE model = "
        f"{params.add(model, 'String')} AND version = {params.add(version, 'String')} "
        f"AND timestamp >= fromUnixTimestamp64Nano({params.add(lo_ns, 'Int64')}) "
        f"AND timestamp < fromUnixTimestamp64Nano({params.add(spec.end_ns, 'Int64')}) "
        "GROUP BY w"
    )
    return sql, params


def shares_sql(q: Query, limit: int) -> str:
    """Per window: ``w``, predicted class and count, the ``limit`` most frequent classes."""
    return (
        f"SELECT {q.key} AS w, prediction_label, count() AS c FROM ml_predictions "
        f"WHERE {q.in_range} AND prediction_label IS NOT NULL GROUP BY w, prediction_label "
        f"ORDER BY w, c DESC, prediction_label LIMIT {int(limit)} BY w"
    )
