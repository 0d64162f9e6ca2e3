"""Multivariate drift and per-prediction outlier scores from a PCA fitted on the reference.

:func:`reference_model` fits the PCA on a deterministic sample of the stored reference (about
``sample`` rows, chosen by a hash of the row id, pulled into Python) and then scores *every*
reference row in ClickHouse with the same SQL that scores production, giving:

- the threshold of the window's mean error: the reference rows are split into ``chunks``
  (by a hash of the row id); μ and σ are the mean and standard deviation of the chunk means
  (NannyML's mean ± 3σ). A window of n predictions is judged with the band
  ``max(sigmas·σ·√(m / min(n, m)), min_change·μ)`` around μ (m: rows per chunk): small
  windows get the wider band their own noise needs, and large windows never less than a
  ``min_change`` relative move, so a decision means the same at 10k and 10M predictions;
- the per-row outlier threshold: the ``outlier_quantile`` of the reference rows' errors
  (exact, ``quantileExact``).

Per window (kind ``multivariate``, method ``pca_reconstruction``; feature None):
``reconstruction_error`` (mean over the window's predictions; ``drift`` outside the band;
``threshold`` is its upper edge, ``details`` hold both edges, μ, σ, the components kept and
their explained variance) and ``outlier_ratio`` (share of predictions whose error exceeds the
per-row threshold; ``alert`` above ``thresholds.outlier_ratio``; ``details`` list the worst
prediction ids). :func:`outliers` lists the worst predictions of a window with the features
contributing most to each error.

Only numerical reference features take part (categorical ones are left out); a missing
value counts as the reference mean.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modeltel.analyzer.analyses.multivariate.config import MultivariateConfig
from modeltel.analyzer.analyses.multivariate.pca import PcaModel, fit, scored_sql
from modeltel.analyzer.base.errors import NotFoundError
from modeltel.analyzer.base.query import Params, TimeWindows, time_key, to_time
from modeltel.analyzer.base.results import Result, Status
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.inputs.reference import find_reference

KIND = "multivariate"
METHOD = "pca_reconstruction"
PREDICTION_PREFIX = "prediction."
IDENT = "cityHash64(prediction_id)"
SETTINGS = {"compile_aggregate_expressions": 1, "min_count_to_compile_aggregate_expression": 0}
"""The per-prediction sums are JIT-compiled into one pass from the first query on (ClickHouse
otherwise compiles them after seeing the same aggregation three times)."""


@dataclass(frozen=True)
class ReferenceModel:
    """A PCA fitted on a reference, with the reference's own error statistics."""

    pca: PcaModel
    version: str
    name: str
    rows: int
    chunk_means: tuple[float, ...]
    chunk_rows: float
    row_threshold: float
    mean_error: float

    @property
    def mu(self) -> float:
        return float(np.mean(self.chunk_means))

    @property
    def sigma(self) -> float:
        return float(np.std(self.chunk_means))

    def band(self, n: int, config: MultivariateConfig) -> tuple[float, float]:
        """(lower, upper) threshold of the mean error of a window of ``n`` predictions."""
        m = max(self.chunk_rows, 1.0)
        scale = math.sqrt(m / max(min(float(n), m), 1.0))
        half = max(config.sigmas * self.sigma * scale, config.min_change * self.mu)
        return max(self.mu - half, 0.0), self.mu + half


def _reference_where(model: str, version: str, name: str, params: Params) -> str:
    return (
        f"model = {params.add(model, 'String')} AND version = {params.add(version, 'String')} "
        f"AND reference = {params.add(name, 'String')}"
    )


