"""SQL of the service analysis, on ``ml_predictions`` (one row per prediction; the call's
first row, ``row_index = 0``, stands for the call). Counts are sums of ``weight`` (how many
predictions each recorded one stands for, ``docs/sampling.md``); latency quantiles are of
the recorded calls, an unbiased sample. Every statement covers a set of model versions over
the same windows at once: its rows start with ``model`` and ``version``.

- :func:`service_query`: the window key and the WHERE clause of the versions' windows;
- :func:`window_stats_sql`: per version and window, predictions, calls, failed calls, the
  exact latency quantiles of the calls (:data:`LATENCY_QUANTILES`) and the latest prediction
  time;
- :func:`first_seen_sql` and :func:`baseline_counts_sql`: per version, its first
  prediction, its latest one before the windows, and its predictions per window-sized bucket
  over the trailing volume baseline;
- :func:`shares_sql`: per version and window, the most frequent predicted classes and their
  counts;
- :func:`counter_volume_sql`: per version and window, the predictions the
  instrumentation's own ``ml.predictions`` counter (never sampled) counted, from
  ``otel_metrics_sum``;
- :func:`error_types_sql`: per version and window, failed calls by ``error_type``, the most
  frequent.

Segments (:mod:`modeltel.analyzer.base.segments`): :func:`segmented_query` makes the window
statistics, class shares and error types read, instead of ``ml_predictions``, its rows with
the segment dimensions joined and repeated once per dimension (``sd``, ``sv``; one
``segmented_sql`` branch per version, all in one ``UNION ALL``) and group by ``(w, sd, sv)``:
the overall numbers (``sd = 0``) and every segment's come from the same statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modeltel.analyzer.base.prediction_rows import ROW_KEY
from modeltel.analyzer.base.query import Params, TimeWindows, prediction_filter, time_key
from modeltel.analyzer.base.segments import SEGMENT_KEY, SegmentDimension, segmented_sql
from modeltel.instrumentation.attributes import ML_MODEL_NAME, ML_MODEL_VERSION, ML_PREDICTIONS

LATENCY_QUANTILES = (0.5, 0.95, 0.99)

VERSIONS = "Array(Tuple(String, String))"
"""The type of the (model, version) pairs a statement covers."""


@dataclass(frozen=True)
class Query:
    """The parameters, window key and WHERE clause shared by the statements over the windows,
    the rows they read (``source``) and the grouping keys after ``w`` (``by``: none, or
    ``, sd, sv`` over segmented rows)."""

    params: Params
    key: str
    in_range: str
    source: str = "ml_predictions"
    by: str = ""


def service_query(targets: Sequence[tuple[str, str]], spec: TimeWindows) -> Query:
    """The expressions over the windows of ``spec`` of the (model, version) pairs
    ``targets``, with fresh parameters."""
    params = Params()
    base = f"(model, version) IN {params.add([tuple(t) for t in targets], VERSIONS)}"
    key = time_key(spec, params)
    start = params.add(spec.start_ns, "Int64")
    end = params.add(spec.end_ns, "Int64")
    in_range = (
        f"{base} AND timestamp >= fromUnixTimestamp64Nano({start}) "
        f"AND timestamp < fromUnixTimestamp64Nano({end})"
    )
    return Query(params, key, in_range)


SEGMENTED_COLUMNS = (
    "model, version, w, weight, row_index, is_error, latency_s, timestamp, prediction_label, "
    "error_type"
)
"""The prediction columns the statements read, as segmented rows carry them."""


def segmented_query(
    versions: Sequence[tuple[tuple[str, str], Sequence[SegmentDimension]]],
    spec: TimeWindows,
    most: int,
) -> Query:
    """The :class:`Query` of the statements over the versions' segmented rows: each (model,
    version) of ``versions`` with its dimensions, whose ``most`` most frequent values over
    ``spec`` are kept; fresh parameters."""
    params = Params()
    branches = []
    for (model, version), dimensions in versions:
        where = prediction_filter(model, version, spec, params)
        rows = (
            f"SELECT model, version, {time_key(spec, params)} AS w, weight, row_index, is_error, "
            "latency_s, timestamp, prediction_label, error_type, service_name, "
            f"{ROW_KEY} AS {SEGMENT_KEY} FROM ml_predictions WHERE {where}"
        )
        segmented = segmented_sql(rows, dimensions, model, version, spec, params, most=most)
        branches.append(f"SELECT {SEGMENTED_COLUMNS}, sd, sv FROM ({segmented})")
    return Query(params, "w", "1", f"({' UNION ALL '.join(branches)})", ", sd, sv")


def window_stats_sql(q: Query) -> str:
    """Per version and window (and segment): ``model``, ``version``, ``w`` (, ``sd``,
    ``sv``), predictions, calls, failed calls (weighted), latency quantiles of the recorded
    calls (an array), the latest and earliest prediction (ns), the recorded calls and the
    recorded predictions."""
    quantiles = ", ".join(map(str, LATENCY_QUANTILES))
    return (
        f"SELECT model, version, {q.key} AS w{q.by}, sum(weight), sumIf(weight, row_index = 0), "
        f"sumIf(weight, row_index = 0 AND is_error = 1), "
        f"quantilesExactInclusiveIf({quantiles})(latency_s, row_index = 0), "
        "toUnixTimestamp64Nano(max(timestamp)), toUnixTimestamp64Nano(min(timestamp)), "
        f"countIf(row_index = 0), count() FROM {q.source} WHERE {q.in_range} "
        f"GROUP BY model, version, w{q.by}"
    )


def first_seen_sql(targets: Sequence[tuple[str, str]], spec: TimeWindows) -> tuple[str, Params]:
    """(SQL, parameters) of one row per version of ``targets``: ``model``, ``version``, its
    first prediction, its latest before the windows (ns) and its prediction count."""
    params = Params()
    versions = params.add([tuple(t) for t in targets], VERSIONS)
    start = params.add(spec.start_ns, "Int64")
    sql = (
        "SELECT model, version, toUnixTimestamp64Nano(min(timestamp)), "
        f"toUnixTimestamp64Nano(maxIf(timestamp, timestamp < fromUnixTimestamp64Nano({start}))), "
        f"sum(weight) FROM ml_predictions WHERE (model, version) IN {versions} "
        "GROUP BY model, version"
    )
    return sql, params


def baseline_counts_sql(
    targets: Sequence[tuple[str, str]], spec: TimeWindows, baseline_windows: int
) -> tuple[str, Params]:
    """(SQL, parameters) of ``model``, ``version``, and the predictions per window-sized
    bucket ``w`` from ``baseline_windows`` windows before the first one to the end of the
    last, of each version of ``targets``."""
    params = Params()
    key = time_key(spec, params)
    lo_ns = spec.start_ns - baseline_windows * spec.size_ns
    sql = (
        f"SELECT model, version, {key} AS w, sum(weight) FROM ml_predictions WHERE "
        f"(model, version) IN {params.add([tuple(t) for t in targets], VERSIONS)} "
        f"AND timestamp >= fromUnixTimestamp64Nano({params.add(lo_ns, 'Int64')}) "
        f"AND timestamp < fromUnixTimestamp64Nano({params.add(spec.end_ns, 'Int64')}) "
        "GROUP BY model, version, w"
    )
    return sql, params


def shares_sql(q: Query, limit: int) -> str:
    """Per version and window (and segment): ``model``, ``version``, ``w`` (, ``sd``,
    ``sv``), predicted class and count, the ``limit`` most frequent classes."""
    return (
        f"SELECT model, version, {q.key} AS w{q.by}, prediction_label, sum(weight) AS c "
        f"FROM {q.source} WHERE {q.in_range} AND prediction_label IS NOT NULL "
        f"GROUP BY model, version, w{q.by}, prediction_label "
        f"ORDER BY model, version, w{q.by}, c DESC, prediction_label LIMIT {int(limit)} "
        f"BY model, version, w{q.by}"
    )


COUNTER_LOOKBACK_NS = 86_400 * 10**9
"""How far before the first window a cumulative counter's previous point is looked for."""


