"""SQL of the quality analysis; every count is made in ClickHouse.

- :func:`reference_profile_sql`: per reference feature, its type, range, central range
  (``quality.outliers.quantiles``, exact) and missing share;
- :func:`quality_query`: the WHERE clause of a model version's windows and the expressions
  that judge one ``ml_features`` value against the :class:`ReferenceProfile` and the declared
  bounds (outside the range, outside the central range and how far, an unseen category);
- per window: :func:`predictions_sql` (predictions), :func:`feature_counts_sql` (present,
  wrong-type, out-of-range and new-category values of each feature) and
  :func:`outlier_counts_sql` (predictions whose outlier score reaches k);
- :func:`outliers_sql`: the predictions of a window with the highest outlier score.

Every value is a bound parameter of the :class:`~modeltel.analyzer.base.query.Params` of
the :class:`Query`, shared by the statements of one computation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from modeltel.analyzer.analyses.quality.config import QualityConfig
from modeltel.analyzer.base.query import Params, TimeWindows, time_key

PREDICTION_PREFIX = "prediction."


@dataclass
class ReferenceProfile:
    """What the reference says about each feature: type, range, central range, missing share."""

    version: str | None = None
    categorical: dict[str, bool] = field(default_factory=dict)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    central: dict[str, tuple[float, float]] = field(default_factory=dict)
    missing: dict[str, float] = field(default_factory=dict)


def reference_profile_sql(quantiles: tuple[float, float]) -> str:
    """Per feature of a reference: ``feature``, max(categorical), min and max number, the
    central range (an array of two quantiles), missing share and count of numbers.

    Parameters ``m`` (model), ``v`` (version), ``r`` (reference) and ``prefix``
    (:data:`PREDICTION_PREFIX`: prediction pseudo-features are left out).
    """
    lo, hi = quantiles
    return (
        "SELECT feature, max(categorical), min(value_num), max(value_num), "
        f"quantilesExactInclusiveIf({lo}, {hi})(value_num, value_num IS NOT NULL), "
        "countIf(value_num IS NULL AND value IS NULL) / count(), countIf(value_num IS NOT NULL) "
        "FROM ml_reference WHERE model = {m:String} AND version = {v:String} "
        "AND reference = {r:String} AND NOT startsWith(feature, {prefix:String}) GROUP BY feature"
    )


def range_arrays(
    profile: ReferenceProfile, config: QualityConfig, params: Params
) -> tuple[str, str, str, str, str, str]:
    """SQL arrays of features and their (range, central range) bounds, and the categorical set."""
    ranges: dict[str, tuple[float, float]] = {}
    for name, (lo, hi) in profile.bounds.items():
        ranges[name] = (lo, hi)
    for name, (low, high) in config.bounds.items():
        old = ranges.get(name, (-math.inf, math.inf))
        ranges[name] = (
            low if low is not None else old[0],
            high if high is not None else old[1],
        )
    names = sorted(ranges)
    central = sorted(profile.central)
    return (
        params.add(names, "Array(String)"),
        params.add([ranges[n][0] for n in names], "Array(Float64)"),
        params.add([ranges[n][1] for n in names], "Array(Float64)"),
        params.add(central, "Array(String)"),
        params.add([profile.central[n][0] for n in central], "Array(Float64)"),
        params.add([profile.central[n][1] for n in central], "Array(Float64)"),
    )


@dataclass
class Query:
    """The WHERE clause and expressions shared by the quality statements."""

    params: Params
    where: str
    key: str
    outside_range: str
    outside_central: str
    severity: str
    new_category: str
    categorical: str


def quality_query(
    model: str, version: str, spec: TimeWindows, profile: ReferenceProfile, config: QualityConfig
) -> Query:
    """The expressions of one computation over the windows of ``spec``, with fresh parameters."""
    params = Params()
    where = (
        f"model = {params.add(model, 'String')} AND version = {params.add(version, 'String')} "
        f"AND timestamp >= fromUnixTimestamp64Nano({params.add(spec.start_ns, 'Int64')}) "
        f"AND timestamp < fromUnixTimestamp64Nano({params.add(spec.end_ns, 'Int64')})"
    )
    names, lows, highs, cnames, clows, chighs = range_arrays(profile, config, params)
    key = time_key(spec, params)
    ri = f"indexOf({names}, feature)"
    ci = f"indexOf({cnames}, feature)"
    outside_range = (
        f"({ri} > 0 AND value_num IS NOT NULL AND (value_num < arrayElement({lows}, {ri}) "
        f"OR value_num > arrayElement({highs}, {ri})))"
    )
    clo, chi = f"arrayElement({clows}, {ci})", f"arrayElement({chighs}, {ci})"
    outside_central = (
        f"({ci} > 0 AND value_num IS NOT NULL AND (value_num < {clo} OR value_num > {chi}))"
    )
    width = f"greatest({chi} - {clo}, 1e-12)"
    severity = f"if({outside_central}, greatest({clo} - value_num, value_num - {chi}) / {width}, 0)"
    ref_cats = sorted(n for n, c in profile.categorical.items() if c)
    categorical = f"has({params.add(ref_cats, 'Array(String)')}, feature)"
    if profile.version is not None:
        new_category = (
            f"({categorical} AND value IS NOT NULL AND (feature, value) NOT IN "
            f"(SELECT feature, value FROM ml_reference WHERE model = {params.add(model, 'String')} "
            f"AND version = {params.add(profile.version, 'String')} "
            f"AND reference = {params.add(config.reference, 'String')} AND categorical = 1 "
            f"AND value IS NOT NULL GROUP BY feature, value))"
        )
    else:
        new_category = "0"
    return Query(
        params, where, key, outside_range, outside_central, severity, new_category, categorical
    )


def predictions_sql(q: Query) -> str:
    """Predictions per window: ``w``, count."""
    return f"SELECT {q.key} AS w, count() FROM ml_predictions WHERE {q.where} GROUP BY w"


def feature_counts_sql(q: Query, profile: ReferenceProfile) -> str:
    """Per window and feature: ``w``, ``feature``, present, wrong-type, numeric, out-of-range,
    categorical present and new-category values, and max(categorical)."""
    numeric_expected = (
        f"if(has({q.params.add(sorted(profile.categorical), 'Array(String)')}, feature), "
        f"NOT {q.categorical}, categorical = 0)"
    )
    return (
        f"SELECT {q.key} AS w, feature, "
        "countIf(value_num IS NOT NULL OR value IS NOT NULL) AS present, "
        f"countIf({numeric_expected} AND value IS NOT NULL AND value_num IS NULL) AS wrong, "
        f"countIf({numeric_expected} AND value_num IS NOT NULL) AS numeric, "
        f"countIf({q.outside_range}) AS out_of_range, "
        f"countIf({q.categorical} AND value IS NOT NULL) AS cat_present, "
        f"countIf({q.new_category}) AS new_cat, max(categorical) AS cat_flag "
        f"FROM ml_features WHERE {q.where} GROUP BY w, feature"
    )


def outlier_counts_sql(q: Query, k: int) -> str:
    """Per window: ``w``, the predictions whose outlier score reaches ``k`` (at least 1)."""
    return (
        f"SELECT w, countIf(score >= {int(max(k, 1))}) FROM (SELECT any({q.key}) AS w, "
        f"prediction_id, countIf({q.outside_central} OR {q.new_category}) AS score "
        f"FROM ml_features WHERE {q.where} GROUP BY prediction_id) GROUP BY w"
    )


def outliers_sql(q: Query, limit: int) -> str:
    """The ``limit`` predictions with the highest outlier score, then severity: their id,
    ``first_seen``, ``score``, ``severity`` and (sorted) ``features``."""
    flag = f"({q.outside_central} OR {q.new_category})"
    return (
        f"SELECT prediction_id, min(timestamp) AS first_seen, countIf({flag}) AS score, "
        f"sum({q.severity} + if({q.new_category}, 1, 0)) AS severity, "
        f"arraySort(groupArrayIf(feature, {flag})) AS features "
        f"FROM ml_features WHERE {q.where} GROUP BY prediction_id HAVING score > 0 "
        f"ORDER BY score DESC, severity DESC, prediction_id LIMIT {int(limit)}"
    )
