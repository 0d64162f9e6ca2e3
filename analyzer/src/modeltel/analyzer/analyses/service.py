"""Service health of a model version from its prediction spans, as tidy result records.

Per window (kind ``service``): ``latency_p50|p95|p99`` (seconds, exact: ClickHouse's
``quantilesExactInclusive``, numpy's default linear interpolation, over one row per call —
``row_index = 0`` — since ``latency_s`` is the whole call's duration), ``throughput``
(predictions per second), ``error_ratio`` (calls whose span status is ERROR / calls),
``volume`` (predictions), ``volume_ratio`` (volume / mean volume of the ``baseline_windows``
windows before it, counted from the version's first prediction; ``alert`` on a spike or a
drop), ``last_seen`` (unix seconds of the latest prediction up to the window end),
``staleness`` (window end − last seen) and ``prediction_share`` (feature = predicted class).
A window without predictions still reports volume 0 and its staleness.

Configuration (``service:`` section)::

    service:
      thresholds: {latency_p99: 0.2, error_ratio: 0.05}   # alert above (error_ratio 0.05 default)
      max_staleness: 30m       # alert when no prediction for this long (no default)
      baseline_windows: 24     # trailing windows forming the volume baseline
      volume_spike: 3.0        # alert when volume_ratio ≥ this …
      volume_drop: 0.33        # … or ≤ this
      max_classes: 50          # prediction_share for the most frequent classes only
      models:
        churn: {max_staleness: 2h}   # any key above, for one model
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from modeltel.analyzer.base.analysis import Analysis, MetricSpec, per_version
from modeltel.analyzer.base.config import Section, check_keys, expect
from modeltel.analyzer.base.durations import parse_duration
from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.gauges import CLASS, QUANTILE, Gauge
from modeltel.analyzer.base.query import Params, TimeWindows, time_key, to_time
from modeltel.analyzer.base.results import Result, Status
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window

KIND = "service"
LATENCY_QUANTILES = (0.5, 0.95, 0.99)
_THRESHOLD_METRICS = ("latency_p50", "latency_p95", "latency_p99", "error_ratio")
_KEYS = {
    "thresholds",
    "max_staleness",
    "baseline_windows",
    "volume_spike",
    "volume_drop",
    "max_classes",
    "models",
}


@dataclass(frozen=True)
class ServiceConfig(Section):
    """Validated ``service`` settings."""

    NAME = "service"

    thresholds: dict[str, float] = field(default_factory=lambda: {"error_ratio": 0.05})
    max_staleness_s: float | None = None
    baseline_windows: int = 24
    volume_spike: float = 3.0
    volume_drop: float = 0.33
    max_classes: int = 50

    def parse(self, raw: Mapping[str, Any], path: str) -> ServiceConfig:
        return _parse(raw, path, self)


def load_service_config(config: Mapping[str, Any] | None) -> ServiceConfig:
    """The ``service`` section of ``config``; ConfigError naming the key when invalid."""
    return ServiceConfig.load(config)


def _parse(cfg: Mapping[str, Any], path: str, base: ServiceConfig) -> ServiceConfig:
    check_keys(cfg, _KEYS, path)
    out = base
    if cfg.get("thresholds") is not None:
        raw = expect(cfg["thresholds"], dict, f"{path}.thresholds", "a mapping of metric: number")
        thresholds = dict(out.thresholds)
        for metric, value in raw.items():
            if metric not in _THRESHOLD_METRICS:
                raise ConfigError(
                    f"config key {path}.thresholds.{metric} is not known; "
                    f"expected one of {', '.join(_THRESHOLD_METRICS)}"
                )
            key = f"{path}.thresholds.{metric}"
            thresholds[str(metric)] = float(expect(value, (int, float), key, "a number"))
        out = replace(out, thresholds=thresholds)
    if cfg.get("max_staleness") is not None:
        out = replace(
            out,
            max_staleness_s=parse_duration(
                str(cfg["max_staleness"]), name=f"config key {path}.max_staleness"
            ),
        )

    def positive(key: str, types: type | tuple[type, ...], what: str) -> Any:
        value = expect(cfg[key], types, f"{path}.{key}", what)
        if value <= 0:
            raise ConfigError(f"config key {path}.{key} must be positive, got {value!r}")
        return value

    if cfg.get("baseline_windows") is not None:
        out = replace(out, baseline_windows=int(positive("baseline_windows", int, "a count")))
    if cfg.get("max_classes") is not None:
        out = replace(out, max_classes=int(positive("max_classes", int, "a count")))
    if cfg.get("volume_spike") is not None:
        out = replace(out, volume_spike=float(positive("volume_spike", (int, float), "a number")))
    if cfg.get("volume_drop") is not None:
        out = replace(out, volume_drop=float(positive("volume_drop", (int, float), "a number")))
    if out.volume_drop >= out.volume_spike:
        raise ConfigError(f"config key {path}.volume_drop must be below {path}.volume_spike")
    return out


def _above(value: float | None, threshold: float | None) -> Status:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Status.NO_DATA
    if threshold is None:
        return Status.INFO
    return Status.ALERT if value > threshold else Status.OK


def compute_service(
    store: Store,
    model: str,
    version: str,
    windows: Sequence[Window],
    config: ServiceConfig | None = None,
) -> list[Result]:
    """Service records of ``model``/``version`` for each window (see the module docstring)."""
    config = config or ServiceConfig()
    spec = TimeWindows.from_windows(windows)
    size_s = spec.size_ns / 1e9
    params = Params()
    model_p, version_p = params.add(model, "String"), params.add(version, "String")
    base = f"model = {model_p} AND version = {version_p}"
    key = time_key(spec, params)
    start = params.add(spec.start_ns, "Int64")
    end = params.add(spec.end_ns, "Int64")
    in_range = (
        f"{base} AND timestamp >= fromUnixTimestamp64Nano({start}) "
        f"AND timestamp < fromUnixTimestamp64Nano({end})"
    )
    quantiles = ", ".join(map(str, LATENCY_QUANTILES))
    stats = {
        int(row[0]): row[1:]
        for row in store.query_rows(
            f"SELECT {key} AS w, count(), countIf(row_index = 0), "
            f"countIf(row_index = 0 AND is_error = 1), "
            f"quantilesExactInclusiveIf({quantiles})(latency_s, row_index = 0), "
            f"toUnixTimestamp64Nano(max(timestamp)) FROM ml_predictions WHERE {in_range} "
            "GROUP BY w",
            parameters=params.values,
        )
    }
    # volume baseline: counts per window-sized bucket before the first window
    k = config.baseline_windows
    bparams = Params()
    bkey = time_key(spec, bparams)
    first_seen, last_before = store.query_rows(
        "SELECT toUnixTimestamp64Nano(min(timestamp)), "
        "toUnixTimestamp64Nano(maxIf(timestamp, timestamp < fromUnixTimestamp64Nano({s:Int64}))), "
        "count() FROM ml_predictions WHERE model = {m:String} AND version = {v:String}",
        parameters={"m": model, "v": version, "s": spec.start_ns},
    )[0][:2]
    lo_ns = spec.start_ns - k * spec.size_ns
    counts = dict(
        store.query_rows(
            f"SELECT {bkey} AS w, count() FROM ml_predictions WHERE model = "
            f"{bparams.add(model, 'String')} AND version = {bparams.add(version, 'String')} "
            f"AND timestamp >= fromUnixTimestamp64Nano({bparams.add(lo_ns, 'Int64')}) "
            f"AND timestamp < fromUnixTimestamp64Nano({bparams.add(spec.end_ns, 'Int64')}) "
            "GROUP BY w",
            parameters=bparams.values,
        )
    )
    shares = _shares(store, spec, params, in_range, key, config.max_classes)
    records: list[Result] = []
    seen = int(last_before) if last_before and int(last_before) > 0 else None
    for key_value in spec.keys:
        w_start, w_end = spec.bounds(key_value)
        bounds = (to_time(w_start), to_time(w_end))
        volume, calls, errors, latencies, last_ns = stats.get(
            key_value, (0, 0, 0, [math.nan] * 3, 0)
        )
        volume, calls, errors = int(volume), int(calls), int(errors)
        if volume:
            seen = max(seen or 0, int(last_ns))

        def add(metric: str, value: float | None, status: Status, size: int, **extra: Any) -> None:
            records.append(
                Result(
                    model=model,
                    version=version,
                    window_start=bounds[0],  # noqa: B023
                    window_end=bounds[1],  # noqa: B023
                    kind=KIND,
                    metric=metric,
                    value=value,
                    status=status,
                    current_size=int(size),
                    **extra,
                )
            )

        for q, value in zip(LATENCY_QUANTILES, latencies, strict=False):
            metric = f"latency_p{round(q * 100)}"
            lat = float(value) if calls else None
            threshold = config.thresholds.get(metric)
            add(metric, lat, _above(lat, threshold), calls, threshold=threshold)
        add("throughput", volume / size_s, Status.INFO, volume)
        ratio = errors / calls if calls else None
        threshold = config.thresholds.get("error_ratio")
        add(
            "error_ratio",
            ratio,
            _above(ratio, threshold),
            calls,
            threshold=threshold,
            details={"calls": calls, "errors": errors},
        )
        add("volume", float(volume), Status.INFO, volume)
        ratio, status, baseline = _volume_ratio(volume, key_value, counts, spec, first_seen, config)
        add(
            "volume_ratio",
            ratio,
            status,
            volume,
            details={
                "baseline": baseline,
                "spike": config.volume_spike,
                "drop": config.volume_drop,
            },
        )
        if seen is not None:
            add("last_seen", seen / 1e9, Status.INFO, volume)
            staleness = max(0.0, (w_end - seen) / 1e9)
            limit = config.max_staleness_s
            add("staleness", staleness, _above(staleness, limit), volume, threshold=limit)
        for label, count in shares.get(key_value, []):
            share = count / volume if volume else None
            add(
                "prediction_share",
                share,
                Status.INFO,
                volume,
                feature=label,
                details={"count": count},
            )
    return records


def _volume_ratio(
    volume: int,
    key: int,
    counts: Mapping[int, int],
    spec: TimeWindows,
    first_seen: int,
    config: ServiceConfig,
) -> tuple[float | None, Status, float | None]:
    """(ratio, status, baseline) against the mean volume of the trailing windows."""
    k = config.baseline_windows
    first_key = (int(first_seen) - spec.origin_ns) // spec.size_ns
    keys = [b for b in range(key - k, key) if b >= first_key]
    if not keys:
        return None, Status.NO_DATA, None
    baseline = sum(int(counts.get(b, 0)) for b in keys) / len(keys)
    if baseline == 0:
        return None, Status.NO_DATA, baseline
    ratio = volume / baseline
    if ratio >= config.volume_spike or ratio <= config.volume_drop:
        return ratio, Status.ALERT, baseline
    return ratio, Status.OK, baseline


def _shares(
    store: Store, spec: TimeWindows, params: Params, in_range: str, key: str, limit: int
) -> dict[int, list[tuple[str, int]]]:
    """Predicted class counts per window (the ``limit`` most frequent classes)."""
    rows = store.query_rows(
        f"SELECT {key} AS w, prediction_label, count() AS c FROM ml_predictions "
        f"WHERE {in_range} AND prediction_label IS NOT NULL GROUP BY w, prediction_label "
        f"ORDER BY w, c DESC, prediction_label LIMIT {int(limit)} BY w",
        parameters=params.values,
    )
    out: dict[int, list[tuple[str, int]]] = {}
    for w, label, count in rows:
        out.setdefault(int(w), []).append((str(label), int(count)))
    return out


_SECONDS = (0.0, None)

LATENCY = Gauge("ml.latency", "s", "Prediction latency by quantile (exact)")


def _latency(quantile: str) -> MetricSpec:
    return MetricSpec(
        f"latency_p{round(float(quantile) * 100)}",
        LATENCY,
        higher_is_better=False,
        bounds=_SECONDS,
        component="service",
        attributes={QUANTILE: quantile},
    )


METRICS = (
    *(_latency(str(q)) for q in LATENCY_QUANTILES),
    MetricSpec(
        "throughput",
        Gauge("ml.throughput", "{prediction}/s", "Predictions per second in the window"),
        bounds=(0.0, None),
    ),
    MetricSpec(
        "error_ratio",
        Gauge("ml.error.ratio", "", "Share of prediction calls that failed"),
        higher_is_better=False,
        bounds=(0.0, 1.0),
        component="service",
    ),
    MetricSpec(
        "volume", Gauge("ml.volume", "", "Predictions in the analysis window"), bounds=(0.0, None)
    ),
    MetricSpec(
        "volume_ratio",
        Gauge("ml.volume.ratio", "", "Window volume divided by its trailing baseline"),
        bounds=(0.0, None),
        component="service",
    ),
    MetricSpec(
        "last_seen", Gauge("ml.predictions.last_seen", "s", "Unix time of the latest prediction")
    ),
    MetricSpec(
        "staleness",
        Gauge("ml.staleness", "s", "Seconds since the latest prediction"),
        higher_is_better=False,
        bounds=_SECONDS,
        component="service",
    ),
    MetricSpec(
        "prediction_share",
        Gauge(
            "ml.prediction.share",
            "",
            "Share of predictions per predicted class",
            {CLASS: "feature"},
        ),
        bounds=(0.0, 1.0),
    ),
)
"""Its metrics; ``prediction_share`` names the predicted class in ``feature``."""

ANALYSIS = Analysis(
    kind=KIND,
    title="Latency percentiles, throughput, errors, volume, staleness, class shares",
    settings=ServiceConfig,
    compute=per_version(compute_service),
    metrics=METRICS,
)

__all__ = ["ANALYSIS", "METRICS", "ServiceConfig", "compute_service", "load_service_config"]
