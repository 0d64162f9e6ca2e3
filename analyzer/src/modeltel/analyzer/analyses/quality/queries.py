"""SQL of the quality analysis; every count is made in ClickHouse.

Every statement covers a set of model versions (targets) over the same windows at once; its
rows start with ``model`` and ``version``.

- :func:`reference_versions_sql` and :func:`reference_profile_sql`: the stored versions of a
  reference name of some models; per feature of some references, its type, range, central
  range (``quality.outliers.quantiles``, exact) and missing share;
- :func:`quality_query`: the WHERE clause of the targets' windows and the expressions that
  judge one ``ml_features`` value against the :class:`ReferenceProfile` of its target and the
  declared bounds (outside the range, outside the central range and how far, an unseen
  category), read from a table of per-(target, feature) rules joined on the values;
- per window and segment: :func:`predictions_sql` (predictions), :func:`feature_counts_sql`
  (present, wrong-type, out-of-range and new-category values of each feature) and
  :func:`outlier_scores_sql` (predictions per outlier score);
- :func:`outliers_sql`: the predictions of a window with the highest outlier score.

Segments (:mod:`modeltel.analyzer.base.segments`, one target): each row is counted once with
``sd = 0`` (every prediction) and once per segment of its prediction (``sd``, ``sv``), so one
``GROUP BY`` gives the overall counts and every segment's. Without segments the rows carry
``sd = 0`` only.

Every value is a bound parameter of the :class:`~modeltel.analyzer.base.query.Params` of
the :class:`Query`, shared by the statements of one computation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from modeltel.analyzer.analyses.quality.config import QualityConfig
from modeltel.analyzer.base.prediction_rows import ROW_KEY
from modeltel.analyzer.base.query import Params, TimeWindows, time_key
from modeltel.analyzer.base.segments import SEGMENT_KEY

PREDICTION_PREFIX = "prediction."
VERSIONS = "Array(Tuple(String, String))"
"""The type of the (model, version) pairs a statement covers."""
RULES = (
    "Array(Tuple(String, String, String, String, UInt8, Float64, Float64, UInt8, Float64, "
    "Float64, UInt8, UInt8))"
)
"""The type of the rules: (model, version, feature, reference version, has_range, lo, hi,
has_central, clo, chi, profiled, ref_cat)."""
_RULE_COLUMNS = (
    "model",
    "version",
    "feature",
    "ref_version",
    "has_range",
    "lo",
    "hi",
    "has_central",
    "clo",
    "chi",
    "profiled",
    "ref_cat",
)


@dataclass
class ReferenceProfile:
    """What the reference says about each feature: type, range, central range, missing share."""

    version: str | None = None
    categorical: dict[str, bool] = field(default_factory=dict)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    central: dict[str, tuple[float, float]] = field(default_factory=dict)
    missing: dict[str, float] = field(default_factory=dict)


def reference_versions_sql() -> str:
    """Per stored version of the reference ``r`` of the models ``models``: ``model``,
    ``version``, its latest upload time."""
    return (
        "SELECT model, version, max(uploaded_at) FROM ml_reference "
        "WHERE model IN {models:Array(String)} AND reference = {r:String} GROUP BY model, version"
    )


def reference_profile_sql(quantiles: tuple[float, float]) -> str:
    """Per feature of the references: ``model``, ``version`` (of the reference), ``feature``,
    max(categorical), min and max number, the central range (an array of two quantiles),
    missing share and count of numbers.

    Parameters ``refs`` (the (model, version) pairs of the references), ``r`` (reference) and
    ``prefix`` (:data:`PREDICTION_PREFIX`: prediction pseudo-features are left out).
    """
    lo, hi = quantiles
    return (
        "SELECT model, version, feature, max(categorical), min(value_num), max(value_num), "
        f"quantilesExactInclusiveIf({lo}, {hi})(value_num, value_num IS NOT NULL), "
        "countIf(value_num IS NULL AND value IS NULL) / count(), countIf(value_num IS NOT NULL) "
        f"FROM ml_reference WHERE (model, version) IN {{refs:{VERSIONS}}} "
        "AND reference = {r:String} AND NOT startsWith(feature, {prefix:String}) "
        "GROUP BY model, version, feature"
    )


def rules(
    model: str, version: str, profile: ReferenceProfile, config: QualityConfig
) -> list[tuple[object, ...]]:
    """The rules of one target, a row per feature its reference or its bounds name (see
    :data:`RULES`): range (the reference's, the declared bounds replacing either side),
    central range, whether the reference profiled it and whether it is categorical there."""
    ranges: dict[str, tuple[float, float]] = dict(profile.bounds)
    for name, (low, high) in config.bounds.items():
        old = ranges.get(name, (-math.inf, math.inf))
        ranges[name] = (
            low if low is not None else old[0],
            high if high is not None else old[1],
        )
    out = []
    for name in sorted(set(ranges) | set(profile.central) | set(profile.categorical)):
        lo, hi = ranges.get(name, (0.0, 0.0))
        clo, chi = profile.central.get(name, (0.0, 0.0))
        out.append(
            (
                model,
                version,
                name,
                profile.version or "",
                int(name in ranges),
                float(lo),
                float(hi),
                int(name in profile.central),
                float(clo),
                float(chi),
                int(name in profile.categorical),
                int(profile.categorical.get(name, False)),
            )
        )
    return out


@dataclass
class Query:
    """The WHERE clause, the joined rules and the expressions shared by the quality
    statements; ``segments``: the SQL of each prediction's segments (``fk``, ``segs``), or
    None."""

    params: Params
    where: str
    key: str
    rules: str
    reference: str
    outside_range: str
    outside_central: str
    severity: str
    new_category: str
    segments: str | None = None


def quality_query(
    targets: Sequence[tuple[str, str]],
    spec: TimeWindows,
    profiles: Mapping[tuple[str, str], ReferenceProfile],
    configs: Mapping[tuple[str, str], QualityConfig],
    reference: str,
) -> Query:
    """The expressions of one computation of ``targets`` over the windows of ``spec`` (each
    target judged by its profile and its config's bounds; ``reference``: the name of the
    references), with fresh parameters."""
    params = Params()
    where = (
        f"(model, version) IN {params.add([tuple(t) for t in targets], VERSIONS)} "
        f"AND timestamp >= fromUnixTimestamp64Nano({params.add(spec.start_ns, 'Int64')}) "
        f"AND timestamp < fromUnixTimestamp64Nano({params.add(spec.end_ns, 'Int64')})"
    )
    rows = [r for t in targets for r in rules(*t, profiles[t], configs[t])]
    elements = ", ".join(f"t.{i} AS {c}" for i, c in enumerate(_RULE_COLUMNS, 1))
    table = f"SELECT {elements} FROM (SELECT arrayJoin({params.add(rows, RULES)}) AS t)"
    outside_range = "(has_range AND value_num IS NOT NULL AND (value_num < lo OR value_num > hi))"
    outside_central = (
        "(has_central AND value_num IS NOT NULL AND (value_num < clo OR value_num > chi))"
    )
    width = "greatest(chi - clo, 1e-12)"
    severity = f"if({outside_central}, greatest(clo - value_num, value_num - chi) / {width}, 0)"
    refs = sorted({(m, p.version) for (m, _), p in profiles.items() if p.version is not None})
    name = params.add(reference, "String")
    new_category = (
        "(ref_cat AND value IS NOT NULL AND (model, ref_version, feature, value) NOT IN "
        "(SELECT model, version, feature, value FROM ml_reference "
        f"WHERE (model, version) IN {params.add(refs, VERSIONS)} AND reference = {name} "
        "AND categorical = 1 AND value IS NOT NULL GROUP BY model, version, feature, value))"
    )
    return Query(
        params,
        where,
        time_key(spec, params),
        table,
        name,
        outside_range,
        outside_central,
        severity,
        new_category,
    )


def segments_sql(segmented: str) -> str:
    """Each prediction's segments, from the rows of
    :func:`~modeltel.analyzer.base.segments.segmented_sql`: ``fk`` and ``segs``, its
    ``(sd, sv)`` pairs but the overall one."""
    return (
        f"SELECT {SEGMENT_KEY}, groupArray((sd, sv)) AS segs FROM ({segmented}) "
        f"WHERE sd > 0 GROUP BY {SEGMENT_KEY}"
    )


def _fk(q: Query) -> str:
    return f", {ROW_KEY} AS {SEGMENT_KEY}" if q.segments is not None else ""


def _by_segment(q: Query, rows: str) -> str:
    """``rows`` with ``sd`` and ``sv``: each once overall and once per segment of its
    prediction (its ``fk``)."""
    overall = "(toUInt8(0), CAST(NULL AS Nullable(String)))"
    if q.segments is None:
        return f"SELECT *, toUInt8(0) AS sd, CAST(NULL AS Nullable(String)) AS sv FROM ({rows})"
    return (
        "SELECT * EXCEPT (segs, seg), seg.1 AS sd, seg.2 AS sv "
        f"FROM (SELECT *, arrayJoin(arrayConcat([{overall}], segs)) AS seg "
        f"FROM ({rows}) AS x LEFT JOIN ({q.segments}) AS s USING ({SEGMENT_KEY}))"
    )


def _values(q: Query) -> str:
    """The targets' feature values in the windows with their rules."""
    return (
        f"SELECT * FROM (SELECT model, version, feature, prediction_id, {q.key} AS w, value, "
        f"value_num, categorical, timestamp{_fk(q)} FROM ml_features WHERE {q.where}) AS f "
        f"LEFT JOIN ({q.rules}) AS r USING (model, version, feature)"
    )


def predictions_sql(q: Query) -> str:
    """Predictions per version, window and segment: ``model``, ``version``, ``w``, ``sd``,
    ``sv``, count."""
    rows = f"SELECT model, version, {q.key} AS w{_fk(q)} FROM ml_predictions WHERE {q.where}"
    return (
        f"SELECT model, version, w, sd, sv, count() FROM ({_by_segment(q, rows)}) "
        "GROUP BY model, version, w, sd, sv"
    )


def feature_counts_sql(q: Query) -> str:
    """Per version, window, segment and feature: ``model``, ``version``, ``w``, ``sd``, ``sv``,
    ``feature``, present, wrong-type, numeric, out-of-range, categorical present and
    new-category values, and max(categorical)."""
    numeric_expected = "if(profiled, NOT ref_cat, categorical = 0)"
    return (
        "SELECT model, version, w, sd, sv, feature, "
        "countIf(value_num IS NOT NULL OR value IS NOT NULL) AS present, "
        f"countIf({numeric_expected} AND value IS NOT NULL AND value_num IS NULL) AS wrong, "
        f"countIf({numeric_expected} AND value_num IS NOT NULL) AS numeric, "
        f"countIf({q.outside_range}) AS out_of_range, "
        "countIf(ref_cat AND value IS NOT NULL) AS cat_present, "
        f"countIf({q.new_category}) AS new_cat, max(categorical) AS cat_flag "
        f"FROM ({_by_segment(q, _values(q))}) GROUP BY model, version, w, sd, sv, feature"
    )


def outlier_scores_sql(q: Query) -> str:
    """Per version, window, segment and outlier score above 0: ``model``, ``version``, ``w``,
    ``sd``, ``sv``, ``score`` (features outside the central range or holding an unseen
    category), predictions."""
    scores = (
        "SELECT model, version, prediction_id, any(w) AS w, "
        f"countIf({q.outside_central} OR {q.new_category}) AS score"
        f"{', any(fk) AS fk' if q.segments is not None else ''} "
        f"FROM ({_values(q)}) GROUP BY model, version, prediction_id"
    )
    return (
        f"SELECT model, version, w, sd, sv, score, count() FROM ({_by_segment(q, scores)}) "
        "WHERE score > 0 GROUP BY model, version, w, sd, sv, score"
    )


def outliers_sql(q: Query, limit: int) -> str:
    """The ``limit`` predictions with the highest outlier score, then severity: their id,
    ``first_seen``, ``score``, ``severity`` and (sorted) ``features``."""
    flag = f"({q.outside_central} OR {q.new_category})"
    return (
        f"SELECT prediction_id, min(timestamp) AS first_seen, countIf({flag}) AS score, "
        f"sum({q.severity} + if({q.new_category}, 1, 0)) AS severity, "
        f"arraySort(groupArrayIf(feature, {flag})) AS features "
        f"FROM ({_values(q)}) GROUP BY prediction_id HAVING score > 0 "
        f"ORDER BY score DESC, severity DESC, prediction_id LIMIT {int(limit)}"
    )