def _numeric_features(
    store: Store, model: str, version: str, config: MultivariateConfig
) -> tuple[list[str], int]:
    """The numerical features to use, and the reference's row count (its largest feature)."""
    params = Params()
    where = _reference_where(model, version, config.reference, params)
    rows = store.query_rows(
        f"SELECT feature, max(categorical), count() FROM ml_reference WHERE {where} "
        f"AND NOT startsWith(feature, {params.add(PREDICTION_PREFIX, 'String')}) GROUP BY feature",
        parameters=params.values,
    )
    numeric = sorted(str(f) for f, c, _ in rows if not c)
    size = max((int(n) for _, _, n in rows), default=0)
    if config.features is not None:
        unknown = [f for f in config.features if f not in numeric]
        if unknown:
            raise NotFoundError(
                f"multivariate.features {', '.join(unknown)} are not numerical features of the "
                f"reference of {model} version {version}"
            )
        return list(config.features), size
    return numeric, size


def _sample(
    store: Store,
    model: str,
    version: str,
    features: list[str],
    rows: int,
    config: MultivariateConfig,
) -> np.ndarray:
    """About ``config.sample`` of the reference's ``rows`` rows (those whose row-id hash falls
    below a cut: the same rows every time), rows × features, NaN missing."""
    params = Params()
    where = _reference_where(model, version, config.reference, params)
    names = params.add(features, "Array(String)")
    share = min(1.0, config.sample / max(rows, 1))
    cut = "" if share >= 1.0 else f" AND cityHash64(row_id) < {int(share * 2.0**64)}"
    frame = store.query_df(
        f"SELECT row_id, indexOf({names}, feature) - 1 AS j, value_num FROM ml_reference "
        f"WHERE {where} AND has({names}, feature){cut}",
        parameters=params.values,
    )
    if frame.empty:
        return np.zeros((0, len(features)))
    ids, row = np.unique(frame["row_id"].to_numpy(), return_inverse=True)
    matrix = np.full((len(ids), len(features)), np.nan)
    values = pd.to_numeric(frame["value_num"], errors="coerce").to_numpy(dtype=float)
    matrix[row, frame["j"].to_numpy(dtype=np.int64)] = values
    return matrix


def reference_model(
    store: Store,
    model: str,
    version: str,
    config: MultivariateConfig,
    cache: MutableMapping[Any, Any] | None = None,
) -> ReferenceModel:
    """The PCA of the model's reference (cached per reference upload and settings)."""
    found = find_reference(store, model, version, config.reference)
    if found is None:
        raise NotFoundError(
            f"model {model!r} has no reference {config.reference!r} to fit multivariate drift on; "
            f"upload one with `modeltel reference upload {model} FILE --version {version}`"
        )
    uploaded = store.query_rows(
        "SELECT max(uploaded_at), count() FROM ml_reference WHERE model = {m:String} "
        "AND version = {v:String} AND reference = {r:String}",
        parameters={"m": model, "v": found.version, "r": config.reference},
    )[0]
    key = ("multivariate", model, found.version, str(uploaded[0]), int(uploaded[1]))
    key += config.fit_key()
    if cache is not None and key in cache:
        cached: ReferenceModel = cache[key]
        return cached
    features, size = _numeric_features(store, model, found.version, config)
    if len(features) < 2:
        raise NotFoundError(
            f"the reference of {model} has {len(features)} numerical feature(s); "
            "multivariate drift needs at least two"
        )
    sample = _sample(store, model, found.version, features, size, config)
    pca = fit(sample, features, variance=config.variance, components=config.components)
    params = Params()
    where = _reference_where(model, found.version, config.reference, params)
    chunks = int(config.chunks)
    scored = scored_sql(
        pca,
        params,
        table="ml_reference",
        where=where,
        ident="row_id",
        key_of_ident=f"cityHash64(h) % {chunks}",
    )
    q = float(config.outlier_quantile)
    rows = store.query_rows(
        f"SELECT grouping(w) AS total, w, count(), avg(err), quantileExact({q!r})(err) "
        f"FROM ({scored}) GROUP BY w WITH ROLLUP",
        parameters=params.values,
        settings=SETTINGS,
    )
    per_chunk = [(int(n), float(mean)) for total, _, n, mean, _ in rows if not total and n]
    totals = [r for r in rows if r[0]]
    if not per_chunk or not totals:
        raise NotFoundError(f"the reference of {model} has no rows with numerical features")
    _, _, n_rows, mean_error, row_threshold = totals[0]
    result = ReferenceModel(
        pca=pca,
        version=found.version,
        name=config.reference,
        rows=int(n_rows),
        chunk_means=tuple(m for _, m in per_chunk),
        chunk_rows=float(n_rows) / len(per_chunk),
        row_threshold=float(row_threshold),
        mean_error=float(mean_error),
    )
    if cache is not None:
        cache[key] = result
    return result


