"""One drift computation: profile the reference, count both samples, compare, decide.

:class:`DriftEngine` runs the statements of :mod:`.histogram` (an uploaded reference's
profile is kept in the store, :mod:`.profiles`; its counts are cached in the process per
reference content, so a schedule that re-runs every minute scans only the current window),
aligns the counts feature by feature, computes the configured methods, applies the
multiple-testing correction to p-value methods across features and adds the dataset-drift
share. It returns tidy result records (:func:`modeltel.analyzer.base.results.make_results`).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modeltel.analyzer.analyses.drift import stats
from modeltel.analyzer.analyses.drift.compare import Pair, align, evaluate
from modeltel.analyzer.analyses.drift.config import DriftConfig
from modeltel.analyzer.analyses.drift.histogram import (
    Plan,
    Profile,
    Side,
    collect,
    make_plan,
    profile,
)
from modeltel.analyzer.analyses.drift.methods import METHODS, applies, resolve, status
from modeltel.analyzer.analyses.drift.profiles import reference_profiles, upload_of
from modeltel.analyzer.base.errors import NotFoundError
from modeltel.analyzer.base.query import Params
from modeltel.analyzer.base.results import Result, Status
from modeltel.analyzer.base.segments import MISSING
from modeltel.analyzer.base.sources import (
    PREDICTION_FEATURES,
    ProductionSource,
    ReferenceSource,
    Source,
)
from modeltel.analyzer.base.store import Store

logger = logging.getLogger(__name__)

KIND = "drift"

Sides = dict[tuple[str, str], Side]


@dataclass
class Prepared:
    """What is known before the current windows are counted."""

    reference: Source
    profiles: dict[str, Profile]
    plan: Plan
    reference_sides: Sides


class DriftEngine:
    """Drift of production windows against a reference, in the store's SQL."""

    def __init__(self, store: Store, cache: dict[Any, Any] | None = None) -> None:
        self.store = store
        self._cache = cache if cache is not None else {}

    # -- preparation ------------------------------------------------------------------

    def _fingerprint(self, source: Source) -> tuple[Any, ...] | None:
        """(key…, rows, upload time) of a stored reference; (key…, rows) of a production
        window (its rows change when predictions land in it); None for anything else."""
        if isinstance(source, ReferenceSource):
            return (*source.key(), *upload_of(self.store, source))
        if isinstance(source, ProductionSource):
            rows = self.current_rows(source.model, source.version, source.start, source.end)
            return (*source.key(), rows)
        return None

    def _keep(self, key: tuple[Any, ...], value: Any) -> None:
        """Cache ``value``. Entries of a production window are few and short-lived (a page
        asks for drift, then for histograms of the same range): only the newest one of each
        kind is kept, so a loop comparing each window with another never grows the cache."""
        fingerprint = key[1]
        if fingerprint and fingerprint[0] == "production":
            for old in [k for k in self._cache if k[0] == key[0] and _production(k)]:
                del self._cache[old]
        self._cache[key] = value

    def current_rows(self, model: str, version: str, start: datetime, end: datetime) -> int:
        """Predictions of a version in ``[start, end)`` (cheap: the table's sort key)."""
        source = ProductionSource(model, version, start, end)
        params = Params()
        where = source._where(params)
        rows = self.store.query_rows(
            f"SELECT count() FROM ml_predictions WHERE {where}", parameters=params.values
        )
        return int(rows[0][0]) if rows else 0

    def prepare(
        self,
        reference: Source,
        config: DriftConfig,
        *,
        current_rows: int,
        segment_by: str | None = None,
    ) -> Prepared:
        """Profile and count the reference (cached while the reference is unchanged)."""
        fingerprint = self._fingerprint(reference)
        key_profile = ("profile", fingerprint)
        profiles_list: list[Profile] | None = self._cache.get(key_profile) if fingerprint else None
        if profiles_list is None:
            if isinstance(reference, ReferenceSource) and fingerprint:
                rows, uploaded_at = fingerprint[-2:]
                profiles_list = reference_profiles(self.store, reference, rows, uploaded_at)
            else:
                profiles_list = profile(self.store, reference)
            if fingerprint:
                self._keep(key_profile, profiles_list)
        profiles = {
            p.feature: p
            for p in profiles_list
            if not config.rule(p.feature).ignore and p.feature != segment_by
        }
        if not profiles:
            raise NotFoundError(
                f"no {reference.describe()} to compare with; upload one with "
                "`modeltel reference upload MODEL FILE`"
            )
        types = {
            name: rule.type for name in profiles if (rule := config.rule(name)).type is not None
        }
        plan = make_plan(list(profiles.values()), current_rows, types, config.exact_limit)
        signature = (
            "sides",
            fingerprint,
            tuple(sorted(plan.categorical)),
            tuple(sorted(plan.exact)),
            tuple(sorted(plan.binned)),
            segment_by,
        )
        sides: Sides | None = self._cache.get(signature) if fingerprint else None
        if sides is None:
            sides = collect(self.store, reference, plan, segment_by)
            if fingerprint:
                self._keep(signature, sides)
        return Prepared(reference, profiles, plan, sides)

    # -- comparison -------------------------------------------------------------------

    def pairs(
        self, prepared: Prepared, current: ProductionSource, segment_by: str | None = None
    ) -> dict[tuple[str, str], Pair]:
        """Aligned counts of every (segment, feature) of the current window. The counts of the
        latest window asked are kept while it holds the same rows and the plan is the same
        (drift records and then histograms of one window count it once)."""
        plan_key = (
            tuple(sorted(prepared.plan.categorical)),
            tuple(sorted(prepared.plan.exact)),
            tuple(sorted(prepared.plan.binned)),
            tuple(sorted((f, g.lo, g.width) for f, g in prepared.plan.grids.items())),
        )
        rows = self.current_rows(current.model, current.version, current.start, current.end)
        key = ("current", (*current.key(), rows), plan_key, segment_by)
        current_sides: Sides | None = self._cache.get(key)
        if current_sides is None:
            current_sides = collect(self.store, current, prepared.plan, segment_by, spread=False)
            self._keep(key, current_sides)
        segments = sorted({seg for seg, _ in current_sides}) or [""]
        out: dict[tuple[str, str], Pair] = {}
        plan = prepared.plan
        for seg in segments:
            for feature in plan.features:
                out[(seg, feature)] = align(
                    feature,
                    prepared.reference_sides.get((seg, feature), Side()),
                    current_sides.get((seg, feature), Side()),
                    categorical=feature in plan.categorical,
                    grid=plan.grids.get(feature),
                )
        return out

    def run(
        self,
        prepared: Prepared,
        current: ProductionSource,
        config: DriftConfig,
        *,
        methods: tuple[str, ...] | None = None,
        segment_by: str | None = None,
    ) -> list[Result]:
        """Tidy drift records of one current window."""
        requested = methods or config.methods
        pairs = self.pairs(prepared, current, segment_by)
        records: list[Result] = []
        by_segment: dict[str, list[Result]] = defaultdict(list)
        for (seg, _), pair in pairs.items():
            rows = self._feature_records(
                prepared, pair, config, requested, current, seg, segment_by
            )
            by_segment[seg].extend(rows)
        for seg, rows in by_segment.items():
            _correct(rows, config.correction)
            records.extend(rows)
            records.append(_share(rows, config, current, seg, segment_by, prepared.reference))
        return records

    def _feature_records(
        self,
        prepared: Prepared,
        pair: Pair,
        config: DriftConfig,
        requested: tuple[str, ...],
        current: ProductionSource,
        seg: str,
        segment_by: str | None,
    ) -> list[Result]:
        feature = pair.feature
        rule = config.rule(feature)
        profile_ = prepared.profiles[feature]
        wanted = rule.methods or requested
        chosen = resolve(
            wanted,
            pair.categorical,
            profile_.rows if not segment_by else pair.n_reference,
            pair.distinct,
            small_reference=config.small_reference,
            few_values=config.few_values,
        )
        common = {
            "reference": prepared.reference.describe(),
            "type": "categorical" if pair.categorical else "numerical",
            "counting": "categories" if pair.categorical else ("exact" if pair.exact else "binned"),
            "missing": {"reference": pair.missing[0], "current": pair.missing[1]},
        }
        out = []
        for index, (method, why) in enumerate(chosen):
            threshold = config.threshold(method, feature)
            details: dict[str, Any] = {**common, "selected": why, "primary": index == 0}
            if not applies(method, pair.categorical):
                value = math.nan
                details["error"] = (
                    f"{method} does not apply to "
                    f"{'categorical' if pair.categorical else 'numerical'} features"
                )
                logger.warning("drift of %s: %s", feature, details["error"])
            else:
                value, extra = evaluate(method, pair, config.bins)
                details.update(extra)
            if pair.n_current == 0:
                details["reason"] = "no current values"
            elif pair.n_reference == 0:
                details["reason"] = "no reference values"
            out.append(
                _result(
                    current,
                    _segment(seg, segment_by),
                    feature=feature,
                    method=method,
                    value=None if math.isnan(value) else value,
                    threshold=threshold,
                    status=status(method, value, threshold, warning=config.warning(method)),
                    reference_size=pair.n_reference,
                    current_size=pair.n_current,
                    details=details,
                )
            )
        return out


