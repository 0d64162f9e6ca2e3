"""The quality of model versions over windows, and the worst predictions of a window.

:func:`quality_results` computes model versions together: the versions whose settings ask
the same statements (reference name, central range) share one pass; a version segmented by
``quality.segment_by`` is computed alone. A pass profiles the references of its versions
(:func:`reference_profiles`), then runs three statements over all the windows
(:mod:`.queries`): predictions, per-feature counts and outlier scores per version, window and
segment, which :mod:`.records` turns into records. :func:`compute_quality` is one version;
:func:`outliers` lists the predictions of a window with the highest outlier score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from modeltel.analyzer.analyses.quality.config import QualityConfig
from modeltel.analyzer.analyses.quality.queries import (
    PREDICTION_PREFIX,
    ReferenceProfile,
    feature_counts_sql,
    outlier_scores_sql,
    outliers_sql,
    predictions_sql,
    quality_query,
    reference_profile_sql,
    reference_versions_sql,
    segments_sql,
)
from modeltel.analyzer.analyses.quality.records import quality_records
from modeltel.analyzer.base.analysis import Run, Target
from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.prediction_rows import ROW_KEY
from modeltel.analyzer.base.query import TimeWindows
from modeltel.analyzer.base.results import Result, Status
from modeltel.analyzer.base.segments import (
    SEGMENT_KEY,
    SegmentDimension,
    needs_service,
    segment_dimensions,
    segment_name,
    segment_names,
    segmented_sql,
)
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window

Part = tuple[Target, int, Any]
"""The rows of one target and segment: (target, ``sd``, ``sv``)."""


def reference_profiles(
    store: Store, targets: Sequence[Target], reference: str, quantiles: tuple[float, float]
) -> dict[Target, ReferenceProfile]:
    """The profile of each target's reference ``reference``: of its own version, else the
    model's latest upload of that name (an empty profile when the model has none)."""
    rows = store.query_rows(
        reference_versions_sql(),
        parameters={"models": sorted({m for m, _ in targets}), "r": reference},
    )
    stored: dict[str, dict[str, Any]] = {}
    for model, version, uploaded in rows:
        stored.setdefault(str(model), {})[str(version)] = uploaded
    chosen: dict[Target, tuple[str, str]] = {}
    for model, version in targets:
        versions = stored.get(model, {})
        if version in versions:
            chosen[(model, version)] = (model, version)
        elif versions:
            chosen[(model, version)] = (model, max(versions, key=lambda v: (versions[v], v)))
    refs = {ref: ReferenceProfile(version=ref[1]) for ref in chosen.values()}
    if refs:
        rows = store.query_rows(
            reference_profile_sql(quantiles),
            parameters={"refs": sorted(refs), "r": reference, "prefix": PREDICTION_PREFIX},
        )
        for model, version, feature, categorical, mn, mx, central, missing, numeric in rows:
            profile, name = refs[(str(model), str(version))], str(feature)
            profile.categorical[name] = bool(categorical)
            profile.missing[name] = float(missing)
            if not categorical and int(numeric):
                profile.bounds[name] = (float(mn), float(mx))
                profile.central[name] = (float(central[0]), float(central[1]))
    return {t: refs[chosen[t]] if t in chosen else ReferenceProfile() for t in targets}


def reference_profile(
    store: Store, model: str, version: str, config: QualityConfig
) -> ReferenceProfile:
    """The profile of the model's reference (empty when none was uploaded)."""
    target = (model, version)
    return reference_profiles(store, [target], config.reference, config.quantiles)[target]


def quality_results(
    store: Store,
    targets: Sequence[Target],
    windows: Sequence[Window],
    settings: Any,
    run: Run | None = None,
    /,
    *,
    segment_by: str | Sequence[str] | None = None,
) -> list[Result]:
    """Quality records of each target for each window, each model with its own settings
    (``settings.for_model``), in the order of ``targets``. ``segment_by`` (a dimension,
    comma-separated dimensions or a list) replaces ``quality.segment_by``."""
    spec = TimeWindows.from_windows(windows)
    configs: dict[Target, QualityConfig] = {}
    for model, version in targets:
        config = settings.for_model(model)
        if segment_by is not None:
            config = replace(config, segment_by=segment_names(segment_by, "segment_by"))
        configs[(model, version)] = config
    groups: dict[tuple[Any, ...], list[Target]] = {}
    for target, config in configs.items():
        key = (target,) if config.segment_by else (config.reference, config.quantiles)
        groups.setdefault(key, []).append(target)
    by_target: dict[Target, list[Result]] = {}
    for members in groups.values():
        by_target.update(_compute(store, members, spec, configs))
    return [r for target in configs for r in by_target[target]]


