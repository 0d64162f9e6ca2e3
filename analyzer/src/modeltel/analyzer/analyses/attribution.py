"""Attribution drift: which features the model relies on in each window, and how far that moved.

The instrumentation records per-row feature attributions (for example SHAP values) in
``ml_attributions``. Per window (kind ``attribution``; the sums run in ClickHouse, Python
ranks a few dozen numbers):

- feature *f*, metric ``importance``: mean |attribution| of *f* over the window's predictions
  that carry one (the usual global SHAP importance); ``details`` hold its rank and the
  reference's importance and rank;
- feature *f*, metric ``rank``: 1 for the most important feature (ties share the average rank);
- feature None, metric ``rank_correlation``: Spearman's ρ between the window's and the
  reference's importances over the features both have (``scipy.stats.spearmanr``); ``drift``
  when below its threshold;
- feature None, metric ``top_k_overlap``: |top-k(window) ∩ top-k(reference)| / k with
  k = min(``top_k``, features); ``drift`` when below its threshold;
- feature None, metric ``drift``: 1 when either says drift, else 0 — the model has started to
  rely on different features.

The *reference period* is ``reference_window`` when configured, else the trailing
``baseline`` (default 7 days) before each window, as for the volume baseline of the service
analysis. A window with fewer than ``min_predictions`` attributed predictions (or a reference
with fewer) gets ``no_data`` decisions. With few features, top-k overlap says little (k is at
most the feature count); rank correlation is the main decision, and near-equal importances
can swap ranks by chance, so the default threshold is lenient.

Configuration (``attribution:`` section; ``models.<model>`` overrides any key)::

    attribution:
      baseline: 7d                  # reference period: this long before each window …
      reference_window: {start: 2026-01-01T00:00:00Z, end: 2026-01-08T00:00:00Z}  # … or fixed
      top_k: 5
      thresholds: {rank_correlation: 0.5, top_k_overlap: 0.5}   # drift below
      min_predictions: 30
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy.stats import rankdata

from modeltel.analyzer.base.analysis import Analysis, MetricSpec, Run, Target, per_version
from modeltel.analyzer.base.config import Section, check_keys, expect
from modeltel.analyzer.base.durations import parse_duration
from modeltel.analyzer.base.errors import ConfigError, NotFoundError
from modeltel.analyzer.base.gauges import FEATURE, Gauge
from modeltel.analyzer.base.query import Params, TimeWindows, nanos, time_key, to_time
from modeltel.analyzer.base.results import Result, Status
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window

KIND = "attribution"
DEFAULT_THRESHOLDS = {"rank_correlation": 0.5, "top_k_overlap": 0.5}
_KEYS = {"baseline", "reference_window", "top_k", "thresholds", "min_predictions", "models"}


@dataclass(frozen=True)
class AttributionConfig(Section):
    """Validated ``attribution`` settings."""

    NAME = "attribution"

    baseline_s: float = 7 * 86400.0
    reference_window: Window | None = None
    top_k: int = 5
    thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    min_predictions: int = 30

    def parse(self, raw: Mapping[str, Any], path: str) -> AttributionConfig:
        return _parse(raw, path, self)


def _time(value: Any, path: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ConfigError(f"config key {path} must be an ISO time, got {value!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _parse(raw: Mapping[str, Any], path: str, base: AttributionConfig) -> AttributionConfig:
    check_keys(raw, _KEYS, path)
    out = base
    if raw.get("baseline") is not None:
        seconds = parse_duration(str(raw["baseline"]), name=f"config key {path}.baseline")
        if seconds <= 0:
            raise ConfigError(f"config key {path}.baseline must be positive")
        out = replace(out, baseline_s=seconds)
    if raw.get("reference_window") is not None:
        window = expect(raw["reference_window"], dict, f"{path}.reference_window", "{start, end}")
        if set(window) != {"start", "end"}:
            raise ConfigError(f"config key {path}.reference_window needs start and end")
        start = _time(window["start"], f"{path}.reference_window.start")
        end = _time(window["end"], f"{path}.reference_window.end")
        if end <= start:
            raise ConfigError(f"config key {path}.reference_window: end is not after start")
        out = replace(out, reference_window=Window(start, end))
    if raw.get("top_k") is not None:
        k = expect(raw["top_k"], int, f"{path}.top_k", "a positive count")
        if k <= 0:
            raise ConfigError(f"config key {path}.top_k must be positive")
        out = replace(out, top_k=int(k))
    if raw.get("min_predictions") is not None:
        n = expect(raw["min_predictions"], int, f"{path}.min_predictions", "a count")
        if n < 1:
            raise ConfigError(f"config key {path}.min_predictions must be at least 1")
        out = replace(out, min_predictions=int(n))
    if raw.get("thresholds") is not None:
        given = expect(raw["thresholds"], dict, f"{path}.thresholds", "a mapping")
        thresholds = dict(out.thresholds)
        for metric, value in given.items():
            if metric not in DEFAULT_THRESHOLDS:
                raise ConfigError(
                    f"config key {path}.thresholds.{metric} is not known; "
                    f"expected one of {', '.join(DEFAULT_THRESHOLDS)}"
                )
            number = float(expect(value, (int, float), f"{path}.thresholds.{metric}", "a number"))
            if math.isnan(number):
                raise ConfigError(f"config key {path}.thresholds.{metric} must be a number")
            thresholds[str(metric)] = number
        out = replace(out, thresholds=thresholds)
    return out


def load_attribution_config(config: Mapping[str, Any] | None) -> AttributionConfig:
    """The ``attribution`` section of ``config``; ConfigError naming the key when invalid."""
    return AttributionConfig.load(config)


# -- statistics on importances (small: one number per feature) ----------------------------


def ranks(importance: Mapping[str, float]) -> dict[str, float]:
    """Rank of each feature, 1 = most important; ties share their average rank."""
    names = sorted(importance)
    values = rankdata([-importance[n] for n in names], method="average")
    return {n: float(r) for n, r in zip(names, values, strict=True)}


def rank_correlation(current: Mapping[str, float], reference: Mapping[str, float]) -> float | None:
    """Spearman's ρ over the features both have (None with < 2 features or no spread)."""
    names = sorted(set(current) & set(reference))
    if len(names) < 2:
        return None
    a = rankdata([current[n] for n in names])
    b = rankdata([reference[n] for n in names])
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def top_k(importance: Mapping[str, float], k: int) -> list[str]:
    """The ``k`` most important features (ties broken by name)."""
    return sorted(importance, key=lambda n: (-importance[n], n))[:k]


