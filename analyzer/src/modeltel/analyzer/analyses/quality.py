"""Data quality of a model version's inputs, and per-prediction outlier scores.

Per feature and window (kind ``quality``; every count made in ClickHouse on ``ml_features``):

- ``missing_ratio`` = 1 − (predictions with a value) / predictions; a feature that never
  arrives is missing everywhere;
- ``wrong_type_ratio``: share of a numerical feature's present values that are not numbers;
- ``out_of_range_ratio``: share of present numeric values outside [min, max] of the
  reference, or the bounds declared in the config (``quality.features.<f>.min|max``);
- ``new_category_ratio``: share of a categorical feature's present values unseen in the
  reference;
- ``feature_vanished`` (1/0 for each reference feature: no value at all in the window) and
  ``feature_new`` (1 for a feature that arrives but is not in the reference);
- feature None, ``outlier_ratio``: share of predictions whose *outlier score* — the number of
  features outside the reference's central range (``quality.outliers.quantiles``, default
  the 0.5%–99.5% quantiles) or holding an unseen category — reaches ``min_features``.

The ratios' denominators (``current_size``) are the window's predictions for missing values
and the present values otherwise. :func:`outliers` lists the worst predictions of a window.

Configuration (``quality:`` section)::

    quality:
      reference: default            # the stored reference to compare with
      thresholds:                   # alert above (defaults shown); missing_ratio is added to
        missing_ratio: 0.1          #   the reference's own missing ratio of the feature
        wrong_type_ratio: 0.01
        out_of_range_ratio: 0.05
        new_category_ratio: 0.05
        outlier_ratio: 0.05
      outliers: {quantiles: [0.005, 0.995], min_features: 2}
      features:
        age: {min: 0, max: 120}     # declared bounds (used with or without a reference)
      models:
        churn: {thresholds: {missing_ratio: 0.3}}   # any key above, for one model
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from modeltel.analyzer.base.analysis import Analysis, MetricSpec, per_version
from modeltel.analyzer.base.config import Section, check_keys, expect
from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.gauges import FEATURE, Gauge
from modeltel.analyzer.base.query import Params, TimeWindows, time_key, to_time
from modeltel.analyzer.base.results import Result, Status
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.inputs.reference import find_reference

KIND = "quality"
PREDICTION_PREFIX = "prediction."
DEFAULT_THRESHOLDS = {
    "missing_ratio": 0.1,
    "wrong_type_ratio": 0.01,
    "out_of_range_ratio": 0.05,
    "new_category_ratio": 0.05,
    "outlier_ratio": 0.05,
}
_KEYS = {"reference", "thresholds", "outliers", "features", "models"}


@dataclass(frozen=True)
class QualityConfig(Section):
    """Validated ``quality`` settings."""

    NAME = "quality"

    reference: str = "default"
    thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    quantiles: tuple[float, float] = (0.005, 0.995)
    min_features: int = 2
    bounds: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)

    def parse(self, raw: Mapping[str, Any], path: str) -> QualityConfig:
        return _parse(raw, path, self)


def _number(value: Any, path: str) -> float:
    number = float(expect(value, (int, float), path, "a number"))
    if math.isnan(number):
        raise ConfigError(f"config key {path} must be a number, got {value!r}")
    return number


def load_quality_config(config: Mapping[str, Any] | None) -> QualityConfig:
    """The ``quality`` section of ``config``; ConfigError naming the key when invalid."""
    return QualityConfig.load(config)


def _parse(cfg: Mapping[str, Any], path: str, base: QualityConfig) -> QualityConfig:
    check_keys(cfg, _KEYS, path)
    out = base
    if cfg.get("reference") is not None:
        out = replace(out, reference=str(cfg["reference"]))
    if cfg.get("thresholds") is not None:
        raw = expect(cfg["thresholds"], dict, f"{path}.thresholds", "a mapping of metric: number")
        thresholds = dict(out.thresholds)
        for metric, value in raw.items():
            if metric not in DEFAULT_THRESHOLDS:
                raise ConfigError(
                    f"config key {path}.thresholds.{metric} is not known; "
                    f"expected one of {', '.join(DEFAULT_THRESHOLDS)}"
                )
            thresholds[str(metric)] = _number(value, f"{path}.thresholds.{metric}")
        out = replace(out, thresholds=thresholds)
    if cfg.get("outliers") is not None:
        raw = expect(cfg["outliers"], dict, f"{path}.outliers", "a mapping")
        if raw.get("quantiles") is not None:
            q = expect(raw["quantiles"], list, f"{path}.outliers.quantiles", "[low, high]")
            if len(q) != 2:
                raise ConfigError(f"config key {path}.outliers.quantiles must be [low, high]")
            lo = _number(q[0], f"{path}.outliers.quantiles[0]")
            hi = _number(q[1], f"{path}.outliers.quantiles[1]")
            if not 0 <= lo < hi <= 1:
                raise ConfigError(
                    f"config key {path}.outliers.quantiles must satisfy 0 <= low < high <= 1"
                )
            out = replace(out, quantiles=(lo, hi))
        if raw.get("min_features") is not None:
            k = expect(raw["min_features"], int, f"{path}.outliers.min_features", "a count")
            if k <= 0:
                raise ConfigError(f"config key {path}.outliers.min_features must be positive")
            out = replace(out, min_features=int(k))
    if cfg.get("features") is not None:
        raw = expect(cfg["features"], dict, f"{path}.features", "a mapping of feature: bounds")
        bounds = dict(out.bounds)
        for name, rule in raw.items():
            rule = expect(rule, dict, f"{path}.features.{name}", "a mapping with min/max")
            extra = sorted(set(rule) - {"min", "max"})
            if extra:
                raise ConfigError(f"config key {path}.features.{name}.{extra[0]} is not known")
            low = _number(rule["min"], f"{path}.features.{name}.min") if "min" in rule else None
            high = _number(rule["max"], f"{path}.features.{name}.max") if "max" in rule else None
            if low is not None and high is not None and low > high:
                raise ConfigError(f"config key {path}.features.{name}: min is above max")
            bounds[str(name)] = (low, high)
        out = replace(out, bounds=bounds)
    return out


@dataclass
class ReferenceProfile:
    """What the reference says about each feature: type, range, central range, missing share."""

    version: str | None = None
    categorical: dict[str, bool] = field(default_factory=dict)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    central: dict[str, tuple[float, float]] = field(default_factory=dict)
    missing: dict[str, float] = field(default_factory=dict)


def reference_profile(
    store: Store, model: str, version: str, config: QualityConfig
) -> ReferenceProfile:
    """The profile of the model's reference (empty when none was uploaded)."""
    found = find_reference(store, model, version, config.reference)
    if found is None:
        return ReferenceProfile()
    lo, hi = config.quantiles
    rows = store.query_rows(
        "SELECT feature, max(categorical), min(value_num), max(value_num), "
        f"quantilesExactInclusiveIf({lo}, {hi})(value_num, value_num IS NOT NULL), "
        "countIf(value_num IS NULL AND value IS NULL) / count(), countIf(value_num IS NOT NULL) "
        "FROM ml_reference WHERE model = {m:String} AND version = {v:String} "
        "AND reference = {r:String} AND NOT startsWith(feature, {prefix:String}) GROUP BY feature",
        parameters={
            "m": model,
            "v": found.version,
            "r": config.reference,
            "prefix": PREDICTION_PREFIX,
        },
    )
    profile = ReferenceProfile(version=found.version)
    for feature, categorical, mn, mx, central, missing, numeric in rows:
        name = str(feature)
        profile.categorical[name] = bool(categorical)
        profile.missing[name] = float(missing)
        if not categorical and int(numeric):
            profile.bounds[name] = (float(mn), float(mx))
            profile.central[name] = (float(central[0]), float(central[1]))
    return profile