VERSIONS = "Array(Tuple(String, String))"
"""The type of the (model, version) pairs a statement covers."""


def _in_range(spec: TimeWindows, params: Params) -> str:
    return (
        f"timestamp >= fromUnixTimestamp64Nano({params.add(spec.start_ns, 'Int64')}) "
        f"AND timestamp < fromUnixTimestamp64Nano({params.add(spec.end_ns, 'Int64')})"
    )


def _production_where(model: str, version: str, spec: TimeWindows, params: Params) -> str:
    return (
        f"model = {params.add(model, 'String')} AND version = {params.add(version, 'String')} "
        f"AND {_in_range(spec, params)}"
    )


def _scored_production(
    ref: ReferenceModel, model: str, version: str, spec: TimeWindows, params: Params
) -> str:
    where = _production_where(model, version, spec, params)
    if len(spec.keys) == 1:  # one window: predictions grouped on the 64-bit hash alone
        return scored_sql(
            ref.pca,
            params,
            table="ml_features",
            where=where,
            ident=IDENT,
            key_of_ident=f"toInt64({int(spec.keys[0])})",
        )
    key = time_key(spec, params)
    return scored_sql(ref.pca, params, table="ml_features", where=where, ident=IDENT, key=key)


def _resolve_ids(
    store: Store, model: str, version: str, spec: TimeWindows, hashes: Sequence[int]
) -> dict[int, tuple[str, int]]:
    """hash → (prediction id, unix ns) for a few hashes of the window's predictions."""
    found = _resolve_version_ids(store, {(model, version): list(hashes)}, spec)
    return {h: found[(model, version, h)] for model, version, h in found}


def _resolve_version_ids(
    store: Store, hashes: Mapping[tuple[str, str], Sequence[int]], spec: TimeWindows
) -> dict[tuple[str, str, int], tuple[str, int]]:
    """(model, version, hash) → (prediction id, unix ns) for a few hashes of each version's
    predictions in the windows (``hashes``: per version), in one statement per table."""
    wanted = {(m, v, int(h)) for (m, v), hs in hashes.items() for h in hs}
    found: dict[tuple[str, str, int], tuple[str, int]] = {}
    for table in ("ml_predictions", "ml_features"):
        missing = [key for key in wanted if key not in found]
        if not missing:
            break
        params = Params()
        versions = params.add(sorted({(m, v) for m, v, _ in missing}), VERSIONS)
        rows = store.query_rows(
            f"SELECT model, version, {IDENT} AS h, any(prediction_id), "
            f"toUnixTimestamp64Nano(min(timestamp)) FROM {table} "
            f"WHERE (model, version) IN {versions} AND {_in_range(spec, params)} "
            f"AND has({params.add(sorted({h for _, _, h in missing}), 'Array(UInt64)')}, h) "
            "GROUP BY model, version, h",
            parameters=params.values,
        )
        for m, v, h, pid, ts in rows:
            if (str(m), str(v), int(h)) in wanted:
                found[(str(m), str(v), int(h))] = (str(pid), int(ts))
    return found


def compute_multivariate(
    store: Store,
    model: str,
    version: str,
    windows: Sequence[Window],
    config: MultivariateConfig | None = None,
    cache: MutableMapping[Any, Any] | None = None,
) -> list[Result]:
    """Multivariate drift and outlier-ratio records for each window holding predictions."""
    config = (config or MultivariateConfig()).for_model(model)
    return compute_versions(store, [(model, version)], windows, config, cache)