def top_k_overlap(
    current: Mapping[str, float], reference: Mapping[str, float], k: int
) -> tuple[float | None, int]:
    """(|top-k ∩ top-k| / k, k) over the features both have; k = min(k, their count)."""
    names = set(current) & set(reference)
    k = min(k, len(names))
    if k == 0:
        return None, 0
    a = set(top_k({n: current[n] for n in names}, k))
    b = set(top_k({n: reference[n] for n in names}, k))
    return len(a & b) / k, k


# -- SQL ----------------------------------------------------------------------------------


def _importance_sql(
    model: str, version: str, start_ns: int, end_ns: int, params: Params, key: str
) -> str:
    return (
        f"SELECT {key} AS w, feature, avg(abs(value)) AS importance, count() AS n "
        f"FROM ml_attributions WHERE model = {params.add(model, 'String')} "
        f"AND version = {params.add(version, 'String')} "
        f"AND timestamp >= fromUnixTimestamp64Nano({params.add(start_ns, 'Int64')}) "
        f"AND timestamp < fromUnixTimestamp64Nano({params.add(end_ns, 'Int64')}) "
        "GROUP BY w, feature"
    )


Importances = dict[str, tuple[float, int]]
"""feature → (mean |attribution|, attributed predictions)."""


def window_importances(
    store: Store, model: str, version: str, spec: TimeWindows
) -> dict[int, Importances]:
    """Importances per window key of ``spec``."""
    params = Params()
    sql = _importance_sql(
        model, version, spec.start_ns, spec.end_ns, params, time_key(spec, params)
    )
    out: dict[int, Importances] = {}
    for w, feature, importance, n in store.query_rows(sql, parameters=params.values):
        out.setdefault(int(w), {})[str(feature)] = (float(importance), int(n))
    return out


def period_importances(store: Store, model: str, version: str, window: Window) -> Importances:
    """Importances over one period (the reference)."""
    params = Params()
    sql = _importance_sql(model, version, nanos(window.start), nanos(window.end), params, "0")
    return {
        str(feature): (float(importance), int(n))
        for _, feature, importance, n in store.query_rows(sql, parameters=params.values)
    }


def has_attributions(store: Store, model: str, version: str) -> bool:
    rows = store.query_rows(
        "SELECT count() FROM (SELECT 1 FROM ml_attributions WHERE model = {m:String} "
        "AND version = {v:String} LIMIT 1)",
        parameters={"m": model, "v": version},
    )
    return bool(rows and rows[0][0])


# -- records ------------------------------------------------------------------------------


def compute_attribution(
    store: Store,
    model: str,
    version: str,
    windows: Sequence[Window],
    config: AttributionConfig | None = None,
) -> list[Result]:
    """Attribution records of ``model``/``version`` for each window holding attributions."""
    config = (config or AttributionConfig()).for_model(model)
    spec = TimeWindows.from_windows(windows)
    current = window_importances(store, model, version, spec)
    fixed = (
        period_importances(store, model, version, config.reference_window)
        if config.reference_window is not None
        else None
    )
    records: list[Result] = []
    for key in spec.keys:
        found = current.get(key)
        if not found:
            continue
        start, end = (to_time(b) for b in spec.bounds(key))
        if config.reference_window is not None and fixed is not None:
            reference_period = config.reference_window
            reference = fixed
        else:
            reference_period = Window(
                datetime.fromtimestamp(start.timestamp() - config.baseline_s, UTC), start
            )
            reference = period_importances(store, model, version, reference_period)
        records += window_records(
            model, version, Window(start, end), found, reference, reference_period, config
        )
    return records


