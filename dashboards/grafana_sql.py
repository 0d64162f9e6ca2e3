"""ClickHouse SQL of the modeltel dashboards' panels (grafana-clickhouse-datasource macros:
``$__timeFilter(col)``, ``$__timeInterval(col)``, ``$__interval_s``; template variables as
``${model:sqlstring}``, ``${model:singlequote}``, ``${feature:sqlstring}``)."""

from __future__ import annotations

CH_MODEL = "model = ${model:sqlstring} AND version = ${version:sqlstring}"

OVERVIEW_HEALTH = """
SELECT model, version,
       argMax(value, window_end) AS health_score,
       argMax(status, window_end) AS status,
       max(window_end) AS as_of
FROM ml_results
WHERE kind = 'health' AND metric = 'health_score' AND model IN (${model:singlequote})
  AND $__timeFilter(window_end)
GROUP BY model, version
ORDER BY health_score"""
"""Latest health score and status per model version."""

DRIFT_HISTOGRAM = """
WITH
    (SELECT any(categorical) FROM ml_reference
     WHERE CH_MODEL AND feature = ${feature:sqlstring}) AS is_categorical,
    (SELECT arraySort(arrayDistinct(
                quantilesExact(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)(value_num)))
     FROM ml_reference
     WHERE CH_MODEL AND feature = ${feature:sqlstring} AND value_num IS NOT NULL) AS edges
SELECT bin, sumIf(share, side = 'reference') AS reference, sumIf(share, side = 'current') AS current
FROM (
    SELECT side, bin, min(bin_order) AS bin_order,
           count() / sum(count()) OVER (PARTITION BY side) AS share
    FROM (
        SELECT side,
               multiIf(is_categorical = 1 OR length(edges) = 0, -1,
                       value_num IS NULL, -2,
                       arrayFirstIndex(e -> assumeNotNull(value_num) <= e, edges)) AS idx,
               multiIf(idx = -1, ifNull(value, '(missing)'),
                       idx = -2, if(value IS NULL, '(missing)', '(not a number)'),
                       idx = 0, concat('> ', toString(round(edges[-1], 4))),
                       idx = 1, concat('≤ ', toString(round(edges[1], 4))),
                       concat(toString(round(edges[idx - 1], 4)), ' – ',
                              toString(round(edges[idx], 4)))) AS bin,
               multiIf(idx = 0, 1000, idx < 0, 2000, idx) AS bin_order
        FROM (
            SELECT 'reference' AS side, value, value_num FROM ml_reference
            WHERE CH_MODEL AND feature = ${feature:sqlstring}
            UNION ALL
            SELECT 'current' AS side, value, value_num FROM ml_features
            WHERE CH_MODEL AND feature = ${feature:sqlstring} AND $__timeFilter(timestamp)
        )
    )
    GROUP BY side, bin
)
GROUP BY bin
ORDER BY min(bin_order), bin
""".replace("CH_MODEL", CH_MODEL)
"""Reference vs current shares per bin (reference deciles; categories for categorical)."""

DRIFT_LATEST = f"""
SELECT feature, method, value, threshold, status, reference_size, current_size,
       window_start, window_end
FROM ml_results FINAL
WHERE {CH_MODEL} AND kind = 'drift'
  AND window_end = (SELECT max(window_end) FROM ml_results
                    WHERE {CH_MODEL} AND kind = 'drift' AND $__timeFilter(window_end))
ORDER BY status = 'drift' DESC, feature, method"""

DRIFT_HISTORY = f"""
SELECT window_end AS time, concat(assumeNotNull(feature), ' (', method, ')') AS series,
       argMax(value, computed_at) AS score
FROM ml_results
WHERE {CH_MODEL} AND kind = 'drift' AND feature IS NOT NULL AND $__timeFilter(window_end)
GROUP BY time, series
ORDER BY time"""

PERFORMANCE_HISTORY = f"""
SELECT window_end AS time, concat(metric, ' (', source, ')') AS series,
       argMax(value, computed_at) AS value
FROM ml_results
WHERE {CH_MODEL} AND kind = 'performance'
  AND metric NOT IN ('label_coverage', 'label_delay_p50', 'label_delay_p95', 'label_delay_p99',
                     'labels_unknown_ids')
  AND $__timeFilter(window_end)
GROUP BY time, series
ORDER BY time"""

PERFORMANCE_LABELS = """
SELECT $__timeInterval(received_at) AS time, count() AS labels
FROM ml_labels FINAL
WHERE model = ${model:sqlstring} AND $__timeFilter(received_at)
GROUP BY time
ORDER BY time"""