def compute_quality(
    store: Store,
    model: str,
    version: str,
    windows: Sequence[Window],
    config: QualityConfig | None = None,
) -> list[Result]:
    """Quality records of ``model``/``version`` for each window (see the module docstring)."""
    target = (model, version)
    configs = {target: config or QualityConfig()}
    return _compute(store, [target], TimeWindows.from_windows(windows), configs)[target]


def _compute(
    store: Store,
    members: Sequence[Target],
    spec: TimeWindows,
    configs: Mapping[Target, QualityConfig],
) -> dict[Target, list[Result]]:
    """The records of each target of ``members``, whose settings ask the same statements
    (one target when segmented)."""
    shared = configs[members[0]]
    profiles = reference_profiles(store, members, shared.reference, shared.quantiles)
    q = quality_query(members, spec, profiles, configs, shared.reference)
    dimensions: tuple[SegmentDimension, ...] = ()
    if shared.segment_by:
        model, version = members[0]
        dimensions = segment_dimensions(store, model, version, spec, shared.segment_by)
        service = ", service_name" if needs_service(dimensions) else ""
        rows = f"SELECT {ROW_KEY} AS {SEGMENT_KEY}{service} FROM ml_predictions WHERE {q.where}"
        segmented = segmented_sql(
            rows, dimensions, model, version, spec, q.params, most=shared.max_segments
        )
        q.segments = segments_sql(segmented)
    values = q.params.values
    counts = Counts()
    for m, v, w, sd, sv, n in store.query_rows(predictions_sql(q), parameters=values):
        counts.predictions.setdefault(((str(m), str(v)), int(sd), sv), {})[int(w)] = int(n)
    for m, v, w, sd, sv, *row in store.query_rows(feature_counts_sql(q), parameters=values):
        counts.features.setdefault(((str(m), str(v)), int(sd), sv), []).append((int(w), *row))
    for m, v, w, sd, sv, score, n in store.query_rows(outlier_scores_sql(q), parameters=values):
        by_window = counts.scores.setdefault(((str(m), str(v)), int(sd), sv), {})
        by_window.setdefault(int(w), []).append((int(score), int(n)))
    out: dict[Target, list[Result]] = {}
    for target in members:
        profile, config = profiles[target], configs[target]
        k = config.min_features
        if profile.central:
            k = min(k, len(profile.central) + sum(profile.categorical.values()))
        out[target] = counts.records((target, 0, None), spec, profile, config, k)
        parts = [p for p in counts.predictions if p[0] == target and p[1] > 0]
        for part in sorted(parts, key=lambda p: (p[1], p[2] is None, p[2] or "")):
            segment = segment_name(dimensions[part[1] - 1], part[2])
            for key, n in sorted(counts.predictions[part].items()):
                window = replace(spec, keys=(key,))
                records = counts.records(part, window, profile, config, k)
                if n < config.min_segment_size:
                    _too_small(records, n, config.min_segment_size)
                for record in records:
                    record.segment = segment
                out[target] += records
    return out


@dataclass
class Counts:
    """The rows of a pass's statements, per :data:`Part`: predictions per window, feature
    counts (``w`` first) and (outlier score, predictions) pairs per window."""

    predictions: dict[Part, dict[int, int]] = field(default_factory=dict)
    features: dict[Part, list[tuple[Any, ...]]] = field(default_factory=dict)
    scores: dict[Part, dict[int, list[tuple[int, int]]]] = field(default_factory=dict)

    def records(
        self,
        part: Part,
        windows: TimeWindows,
        profile: ReferenceProfile,
        config: QualityConfig,
        k: int,
    ) -> list[Result]:
        """The records of ``part`` for each window of ``windows``; ``k``: the outlier score
        that counts."""
        outliers = {
            w: sum(n for score, n in pairs if score >= max(k, 1))
            for w, pairs in self.scores.get(part, {}).items()
        }
        return quality_records(
            *part[0],
            windows,
            self.predictions.get(part, {}),
            self.features.get(part, []),
            outliers,
            profile,
            config,
            k,
        )


def _too_small(records: list[Result], size: int, minimum: int) -> None:
    """Turn a small segment's records into ``no_data`` ones saying why."""
    reason = f"{size} prediction(s) in the segment, fewer than quality.min_segment_size ({minimum})"
    for record in records:
        record.value, record.threshold, record.status = None, None, Status.NO_DATA
        record.details = {"reason": reason, "predictions": size}


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
    target = (model, version)
    profiles = reference_profiles(store, [target], config.reference, config.quantiles)
    columns = ["prediction_id", "timestamp", "score", "severity", "features"]
    if profiles[target].version is None:
        return pd.DataFrame({c: [] for c in columns})
    q = quality_query([target], spec, profiles, {target: config}, config.reference)
    frame = store.query_df(outliers_sql(q, limit), parameters=q.params.values)
    if frame.empty:
        return pd.DataFrame({c: [] for c in columns})
    frame["features"] = frame["features"].map(list)
    return frame.rename(columns={"first_seen": "timestamp"})[columns]
