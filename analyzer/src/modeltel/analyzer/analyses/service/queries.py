"""SQL of the service analysis, on ``ml_predictions`` (one row per prediction; the call's
first row, ``row_index = 0``, stands for the call). Counts are sums of ``weight`` (how many
predictions each recorded one stands for, ``docs/sampling.md``); latency quantiles are of
the recorded calls, an unbiased sample.

- :func:`service_query`: the window key and the WHERE clause of a model version's windows;
- :func:`window_stats_sql`: per window, predictions, calls, failed calls, the exact latency
  quantiles of the calls (:data:`LATENCY_QUANTILES`) and the latest prediction time;
- :func:`first_seen_sql` and :func:`baseline_counts_sql`: the version's first prediction,
  its latest one before the windows, and its predictions per window-sized bucket over the
  trailing volume baseline;
- :func:`shares_sql`: per window, the most frequent predicted classes and their counts;
- :func:`counter_volume_sql`: per window, the predictions the instrumentation's own
  ``ml.predictions`` counter (never sampled) counted, from ``otel_metrics_sum``;
- :func:`error_types_sql`: per window, failed calls by ``error_type``, the most frequent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modeltel.analyzer.base.query import Params, TimeWindows, time_key
from modeltel.instrumentation.attributes import ML_MODEL_NAME, ML_MODEL_VERSION, ML_PREDICTIONS

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
    """Per window: ``w``, predictions, calls, failed calls (weighted), latency quantiles of
    the recorded calls (an array), the latest and earliest prediction (ns), and the recorded
    calls."""
    quantiles = ", ".join(map(str, LATENCY_QUANTILES))
    return (
        f"SELECT {q.key} AS w, sum(weight), sumIf(weight, row_index = 0), "
        f"sumIf(weight, row_index = 0 AND is_error = 1), "
        f"quantilesExactInclusiveIf({quantiles})(latency_s, row_index = 0), "
        "toUnixTimestamp64Nano(max(timestamp)), toUnixTimestamp64Nano(min(timestamp)), "
        f"countIf(row_index = 0) FROM ml_predictions WHERE {q.in_range} GROUP BY w"
    )


def first_seen_sql(model: str, version: str, spec: TimeWindows) -> tuple[str, dict[str, Any]]:
    """(SQL, parameters) of one row: the version's first prediction, its latest before the
    windows (ns) and its prediction count."""
    return (
        "SELECT toUnixTimestamp64Nano(min(timestamp)), "
        "toUnixTimestamp64Nano(maxIf(timestamp, timestamp < fromUnixTimestamp64Nano({s:Int64}))), "
        "sum(weight) FROM ml_predictions WHERE model = {m:String} AND version = {v:String}",
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
        f"SELECT {key} AS w, sum(weight) FROM ml_predictions WHERE model = "
        f"{params.add(model, 'String')} AND version = {params.add(version, 'String')} "
        f"AND timestamp >= fromUnixTimestamp64Nano({params.add(lo_ns, 'Int64')}) "
        f"AND timestamp < fromUnixTimestamp64Nano({params.add(spec.end_ns, 'Int64')}) "
        "GROUP BY w"
    )
    return sql, params


def shares_sql(q: Query, limit: int) -> str:
    """Per window: ``w``, predicted class and count, the ``limit`` most frequent classes."""
    return (
        f"SELECT {q.key} AS w, prediction_label, sum(weight) AS c FROM ml_predictions "
        f"WHERE {q.in_range} AND prediction_label IS NOT NULL GROUP BY w, prediction_label "
        f"ORDER BY w, c DESC, prediction_label LIMIT {int(limit)} BY w"
    )


COUNTER_LOOKBACK_NS = 86_400 * 10**9
"""How far before the first window a cumulative counter's previous point is looked for."""


def counter_volume_sql(model: str, version: str, spec: TimeWindows) -> tuple[str, Params]:
    """(SQL, parameters) of ``w``, the predictions counted and the earliest first point of
    the counting series (ns), per window of the counter's points. A cumulative series (one per
    process: resource, attributes and start time) adds its increase since its previous point
    (its first point counts from its start); a delta point adds its value."""
    params = Params()
    key = time_key(spec, params, column="TimeUnix")
    start = params.add(spec.start_ns, "Int64")
    end = params.add(spec.end_ns, "Int64")
    since = params.add(spec.start_ns - COUNTER_LOOKBACK_NS, "Int64")
    sql = (
        f"SELECT w, sum(increase), toUnixTimestamp64Nano(min(first_point)) FROM ("
        f"SELECT TimeUnix, {key} AS w, min(TimeUnix) OVER (PARTITION BY ServiceName, "
        "ResourceAttributes, Attributes, StartTimeUnix) AS first_point, "
        "if(AggregationTemporality = 1, Value, "
        "greatest(Value - lagInFrame(Value, 1, 0) OVER (PARTITION BY ServiceName, "
        "ResourceAttributes, Attributes, StartTimeUnix ORDER BY TimeUnix ROWS BETWEEN "
        "UNBOUNDED PRECEDING AND CURRENT ROW), 0)) AS increase "
        f"FROM otel_metrics_sum WHERE MetricName = {params.add(ML_PREDICTIONS, 'String')} "
        f"AND Attributes[{params.add(ML_MODEL_NAME, 'String')}] = {params.add(model, 'String')} "
        f"AND Attributes[{params.add(ML_MODEL_VERSION, 'String')}] = "
        f"{params.add(version, 'String')} "
        f"AND TimeUnix >= fromUnixTimestamp64Nano({since}) "
        f"AND TimeUnix < fromUnixTimestamp64Nano({end})) "
        f"WHERE TimeUnix >= fromUnixTimestamp64Nano({start}) GROUP BY w"
    )
    return sql, params


def error_types_sql(q: Query, limit: int) -> str:
    """Per window: ``w``, ``error_type`` and failed calls (weighted), the ``limit`` most
    frequent types (calls without one count as ``""``)."""
    return (
        f"SELECT {q.key} AS w, error_type, sum(weight) AS c FROM ml_predictions "
        f"WHERE {q.in_range} AND row_index = 0 AND is_error = 1 GROUP BY w, error_type "
        f"ORDER BY w, c DESC, error_type LIMIT {int(limit)} BY w"
    )