PERFORMANCE_CONFUSION = f"""
SELECT window_start, window_end, value AS accuracy, current_size AS labelled, details
FROM ml_results FINAL
WHERE {CH_MODEL} AND kind = 'performance' AND metric = 'accuracy' AND source = 'realized'
  AND $__timeFilter(window_end)
ORDER BY window_end DESC
LIMIT 1"""

SERVICE_LATENCY = f"""
SELECT $__timeInterval(timestamp) AS time,
       quantileExact(0.5)(latency_s) AS p50,
       quantileExact(0.95)(latency_s) AS p95,
       quantileExact(0.99)(latency_s) AS p99
FROM ml_predictions
WHERE {CH_MODEL} AND row_index = 0 AND $__timeFilter(timestamp)
GROUP BY time
ORDER BY time"""

SERVICE_RATES = f"""
SELECT $__timeInterval(timestamp) AS time,
       count() / $__interval_s AS predictions_per_s,
       countIf(is_error = 1) / $__interval_s AS failed_predictions_per_s
FROM ml_predictions
WHERE {CH_MODEL} AND $__timeFilter(timestamp)
GROUP BY time
ORDER BY time"""

SERVICE_SLOWEST = f"""
SELECT timestamp, latency_s, batch_size, is_error, service_name, trace_id
FROM ml_predictions
WHERE {CH_MODEL} AND row_index = 0 AND $__timeFilter(timestamp)
ORDER BY latency_s DESC
LIMIT 20"""

QUALITY_LATEST = f"""
SELECT ifNull(feature, '(all)') AS feature, metric, value, threshold, status, window_end
FROM ml_results FINAL
WHERE {CH_MODEL} AND kind = 'quality'
  AND window_end = (SELECT max(window_end) FROM ml_results
                    WHERE {CH_MODEL} AND kind = 'quality' AND $__timeFilter(window_end))
ORDER BY status IN ('alert', 'warning') DESC, feature, metric"""

QUALITY_ARRIVING = f"""
SELECT $__timeInterval(timestamp) AS time, feature, count() AS values
FROM ml_features
WHERE {CH_MODEL} AND (value_num IS NOT NULL OR value IS NOT NULL) AND $__timeFilter(timestamp)
GROUP BY time, feature
ORDER BY time"""

MODEL_LATEST = f"""
SELECT kind, ifNull(feature, '(all)') AS feature, metric, value, threshold, status,
       current_size, window_end
FROM ml_results FINAL
WHERE {CH_MODEL} AND kind IN ('multivariate', 'attribution') AND metric != 'rank'
  AND (kind, window_end) IN (SELECT kind, max(window_end) FROM ml_results
                             WHERE {CH_MODEL} AND kind IN ('multivariate', 'attribution')
                               AND $__timeFilter(window_end)
                             GROUP BY kind)
ORDER BY status IN ('drift', 'alert') DESC, kind, feature IS NULL DESC, value DESC"""
"""The latest multivariate and attribution results (decisions first)."""

ATTRIBUTION_SPANS = f"""
SELECT $__timeInterval(timestamp) AS time, feature, avg(abs(value)) AS importance
FROM ml_attributions
WHERE {CH_MODEL} AND $__timeFilter(timestamp)
GROUP BY time, feature
ORDER BY time"""
"""Mean |attribution| per feature straight from the spans' attributions."""

FAIRNESS_LATEST = f"""
SELECT kind, ifNull(feature, '(all)') AS attribute, segment, metric, value, threshold, status,
       current_size, window_end
FROM ml_results FINAL
WHERE {CH_MODEL} AND kind IN ('custom', 'fairness')
  AND (kind, window_end) IN (SELECT kind, max(window_end) FROM ml_results
                             WHERE {CH_MODEL} AND kind IN ('custom', 'fairness')
                               AND $__timeFilter(window_end)
                             GROUP BY kind)
ORDER BY status = 'alert' DESC, kind, attribute, segment != '', metric, segment"""
"""The latest custom metric and fairness results (out of bounds first, summaries before groups)."""

CUSTOM_HISTORY = f"""
SELECT window_end AS time, metric AS series, argMaxIf(value, computed_at, value IS NOT NULL) AS v
FROM ml_results
WHERE {CH_MODEL} AND kind = 'custom' AND $__timeFilter(window_end)
GROUP BY time, series HAVING v IS NOT NULL
ORDER BY time"""
"""Each custom metric per window."""

FAIRNESS_HISTORY = f"""
SELECT window_end AS time, concat(metric, ' (', assumeNotNull(feature), ')') AS series,
       argMaxIf(value, computed_at, value IS NOT NULL) AS v
FROM ml_results
WHERE {CH_MODEL} AND kind = 'fairness' AND segment = '' AND feature IS NOT NULL
  AND $__timeFilter(window_end)
GROUP BY time, series HAVING v IS NOT NULL
ORDER BY time"""
"""The fairness summaries of each protected attribute per window."""