def window_records(
    model: str,
    version: str,
    window: Window,
    current: Importances,
    reference: Importances,
    reference_period: Window,
    config: AttributionConfig,
) -> list[Result]:
    """The records of one window from its and the reference's importances."""
    cur = {f: v for f, (v, _) in current.items()}
    ref = {f: v for f, (v, _) in reference.items()}
    n_cur = max((n for _, n in current.values()), default=0)
    n_ref = max((n for _, n in reference.values()), default=0)
    cur_ranks, ref_ranks = ranks(cur), ranks(ref)
    out: list[Result] = []

    def add(
        feature: str | None, metric: str, value: float | None, status: Status, **extra: Any
    ) -> None:
        out.append(
            Result(
                model=model,
                version=version,
                window_start=window.start,
                window_end=window.end,
                kind=KIND,
                feature=feature,
                metric=metric,
                value=value,
                status=status,
                current_size=n_cur,
                reference_size=n_ref,
                **extra,
            )
        )

    for feature in sorted(cur):
        details = {
            "rank": cur_ranks[feature],
            "predictions": current[feature][1],
            "reference_importance": ref.get(feature),
            "reference_rank": ref_ranks.get(feature),
        }
        add(feature, "importance", cur[feature], Status.INFO, details=details)
        reference_rank = {"reference_rank": ref_ranks.get(feature)}
        add(feature, "rank", cur_ranks[feature], Status.INFO, details=reference_rank)
    enough = n_cur >= config.min_predictions and n_ref >= config.min_predictions
    rho = rank_correlation(cur, ref) if ref else None
    overlap, k = top_k_overlap(cur, ref, config.top_k) if ref else (None, 0)
    shared = sorted(set(cur) & set(ref))
    context = {
        "reference_start": reference_period.start,
        "reference_end": reference_period.end,
        "features": len(shared),
        "only_current": sorted(set(cur) - set(ref)),
        "only_reference": sorted(set(ref) - set(cur)),
        "min_predictions": config.min_predictions,
    }

    def decision(metric: str, value: float | None, extra: dict[str, Any]) -> Status:
        threshold = config.thresholds[metric]
        if value is None or not enough:
            status = Status.NO_DATA
        else:
            status = Status.DRIFT if value < threshold else Status.OK
        add(None, metric, value, status, threshold=threshold, details={**context, **extra})
        return status

    s1 = decision("rank_correlation", rho, {"method": "spearman"})
    s2 = decision(
        "top_k_overlap",
        overlap,
        {"k": k, "current_top": top_k(cur, k), "reference_top": top_k(ref, k)},
    )
    drifted = Status.DRIFT in (s1, s2)
    known = s1 != Status.NO_DATA or s2 != Status.NO_DATA
    add(
        None,
        "drift",
        (1.0 if drifted else 0.0) if known else None,
        (Status.DRIFT if drifted else Status.OK) if known else Status.NO_DATA,
        details={**context, "rank_correlation": rho, "top_k_overlap": overlap},
    )
    return out


def attribution_results(
    store: Store,
    targets: Sequence[Target],
    windows: Sequence[Window],
    settings: AttributionConfig,
    run: Run,
    /,
) -> list[Result]:
    """The records of each target; NotFoundError when none of them has attributions."""
    if not any(has_attributions(store, model, version) for model, version in targets):
        model = targets[0][0] if targets else ""
        raise NotFoundError(
            f"model {model!r} has no feature attributions; record them with "
            "monitor(..., explainer=...) or attributions(...)"
        )
    return per_version(compute_attribution)(store, targets, windows, settings, run)


_PER_FEATURE = {FEATURE: "feature"}

METRICS = (
    MetricSpec(
        "importance",
        Gauge(
            "ml.attribution.importance", "", "Mean absolute attribution of a feature", _PER_FEATURE
        ),
        bounds=(0.0, None),
    ),
    MetricSpec(
        "rank",
        Gauge(
            "ml.attribution.rank",
            "",
            "Importance rank of a feature (1 = most important)",
            _PER_FEATURE,
        ),
        bounds=(1.0, None),
    ),
    MetricSpec(
        "rank_correlation",
        Gauge(
            "ml.attribution.rank_correlation",
            "",
            "Spearman correlation of feature importances with the reference period",
        ),
        higher_is_better=True,
        bounds=(-1.0, 1.0),
    ),
    MetricSpec(
        "top_k_overlap",
        Gauge(
            "ml.attribution.top_k_overlap",
            "",
            "Share of the reference's top-k features still in the top k",
        ),
        higher_is_better=True,
        bounds=(0.0, 1.0),
    ),
    MetricSpec(
        "drift",
        Gauge("ml.attribution.drift", "", "1 when the model relies on different features"),
        higher_is_better=False,
        bounds=(0.0, 1.0),
        component="drift",
        alarm="the model relies on different features (attribution ranking moved)",
    ),
)
"""Its metrics: ``importance`` and ``rank`` per feature, the others of the whole ranking."""

ANALYSIS = Analysis(
    kind=KIND,
    title="Feature importances and how far their ranking moved from the reference period",
    settings=AttributionConfig,
    compute=attribution_results,
    metrics=METRICS,
)