def _range_arrays(
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
class _Query:
    """The WHERE clause and expressions shared by the quality statements."""

    params: Params
    where: str
    key: str
    outside_range: str
    outside_central: str
    severity: str
    new_category: str
    categorical: str


def _query(
    model: str, version: str, spec: TimeWindows, profile: ReferenceProfile, config: QualityConfig
) -> _Query:
    params = Params()
    where = (
        f"model = {params.add(model, 'String')} AND version = {params.add(version, 'String')} "
        f"AND timestamp >= fromUnixTimestamp64Nano({params.add(spec.start_ns, 'Int64')}) "
        f"AND timestamp < fromUnixTimestamp64Nano({params.add(spec.end_ns, 'Int64')})"
    )
    names, lows, highs, cnames, clows, chighs = _range_arrays(profile, config, params)
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
    return _Query(
        params, where, key, outside_range, outside_central, severity, new_category, categorical
    )


def compute_quality(
    store: Store,
    model: str,
    version: str,
    windows: Sequence[Window],
    config: QualityConfig | None = None,
) -> list[Result]:
    """Quality records of ``model``/``version`` for each window holding predictions."""
    config = config or QualityConfig()
    spec = TimeWindows.from_windows(windows)
    profile = reference_profile(store, model, version, config)
    q = _query(model, version, spec, profile, config)
    predictions = dict(
        store.query_rows(
            f"SELECT {q.key} AS w, count() FROM ml_predictions WHERE {q.where} GROUP BY w",
            parameters=q.params.values,
        )
    )
    numeric_expected = (
        f"if(has({q.params.add(sorted(profile.categorical), 'Array(String)')}, feature), "
        f"NOT {q.categorical}, categorical = 0)"
    )
    feature_rows = store.query_rows(
        f"SELECT {q.key} AS w, feature, "
        "countIf(value_num IS NOT NULL OR value IS NOT NULL) AS present, "
        f"countIf({numeric_expected} AND value IS NOT NULL AND value_num IS NULL) AS wrong, "
        f"countIf({numeric_expected} AND value_num IS NOT NULL) AS numeric, "
        f"countIf({q.outside_range}) AS out_of_range, "
        f"countIf({q.categorical} AND value IS NOT NULL) AS cat_present, "
        f"countIf({q.new_category}) AS new_cat, max(categorical) AS cat_flag "
        f"FROM ml_features WHERE {q.where} GROUP BY w, feature",
        parameters=q.params.values,
    )
    k = config.min_features
    if profile.central:
        k = min(k, len(profile.central) + sum(profile.categorical.values()))
    outliers = dict(
        (int(w), int(c))
        for w, c in store.query_rows(
            f"SELECT w, countIf(score >= {int(max(k, 1))}) FROM (SELECT any({q.key}) AS w, "
            f"prediction_id, countIf({q.outside_central} OR {q.new_category}) AS score "
            f"FROM ml_features WHERE {q.where} GROUP BY prediction_id) GROUP BY w",
            parameters=q.params.values,
        )
    )
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
            records += _empty_window(model, version, (to_time(start), to_time(end)), profile)
            continue
        records += _window_records(
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


def _result(
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


def _empty_window(
    model: str, version: str, bounds: tuple[Any, Any], profile: ReferenceProfile
) -> list[Result]:
    """``no_data`` records for a window without predictions (reference features, outliers)."""

    def no_data(feature: str | None, metric: str) -> Result:
        reason = {"reason": "no predictions in the window"}
        return _result(
            model, version, bounds, feature, metric, status=Status.NO_DATA, details=reason
        )

    return [
        *(no_data(name, "missing_ratio") for name in profile.categorical),
        no_data(None, "outlier_ratio"),
    ]


def _window_records(
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
            _result(
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


def outliers(
    store: Store,
    model: str,
    version: str,
    window: Window,
    *,
    limit: int = 20,
    config: QualityConfig | None = None,
) -> pd.DataFrame:
    """The ``limit`` predictions of the window with the highest outlier score.

    Columns: ``prediction_id``, ``timestamp``, ``score`` (features outside the reference's
    central range or holding an unseen category), ``severity`` (Σ distance outside the central
    range in units of its width, +1 per unseen category) and ``features`` (their names).
    """
    config = config or QualityConfig()
    if limit <= 0:
        raise ConfigError("limit must be a positive number of predictions")
    spec = TimeWindows.from_windows([window])
    profile = reference_profile(store, model, version, config)
    columns = ["prediction_id", "timestamp", "score", "severity", "features"]
    if profile.version is None:
        return pd.DataFrame({c: [] for c in columns})
    q = _query(model, version, spec, profile, config)
    flag = f"({q.outside_central} OR {q.new_category})"
    frame = store.query_df(
        f"SELECT prediction_id, min(timestamp) AS first_seen, countIf({flag}) AS score, "
        f"sum({q.severity} + if({q.new_category}, 1, 0)) AS severity, "
        f"arraySort(groupArrayIf(feature, {flag})) AS features "
        f"FROM ml_features WHERE {q.where} GROUP BY prediction_id HAVING score > 0 "
        f"ORDER BY score DESC, severity DESC, prediction_id LIMIT {int(limit)}",
        parameters=q.params.values,
    )
    if frame.empty:
        return pd.DataFrame({c: [] for c in columns})
    frame["features"] = frame["features"].map(list)
    return frame.rename(columns={"first_seen": "timestamp"})[columns]


def _metric(metric: str, gauge: str, description: str, alarm: str = "") -> MetricSpec:
    return MetricSpec(
        metric,
        Gauge(gauge, "", description, {FEATURE: "feature"}),
        higher_is_better=False,
        bounds=(0.0, 1.0),
        component="quality",
        alarm=alarm,
    )


METRICS = (
    _metric(
        "missing_ratio", "ml.quality.missing.ratio", "Share of predictions missing the feature"
    ),
    _metric("wrong_type_ratio", "ml.quality.wrong_type.ratio", "Share of values of the wrong type"),
    _metric(
        "out_of_range_ratio",
        "ml.quality.out_of_range.ratio",
        "Share of values outside the reference range",
    ),
    _metric(
        "new_category_ratio",
        "ml.quality.new_category.ratio",
        "Share of categories unseen in the reference",
    ),
    _metric(
        "feature_vanished",
        "ml.quality.feature.vanished",
        "1 when a reference feature no longer arrives",
    ),
    _metric(
        "feature_new",
        "ml.quality.feature.new",
        "1 when a feature absent from the reference arrives",
    ),
    _metric(
        "outlier_ratio",
        "ml.quality.outlier.ratio",
        "Share of predictions flagged as outliers",
        alarm="too many outlier predictions",
    ),
)
"""Its metrics, per feature except ``outlier_ratio`` (of the whole input); ``feature_vanished``
and ``feature_new`` are 1/0 flags."""

ANALYSIS = Analysis(
    kind=KIND,
    title="Missing, wrong-type, out-of-range, new-category ratios; features new/vanished",
    settings=QualityConfig,
    compute=per_version(compute_quality),
    metrics=METRICS,
)
