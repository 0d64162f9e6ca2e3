"""The quality of one model version over windows, and the worst predictions of a window.

:func:`compute_quality` profiles the version's reference once (:func:`reference_profile`),
then runs three statements over all the windows (:mod:`.queries`): predictions, per-feature
counts and outlier counts per window, which :mod:`.records` turns into records.
:func:`outliers` lists the predictions of a window with the highest outlier score.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from modeltel.analyzer.analyses.quality.config import QualityConfig
from modeltel.analyzer.analyses.quality.queries import (
    PREDICTION_PREFIX,
    ReferenceProfile,
    feature_counts_sql,
    outlier_counts_sql,
    outliers_sql,
    predictions_sql,
    quality_query,
    reference_profile_sql,
)
from modeltel.analyzer.analyses.quality.records import quality_records
from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.query import TimeWindows
from modeltel.analyzer.base.results import Result
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.inputs.reference import find_reference


def reference_profile(
    store: Store, model: str, version: str, config: QualityConfig
) -> ReferenceProfile:
    """The profile of the model's reference (empty when none was uploaded)."""
    found = find_reference(store, model, version, config.reference)
    if found is None:
        return ReferenceProfile()
    rows = store.query_rows(
        reference_profile_sql(config.quantiles),
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
    q = quality_query(model, version, spec, profile, config)
    predictions = dict(store.query_rows(predictions_sql(q), parameters=q.params.values))
    feature_rows = store.query_rows(feature_counts_sql(q, profile), parameters=q.params.values)
    k = config.min_features
    if profile.central:
        k = min(k, len(profile.central) + sum(profile.categorical.values()))
    outliers = dict(
        (int(w), int(c))
        for w, c in store.query_rows(outlier_counts_sql(q, k), parameters=q.params.values)
    )
    return quality_records(
        model, version, spec, predictions, feature_rows, outliers, profile, config, k
    )


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
    q = quality_query(model, version, spec, profile, config)
    frame = store.query_df(outliers_sql(q, limit), parameters=q.params.values)
    if frame.empty:
        return pd.DataFrame({c: [] for c in columns})
    frame["features"] = frame["features"].map(list)
    return frame.rename(columns={"first_seen": "timestamp"})[columns]