def counter_volume_sql(targets: Sequence[tuple[str, str]], spec: TimeWindows) -> tuple[str, Params]:
    """(SQL, parameters) of ``model``, ``version``, ``w``, the predictions counted and the
    earliest first point of the counting series (ns), per version of ``targets`` and window
    of the counter's points. A cumulative series (one per process: resource, attributes and
    start time) adds its increase since its previous point (its first point counts from its
    start); a delta point adds its value."""
    params = Params()
    key = time_key(spec, params, column="TimeUnix")
    start = params.add(spec.start_ns, "Int64")
    end = params.add(spec.end_ns, "Int64")
    since = params.add(spec.start_ns - COUNTER_LOOKBACK_NS, "Int64")
    # toString: in a JSON store an attribute is Dynamic, which a tuple IN does not compare
    model = f"toString(Attributes[{params.add(ML_MODEL_NAME, 'String')}])"
    version = f"toString(Attributes[{params.add(ML_MODEL_VERSION, 'String')}])"
    sql = (
        "SELECT model, version, w, sum(increase), toUnixTimestamp64Nano(min(first_point)) "
        f"FROM (SELECT TimeUnix, {model} AS model, {version} AS version, {key} AS w, "
        "min(TimeUnix) OVER (PARTITION BY ServiceName, "
        "ResourceAttributes, Attributes, StartTimeUnix) AS first_point, "
        "if(AggregationTemporality = 1, Value, "
        "greatest(Value - lagInFrame(Value, 1, 0) OVER (PARTITION BY ServiceName, "
        "ResourceAttributes, Attributes, StartTimeUnix ORDER BY TimeUnix ROWS BETWEEN "
        "UNBOUNDED PRECEDING AND CURRENT ROW), 0)) AS increase "
        f"FROM otel_metrics_sum WHERE MetricName = {params.add(ML_PREDICTIONS, 'String')} "
        f"AND ({model}, {version}) IN {params.add([tuple(t) for t in targets], VERSIONS)} "
        f"AND TimeUnix >= fromUnixTimestamp64Nano({since}) "
        f"AND TimeUnix < fromUnixTimestamp64Nano({end})) "
        f"WHERE TimeUnix >= fromUnixTimestamp64Nano({start}) GROUP BY model, version, w"
    )
    return sql, params


def error_types_sql(q: Query, limit: int) -> str:
    """Per version and window (and segment): ``model``, ``version``, ``w`` (, ``sd``,
    ``sv``), ``error_type`` and failed calls (weighted), the ``limit`` most frequent types
    (calls without one count as ``""``)."""
    return (
        f"SELECT model, version, {q.key} AS w{q.by}, error_type, sum(weight) AS c "
        f"FROM {q.source} WHERE {q.in_range} AND row_index = 0 AND is_error = 1 "
        f"GROUP BY model, version, w{q.by}, error_type "
        f"ORDER BY model, version, w{q.by}, c DESC, error_type LIMIT {int(limit)} "
        f"BY model, version, w{q.by}"
    )