def compute_versions(
    store: Store,
    targets: Sequence[tuple[str, str]],
    windows: Sequence[Window],
    settings: MultivariateConfig,
    cache: MutableMapping[Any, Any] | None = None,
) -> list[Result]:
    """The records of :func:`compute_multivariate` for each of ``targets`` (model, version)
    in turn, their windows scored in one statement; each target's settings are
    ``settings.for_model(model)``, and the targets share ``worst``."""
    spec = TimeWindows.from_windows(windows)
    if not targets:
        return []
    configs = {model: settings.for_model(model) for model, _ in targets}
    refs = {(m, v): reference_model(store, m, v, configs[m], cache) for m, v in targets}
    params = Params()
    branches = []
    for (model, version), ref in refs.items():
        scored = _scored_production(ref, model, version, spec, params)
        branches.append(
            f"SELECT {params.add(model, 'String')} AS model, "
            f"{params.add(version, 'String')} AS version, w, h, err, "
            f"err > {ref.row_threshold!r} AS outlier FROM ({scored})"
        )
    worst = int(configs[targets[0][0]].worst)
    worst_sql = f", groupArraySorted({worst})((-err, h))" if worst else ", []"
    union = "\n UNION ALL ".join(branches)
    rows = store.query_rows(
        f"SELECT model, version, w, count(), avg(err), countIf(outlier){worst_sql} "
        f"FROM ({union}) GROUP BY model, version, w ORDER BY model, version, w",
        parameters=params.values,
        settings=SETTINGS,
    )
    by_version: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for model, version, *row in rows:
        by_version.setdefault((str(model), str(version)), []).append(tuple(row))
    hashes = {t: [int(h) for row in found for _, h in row[4]] for t, found in by_version.items()}
    ids = _resolve_version_ids(store, hashes, spec)
    own_ids: dict[tuple[str, str], dict[int, tuple[str, int]]] = {}
    for (model, version, h), found in ids.items():
        own_ids.setdefault((model, version), {})[h] = found
    records: list[Result] = []
    for target in targets:
        model, version = target
        records += _records(
            model,
            version,
            refs[target],
            configs[model],
            spec,
            by_version.get(target, []),
            own_ids.get(target, {}),
        )
    return records


def _records(
    model: str,
    version: str,
    ref: ReferenceModel,
    config: MultivariateConfig,
    spec: TimeWindows,
    rows: Sequence[tuple[Any, ...]],
    ids: Mapping[int, tuple[str, int]],
) -> list[Result]:
    """The records of one version from its rows (w, count, mean error, outliers, worst)."""
    records: list[Result] = []
    pca = ref.pca
    for w, n, mean_error, outliers, top in rows:
        n = int(n)
        start, end = (to_time(b) for b in spec.bounds(int(w)))
        lower, upper = ref.band(n, config)
        enough = n >= config.min_predictions
        mean_error = float(mean_error)
        drifted = mean_error > upper or mean_error < lower
        base: dict[str, Any] = {
            "model": model,
            "version": version,
            "window_start": start,
            "window_end": end,
            "kind": KIND,
            "method": METHOD,
            "current_size": n,
            "reference_size": ref.rows,
        }
        records.append(
            Result(
                **base,
                metric="reconstruction_error",
                value=mean_error,
                threshold=upper,
                status=(Status.DRIFT if drifted else Status.OK) if enough else Status.NO_DATA,
                details={
                    "lower": lower,
                    "upper": upper,
                    "reference_mean": ref.mu,
                    "reference_chunk_std": ref.sigma,
                    "chunks": len(ref.chunk_means),
                    "chunk_rows": ref.chunk_rows,
                    "sigmas": config.sigmas,
                    "min_change": config.min_change,
                    "components": pca.k,
                    "explained_variance": pca.explained,
                    "features": list(pca.features),
                    "sample_rows": pca.sample_rows,
                    "reference": ref.name,
                    "reference_version": ref.version,
                    "min_predictions": config.min_predictions,
                },
            )
        )
        ratio = int(outliers) / n if n else None
        worst_rows = [
            {"prediction_id": ids[int(h)][0], "error": -float(neg)}
            for neg, h in top
            if int(h) in ids
        ]
        records.append(
            Result(
                **base,
                metric="outlier_ratio",
                value=ratio,
                threshold=config.outlier_ratio,
                status=(
                    (
                        Status.ALERT
                        if ratio is not None and ratio > config.outlier_ratio
                        else Status.OK
                    )
                    if enough
                    else Status.NO_DATA
                ),
                details={
                    "outliers": int(outliers),
                    "row_threshold": ref.row_threshold,
                    "outlier_quantile": config.outlier_quantile,
                    "worst": worst_rows,
                },
            )
        )
    return records


