"""Tidy ``quality`` records from the per-window counts of :mod:`.queries`.

:func:`quality_records` makes the records of every window: :func:`window_records` for a
window holding predictions (a ratio's status compares it with its threshold; the missing
ratio's threshold adds the reference's own missing share), :func:`empty_window` ``no_data``
records otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modeltel.analyzer.analyses.quality.config import QualityConfig
from modeltel.analyzer.analyses.quality.queries import PREDICTION_PREFIX, ReferenceProfile
from modeltel.analyzer.base.query import TimeWindows, to_time
from modeltel.analyzer.base.results import Result, Status

KIND = "quality"


def quality_records(
    model: str,
    version: str,
    spec: TimeWindows,
    predictions: Mapping[int, int],
    feature_rows: Sequence[tuple[Any, ...]],
    outliers: Mapping[int, int],
    profile: ReferenceProfile,
    config: QualityConfig,
    k: int,
) -> list[Result]:
    """The records of each window of ``spec`` from the rows of :func:`.queries.predictions_sql`
    (``predictions``), :func:`.queries.feature_counts_sql` and
    :func:`.queries.outlier_counts_sql` (``outliers``); ``k``: the outlier score that counts."""
    per_window: dict[int, dict[str, tuple[Any, ...]]] = {}
    for row in feature_rows:
        name = str(row[1])
        if name.startswith(PREDICTION_PREFIX):
            continue
        per_window.setdefault(int(row[0]), {})[name] = row[2:]
    records: list[Result] = []
    for key_value in spec.keys:
        n = int(predictions.get(key_value, 0))
        start, end = spec.bounds(key_value)
        if n == 0:
            records += empty_window(model, version, (to_time(start), to_time(end)), profile)
            continue
        records += window_records(
            model,
            version,
            (to_time(start), to_time(end)),
            n,
            per_window.get(key_value, {}),
            outliers.get(key_value, 0),
            profile,
            config,
            k,
        )
    return records


def result(
    model: str,
    version: str,
    bounds: tuple[Any, Any],
    feature: str | None,
    metric: str,
    **fields: Any,
) -> Result:
    return Result(
        model=model,
        version=version,
        window_start=bounds[0],
        window_end=bounds[1],
        kind=KIND,
        feature=feature,
        metric=metric,
        **fields,
    )


def empty_window(
    model: str, version: str, bounds: tuple[Any, Any], profile: ReferenceProfile
) -> list[Result]:
    """``no_data`` records for a window without predictions (reference features, outliers)."""

    def no_data(feature: str | None, metric: str) -> Result:
        reason = {"reason": "no predictions in the window"}
        return result(
            model, version, bounds, feature, metric, status=Status.NO_DATA, details=reason
        )

    return [
        *(no_data(name, "missing_ratio") for name in profile.categorical),
        no_data(None, "outlier_ratio"),
    ]


def window_records(
    model: str,
    version: str,
    bounds: tuple[Any, Any],
    n: int,
    features: Mapping[str, tuple[Any, ...]],
    outlier_count: int,
    profile: ReferenceProfile,
    config: QualityConfig,
    k: int,
) -> list[Result]:
    out: list[Result] = []

    def add(feature: str | None, metric: str, value: float | None, size: int, **extra: Any) -> None:
        threshold = extra.pop("threshold", config.thresholds.get(metric))
        status = extra.pop("status", None)
        if status is None:
            if value is None:
                status = Status.NO_DATA
            elif threshold is None:
                status = Status.INFO
            else:
                status = Status.ALERT if value > threshold else Status.OK
        out.append(
            result(
                model,
                version,
                bounds,
                feature,
                metric,
                value=value,
                threshold=threshold,
                status=status,
                current_size=size,
                **extra,
            )
        )

    has_reference = profile.version is not None
    names = sorted(set(features) | set(profile.categorical))
    for name in names:
        present, wrong, numeric, out_of_range, cat_present, new_cat, _ = features.get(
            name, (0, 0, 0, 0, 0, 0, 0)
        )
        present = int(present)
        ref_missing = profile.missing.get(name, 0.0)
        threshold = min(1.0, config.thresholds["missing_ratio"] + ref_missing)
        add(
            name,
            "missing_ratio",
            1.0 - present / n,
            n,
            threshold=threshold,
            details={"present": present, "predictions": n, "reference_missing_ratio": ref_missing},
        )
        typed = int(numeric) + int(wrong)
        if typed:
            add(name, "wrong_type_ratio", int(wrong) / typed, typed)
        if int(numeric) and (name in profile.bounds or name in config.bounds):
            ref_lo, ref_hi = profile.bounds.get(name, (None, None))
            declared_lo, declared_hi = config.bounds.get(name, (None, None))
            lo = declared_lo if declared_lo is not None else ref_lo
            hi = declared_hi if declared_hi is not None else ref_hi
            add(
                name,
                "out_of_range_ratio",
                int(out_of_range) / int(numeric),
                int(numeric),
                details={"min": lo, "max": hi, "out_of_range": int(out_of_range)},
            )
        if has_reference and int(cat_present):
            add(
                name,
                "new_category_ratio",
                int(new_cat) / int(cat_present),
                int(cat_present),
                details={"new": int(new_cat)},
            )
        if has_reference and name in profile.categorical:
            vanished = 1.0 if present == 0 else 0.0
            add(
                name,
                "feature_vanished",
                vanished,
                present,
                threshold=None,
                status=Status.ALERT if vanished else Status.OK,
            )
        elif has_reference and present:
            add(name, "feature_new", 1.0, present, threshold=None, status=Status.WARNING)
    if has_reference:
        add(
            None,
            "outlier_ratio",
            outlier_count / n,
            n,
            details={
                "outliers": outlier_count,
                "min_features": k,
                "central_range": list(config.quantiles),
            },
        )
    return out