def _production(key: tuple[Any, ...]) -> bool:
    """Whether a cache key is of a production window (see :meth:`DriftEngine._keep`)."""
    return len(key) > 1 and isinstance(key[1], tuple) and key[1][:1] == ("production",)


def _segment(seg: str, segment_by: str | None) -> str:
    """The record's segment: ``feature=value``, ``feature=(missing)`` for the predictions
    without a value of the segment feature."""
    return f"{segment_by}={seg or MISSING}" if segment_by else ""


def _result(current: ProductionSource, segment: str, **fields: Any) -> Result:
    return Result(
        model=current.model,
        version=current.version,
        window_start=current.start,
        window_end=current.end,
        kind=KIND,
        segment=segment,
        **fields,
    )


def _correct(rows: list[Result], correction: str) -> None:
    """Replace p-value thresholds by the corrected per-test threshold across features."""
    if correction == "none":
        return
    families: dict[tuple[str, float], list[Result]] = defaultdict(list)
    for row in rows:
        if METHODS[row.method].pvalue and row.value is not None and row.threshold is not None:
            families[(row.method, row.threshold)].append(row)
    for (_, alpha), family in families.items():
        if len(family) < 2:
            continue
        threshold = stats.correct_pvalues([r.value or 0.0 for r in family], alpha, correction)
        for row in family:
            row.threshold = threshold
            row.status = Status.DRIFT if (row.value or 0.0) <= threshold else Status.OK
            row.details.update({"alpha": alpha, "correction": correction, "tests": len(family)})


def _share(
    rows: list[Result],
    config: DriftConfig,
    current: ProductionSource,
    seg: str,
    segment_by: str | None,
    reference: Source,
) -> Result:
    """Dataset drift: the share of input features whose verdict is drift."""
    verdicts = [
        r for r in rows if r.details.get("primary") and r.feature not in PREDICTION_FEATURES
    ]
    evaluated = [r for r in verdicts if r.status != Status.NO_DATA]
    drifted = sorted(str(r.feature) for r in evaluated if r.status == Status.DRIFT)
    value = len(drifted) / len(evaluated) if evaluated else None
    if value is None:
        verdict = Status.NO_DATA
    else:
        verdict = Status.DRIFT if value >= config.share else Status.OK
    return _result(
        current,
        _segment(seg, segment_by),
        method="share",
        value=value,
        threshold=config.share,
        status=verdict,
        reference_size=max((r.reference_size for r in verdicts), default=0),
        current_size=max((r.current_size for r in verdicts), default=0),
        details={
            "drifted": drifted,
            "features": len(evaluated),
            "no_data": sorted(str(r.feature) for r in verdicts if r.status == Status.NO_DATA),
            "reference": reference.describe(),
        },
    )