OUTLIER_COLUMNS = ["prediction_id", "timestamp", "score", "severity", "features"]


def outliers(
    store: Store,
    model: str,
    version: str,
    window: Window,
    *,
    limit: int = 20,
    config: MultivariateConfig | None = None,
    cache: MutableMapping[Any, Any] | None = None,
) -> pd.DataFrame:
    """The ``limit`` predictions of ``window`` with the highest reconstruction error, worst first.

    Columns as :func:`modeltel.analyzer.analyses.quality.outliers`: ``prediction_id``,
    ``timestamp``, ``score`` (the reconstruction error), ``severity`` (the error over the
    reference's per-row outlier threshold: above 1 is an outlier) and ``features`` (the
    features contributing most to the error, largest first, together at least half of it).
    """
    config = (config or MultivariateConfig()).for_model(model)
    ref = reference_model(store, model, version, config, cache)
    spec = TimeWindows.from_windows([window])
    params = Params()
    scored = _scored_production(ref, model, version, spec, params)
    top = store.query_rows(
        f"SELECT h, err FROM ({scored}) ORDER BY err DESC, h LIMIT {int(limit)}",
        parameters=params.values,
        settings=SETTINGS,
    )
    if not top:
        return pd.DataFrame({c: [] for c in OUTLIER_COLUMNS})
    hashes = [int(h) for h, _ in top]
    ids = _resolve_ids(store, model, version, spec, hashes)
    params = Params()
    where = _production_where(model, version, spec, params)
    pca = ref.pca
    times = sorted({ts for _, ts in ids.values()})
    # the rows' timestamps narrow the scan to a few granules per feature (primary key)
    stamps = params.add(times, "Array(Int64)")
    values = store.query_rows(
        f"SELECT {IDENT} AS h, any(prediction_id), "
        "groupArray((feature, assumeNotNull(value_num))) FROM ml_features "
        f"WHERE {where} AND timestamp IN arrayMap(x -> fromUnixTimestamp64Nano(x), {stamps}) "
        f"AND prediction_id IN {params.add([p for p, _ in ids.values()], 'Array(String)')} "
        f"AND has({params.add(list(pca.features), 'Array(String)')}, feature) "
        "AND value_num IS NOT NULL GROUP BY h",
        parameters=params.values,
    )
    index = {f: i for i, f in enumerate(pca.features)}
    found: dict[int, tuple[str, Any, np.ndarray]] = {}
    for h, pid, pairs in values:
        row = np.full(len(pca.features), np.nan)
        for feature, value in pairs:
            row[index[str(feature)]] = float(value)
        found[int(h)] = (str(pid), pd.Timestamp(ids[int(h)][1], unit="ns"), row)
    out = []
    for h, err in top:
        if int(h) not in found:
            continue
        pid, ts, row = found[int(h)]
        contributions = pca.residuals(row[None, :])[0] ** 2
        order = np.argsort(-contributions, kind="stable")
        total = float(contributions.sum())
        names: list[str] = []
        covered = 0.0
        for i in order:
            if contributions[i] <= 0 or (names and covered >= 0.5 * total):
                break
            names.append(pca.features[i])
            covered += float(contributions[i])
        out.append(
            {
                "prediction_id": pid,
                "timestamp": ts,
                "score": float(err),
                "severity": float(err) / ref.row_threshold if ref.row_threshold > 0 else None,
                "features": names,
            }
        )
    return pd.DataFrame(out, columns=OUTLIER_COLUMNS)
