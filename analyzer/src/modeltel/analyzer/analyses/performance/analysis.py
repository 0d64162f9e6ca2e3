"""Realized and estimated performance of one model version, as tidy result records.

:func:`compute_performance` runs one statement per call (see :mod:`.queries`) and turns each
window's counts into records of kind ``performance``:

- classification (binary): ``accuracy`` (confusion matrix in ``details``), ``precision``,
  ``recall``, ``f1``, ``roc_auc``, ``log_loss``; multiclass: ``accuracy`` and the macro and
  weighted precision, recall and F1; regression: ``mae``, ``mse``, ``rmse``, ``r2``, ``mape``;
- ``label_coverage`` (share of predictions with a label), ``label_delay_p50|p95|p99``
  (seconds from prediction to label timestamp, exact) and, for time windows,
  ``labels_unknown_ids`` (labels received in the window whose id matches no prediction);
- with ``source = estimated``: CBPE estimates for binary classifiers with calibrated scores
  (accuracy, precision, recall, F1, ROC AUC) and the expected accuracy (mean score of the
  predicted class) for multiclass ones; once labels exist the realized value and the
  estimate's error are in ``details``.

The positive class of a binary model is ``performance.positive_class``, else ``1``/``true``
when among the classes, else the larger of the two classes (numerically when both are
numbers), which is what ``predict_proba[:, 1]`` refers to in scikit-learn.

With ``performance.segment_by`` the same statement also computes every record but
``labels_unknown_ids`` per segment (``segment`` = ``dimension=value``; the records of every
prediction keep ``segment = ''``); a segment with fewer than ``min_segment_size`` predictions
in a window gets ``no_data`` records saying so (``docs/configuration.md``).

:func:`performance_results` does it for model versions over time or sliding windows and,
when the results are stored, recomputes the aligned windows whose predictions received
labels since the version's previous computation. Over time windows the unsegmented versions
are computed together (:func:`fleet_performance`): one statement per (task, classes,
positive class, estimates) over every version it fits, rows grouped by model and version;
a segmented version or sliding windows run alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from modeltel.analyzer.analyses.performance.config import PerformanceConfig
from modeltel.analyzer.analyses.performance.metrics import Metric
from modeltel.analyzer.analyses.performance.queries import (
    binary_sql,
    classification_payload,
    fleet_filter,
    fleet_joined_sql,
    joined_sql,
    multiclass_sql,
    regression_payload,
    regression_sql,
    window_rows,
)
from modeltel.analyzer.analyses.performance.records import (
    ModelTask,
    Records,
    binary_records,
    multiclass_records,
    regression_records,
)
from modeltel.analyzer.base.analysis import Run, Target
from modeltel.analyzer.base.errors import ConfigError, InputError
from modeltel.analyzer.base.prediction_rows import label_filter_pays
from modeltel.analyzer.base.query import (
    Params,
    SlidingWindows,
    TimeWindows,
    Windows,
    nanos,
    prediction_filter,
    time_key,
    to_time,
)
from modeltel.analyzer.base.results import Result, Status
from modeltel.analyzer.base.segments import (
    SEGMENT_KEY,
    needs_service,
    segment_dimensions,
    segment_name,
    segment_names,
    segmented_sql,
)
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window

logger = logging.getLogger(__name__)

LATE_LABEL_MARGIN = timedelta(minutes=10)
"""Labels received this long before the previous computation are looked at again, so that a
label stored while that computation ran is never missed (recomputing is idempotent)."""
MAX_CLASSES = 1000
POSITIVE_NAMES = ("1", "true", "True", "yes", "positive")


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def choose_positive(classes: Sequence[str], configured: str | None) -> str | None:
    """The positive class of a binary model (see the module docstring)."""
    if configured is not None:
        return configured
    for name in POSITIVE_NAMES:
        if name in classes:
            return name
    if len(classes) == 2:
        a, b = classes
        na, nb = _as_number(a), _as_number(b)
        if na is not None and nb is not None and na != nb:
            return a if na > nb else b
        return max(a, b)
    return None


def describe_model(
    store: Store, model: str, version: str, windows: Windows, config: PerformanceConfig
) -> ModelTask:
    """The task of the version's predictions in the windows, and its classes."""
    params = Params()
    where = prediction_filter(model, version, windows, params)
    task, n_values, n_labels, labels = store.query_rows(
        f"SELECT anyHeavy(task), countIf(prediction_value IS NOT NULL), "
        f"countIf(prediction_label IS NOT NULL), "
        f"groupUniqArrayIf({MAX_CLASSES + 1})(prediction_label, prediction_label IS NOT NULL) "
        f"FROM ml_predictions WHERE {where}",
        parameters=params.values,
    )[0]
    chosen = config.task or (
        str(task)
        if task in ("classification", "regression")
        else "regression"
        if int(n_values) > int(n_labels)
        else "classification"
    )
    if chosen == "regression":
        return ModelTask("regression")
    true_labels = store.query_rows(
        f"SELECT groupUniqArrayIf({MAX_CLASSES + 1})(label, label IS NOT NULL) FROM ml_labels "
        "WHERE model = {model:String}",
        parameters={"model": model},
    )[0][0]
    classes = sorted({str(c) for c in labels} | {str(c) for c in true_labels})
    if len(classes) > MAX_CLASSES:
        raise InputError(
            f"model {model!r} has more than {MAX_CLASSES} distinct classes; if it is a regression "
            "model set performance.task: regression (or send ml.task = regression)"
        )
    positive = choose_positive(classes, config.positive_class) if len(classes) <= 2 else None
    return ModelTask("classification", tuple(classes), positive)


def compute_performance(
    store: Store,
    model: str,
    version: str,
    windows: Windows,
    config: PerformanceConfig,
) -> list[Result]:
    """Performance records of ``model``/``version`` for every window; a window without
    predictions (or a range too short for one sliding window) gets a ``no_data``
    ``label_coverage`` record saying so. With ``config.segment_by`` the same statement also
    groups by segment (see :mod:`modeltel.analyzer.base.segments`): records of segment
    ``dimension=value`` per window, ``no_data`` for a segment smaller than
    ``config.min_segment_size``."""
    if config.segment_by and isinstance(windows, SlidingWindows):
        raise ConfigError("segment_by needs time windows: sliding windows are not segmented")
    filter_labels, in_range = label_filter_pays(store, model, version, windows)
    segment = windows.segment if isinstance(windows, SlidingWindows) else ""
    out = Records(model, version, config, segment)
    if isinstance(windows, SlidingWindows):
        if in_range < windows.size:
            reason = f"{in_range} prediction(s) in the range: no full window of {windows.size}"
            bounds = (to_time(windows.start_ns), to_time(windows.end_ns))
            out.add(bounds, "label_coverage", Metric(None, reason), in_range, status=Status.NO_DATA)
            return out.records
    elif in_range == 0:
        _empty_windows(out, windows, set())
        return out.records
    dimensions = (
        segment_dimensions(store, model, version, windows, config.segment_by)
        if config.segment_by
        else ()
    )
    task = describe_model(store, model, version, windows, config)
    params = Params()
    if task.task == "regression":
        payload = regression_payload()
    else:
        payload = classification_payload(task.classes, params)
    carry = ()
    if dimensions:
        carry = (SEGMENT_KEY, "service_name") if needs_service(dimensions) else (SEGMENT_KEY,)
    joined = joined_sql(
        model, version, windows, payload, params, filter_labels=filter_labels, carry=carry
    )
    rows = window_rows(windows, in_range, joined, params)
    keys: tuple[str, ...] = ()
    if dimensions:
        rows = segmented_sql(
            rows, dimensions, model, version, windows, params, most=config.max_segments
        )
        keys = ("sd", "sv")
    estimated = config.estimated
    if task.task == "regression":
        sql = regression_sql(rows, params, keys)
    elif task.binary:
        sql = binary_sql(rows, task.positive_index, params, estimated=estimated, keys=keys)
    else:
        sql = multiclass_sql(rows, keys)
    frame = store.query_df(sql, parameters=params.values)
    for row in frame.to_dict("records"):
        index = int(row.get("sd", 0))
        target = out
        if index:
            raw = row["sv"] if isinstance(row["sv"], str) else None
            target = Records(model, version, config, segment_name(dimensions[index - 1], raw))
        if task.task == "regression":
            regression_records(target, windows, row)
        elif task.binary:
            binary_records(target, task, windows, row, estimated)
        else:
            multiclass_records(target, task, windows, row, estimated)
        if index:
            if int(row["n"]) < config.min_segment_size:
                _too_small(target.records, int(row["n"]), config.min_segment_size)
            out.records += target.records
    if isinstance(windows, TimeWindows):
        _empty_windows(out, windows, {int(w) for w in frame["w"]} if not frame.empty else set())
        _unknown_ids(store, out, windows)
    return out.records


def _too_small(records: list[Result], size: int, minimum: int) -> None:
    """Turn a small segment's records into ``no_data`` ones saying why."""
    reason = (
        f"{size} prediction(s) in the segment, fewer than performance.min_segment_size ({minimum})"
    )
    for record in records:
        record.value, record.threshold, record.status = None, None, Status.NO_DATA
        record.details = {"reason": reason, "predictions": size}


def _empty_windows(out: Records, windows: TimeWindows, seen: set[int]) -> None:
    """A ``no_data`` coverage record for each window without predictions."""
    for key in windows.keys:
        if key not in seen:
            start, end = windows.bounds(key)
            reason = Metric(None, "no predictions in the window")
            out.add(
                (to_time(start), to_time(end)), "label_coverage", reason, 0, status=Status.NO_DATA
            )


def _unknown_ids(store: Store, out: Records, windows: TimeWindows) -> None:
    """``labels_unknown_ids`` per window: labels received in it whose id has no prediction."""
    params = Params()
    model_p = params.add(out.model, "String")
    start = params.add(windows.start_ns, "Int64")
    end = params.add(windows.end_ns, "Int64")
    key = time_key(windows, params, "received_at")
    received = (
        f"model = {model_p} AND received_at >= fromUnixTimestamp64Nano({start}) "
        f"AND received_at < fromUnixTimestamp64Nano({end})"
    )
    rows = dict(
        store.query_rows(
            f"SELECT {key} AS w, countIf(id_key NOT IN (SELECT id_key FROM ml_predictions "
            f"WHERE model = {model_p} AND id_key IN "
            f"(SELECT id_key FROM ml_labels WHERE {received}))) "
            f"FROM ml_labels WHERE {received} GROUP BY w",
            parameters=params.values,
        )
    )
    _add_unknown_ids(out, windows, rows)


def _add_unknown_ids(out: Records, windows: TimeWindows, rows: Mapping[int, int]) -> None:
    """The ``labels_unknown_ids`` records of ``rows`` (window key → count; absent: 0)."""
    for key_value in windows.keys:
        count = int(rows.get(key_value, 0))
        start_ns, end_ns = windows.bounds(key_value)
        out.add(
            (to_time(start_ns), to_time(end_ns)),
            "labels_unknown_ids",
            Metric(float(count)),
            count,
            status=Status.WARNING if count else Status.OK,
            details={"meaning": "labels received in the window whose id matches no prediction"},
        )


def late_label_windows(
    store: Store, model: str, version: str, size_s: float, since: datetime
) -> list[tuple[int, int]]:
    """Aligned windows of ``size_s`` (unix-epoch multiples) holding predictions whose labels
    were received after ``since``, as (start_ns, end_ns), oldest first."""
    size_ns = round(size_s * 1e9)
    params = {
        "size": size_ns,
        "model": model,
        "version": version,
        "since": nanos(since),
    }
    received = (
        "SELECT id_key FROM ml_labels WHERE model = {model:String} "
        "AND received_at > fromUnixTimestamp64Nano({since:Int64})"
    )
    if not store.query_rows(f"SELECT count() FROM ({received})", parameters=params)[0][0]:
        return []  # the common case in the analysis loop: no label since the last run
    rows = store.query_rows(
        "SELECT DISTINCT intDiv(toUnixTimestamp64Nano(timestamp), {size:Int64}) AS k "
        "FROM ml_predictions WHERE model = {model:String} AND version = {version:String} "
        f"AND id_key IN ({received}) ORDER BY k",
        parameters=params,
    )
    return [(int(k) * size_ns, (int(k) + 1) * size_ns) for (k,) in rows]


def last_computed(store: Store, model: str, version: str) -> datetime | None:
    """When realized performance of the version was last written to ``ml_results``."""
    count, latest = store.query_rows(
        "SELECT count(), toUnixTimestamp64Milli(max(computed_at)) FROM ml_results "
        "WHERE model = {model:String} AND version = {version:String} "
        "AND kind = 'performance' AND source = 'realized'",
        parameters={"model": model, "version": version},
    )[0]
    if not count:
        return None
    return datetime.fromtimestamp(int(latest) / 1000, UTC)


def performance_results(
    store: Store,
    targets: Sequence[Target],
    windows: Sequence[Window],
    settings: PerformanceConfig,
    run: Run,
    /,
    *,
    sliding: bool | int | tuple[int, int] | None = None,
    late_labels: bool = True,
    segment_by: str | Sequence[str] | None = None,
) -> list[Result]:
    """Performance of each target over ``windows``, or over sliding windows of N predictions
    every S within them (``sliding``: ``True`` for ``performance.window_size``/
    ``sliding_step``, N, or (N, S)). Unless ``late_labels`` is False, a stored run adds the
    aligned windows of the same size that received labels since the version's last run.
    ``segment_by`` (a dimension, comma-separated dimensions or a list) replaces
    ``performance.segment_by``."""
    configs: dict[Target, PerformanceConfig] = {}
    for model, version in targets:
        config = settings.for_model(model)
        if segment_by is not None:
            config = replace(config, segment_by=segment_names(segment_by, "segment_by"))
        configs[(model, version)] = config
    time_spec = TimeWindows.from_windows(windows)
    together = [
        t for t, c in configs.items() if sliding_size(sliding, c) is None and not c.segment_by
    ]
    fleet = fleet_performance(store, together, time_spec, configs) if together else {}
    results: list[Result] = []
    for (model, version), config in configs.items():
        chosen = sliding_size(sliding, config)
        since = last_computed(store, model, version) if run.storing and late_labels else None
        if (model, version) in fleet:
            results += fleet[(model, version)]
        elif chosen is not None:
            spec = SlidingWindows(
                chosen[0], chosen[1], nanos(windows[0].start), nanos(windows[-1].end)
            )
            results += compute_performance(store, model, version, spec, config)
        else:
            results += compute_performance(store, model, version, time_spec, config)
        if since is not None and chosen is None:
            results += _late_labels(store, model, version, windows, since, config)
    return results


def fleet_performance(
    store: Store,
    targets: Sequence[Target],
    windows: TimeWindows,
    configs: Mapping[Target, PerformanceConfig],
) -> dict[Target, list[Result]]:
    """The records :func:`compute_performance` gives each unsegmented target of ``targets``
    over time windows, with one statement per (task, classes, positive class, estimates)
    shared by the versions it fits."""
    in_range, labels = _fleet_counts(store, targets, windows)
    out = {t: Records(t[0], t[1], configs[t], "") for t in targets}
    groups: dict[tuple[Any, ...], list[tuple[Target, ModelTask]]] = {}
    seen: dict[Target, set[int]] = {}
    tasks = _fleet_tasks(store, [t for t in targets if in_range.get(t)], windows, configs)
    for target, task in tasks.items():
        key = (task, configs[target].estimated if task.task != "regression" else False)
        groups.setdefault(key, []).append((target, task))
    for (task, estimated), members in groups.items():
        group = [t for t, _ in members]
        predictions = sum(in_range[t] for t in group)
        filter_labels = predictions * 2 < sum(labels.get(m, 0) for m in {m for m, _ in group})
        params = Params()
        if task.task == "regression":
            payload = regression_payload()
        else:
            payload = classification_payload(task.classes, params)
        rows = fleet_joined_sql(group, windows, payload, params, filter_labels=filter_labels)
        keys = ("model", "version")
        if task.task == "regression":
            sql = regression_sql(rows, params, keys)
        elif task.binary:
            sql = binary_sql(rows, task.positive_index, params, estimated=estimated, keys=keys)
        else:
            sql = multiclass_sql(rows, keys)
        frame = store.query_df(sql, parameters=params.values)
        for row in frame.to_dict("records"):
            target = (str(row["model"]), str(row["version"]))
            seen.setdefault(target, set()).add(int(row["w"]))
            records = out[target]
            if task.task == "regression":
                regression_records(records, windows, row)
            elif task.binary:
                binary_records(records, task, windows, row, estimated)
            else:
                multiclass_records(records, task, windows, row, estimated)
    described = [t for t in targets if in_range.get(t)]
    unknown = _fleet_unknown_ids(store, sorted({m for m, _ in described}), windows)
    for target in targets:
        _empty_windows(out[target], windows, seen.get(target, set()))
        if in_range.get(target):
            _add_unknown_ids(out[target], windows, unknown.get(target[0], {}))
    return {t: r.records for t, r in out.items()}


def _fleet_unknown_ids(
    store: Store, models: Sequence[str], windows: TimeWindows
) -> dict[str, dict[int, int]]:
    """Per model and window: labels received in it whose id has no prediction of the model."""
    if not models:
        return {}
    params = Params()
    models_p = params.add(list(models), "Array(String)")
    start = params.add(windows.start_ns, "Int64")
    end = params.add(windows.end_ns, "Int64")
    key = time_key(windows, params, "received_at")
    received = (
        f"model IN {models_p} AND received_at >= fromUnixTimestamp64Nano({start}) "
        f"AND received_at < fromUnixTimestamp64Nano({end})"
    )
    out: dict[str, dict[int, int]] = {}
    for model, w, count in store.query_rows(
        f"SELECT model, {key} AS w, countIf((model, id_key) NOT IN (SELECT model, id_key "
        f"FROM ml_predictions WHERE model IN {models_p} AND id_key IN "
        f"(SELECT id_key FROM ml_labels WHERE {received}))) "
        f"FROM ml_labels WHERE {received} GROUP BY model, w",
        parameters=params.values,
    ):
        out.setdefault(str(model), {})[int(w)] = int(count)
    return out


def _fleet_tasks(
    store: Store,
    targets: Sequence[Target],
    windows: TimeWindows,
    configs: Mapping[Target, PerformanceConfig],
) -> dict[Target, ModelTask]:
    """:func:`describe_model` of every target, in two statements."""
    if not targets:
        return {}
    params = Params()
    where = fleet_filter(targets, windows, params)
    rows = store.query_rows(
        f"SELECT model, version, anyHeavy(task), countIf(prediction_value IS NOT NULL), "
        f"countIf(prediction_label IS NOT NULL), "
        f"groupUniqArrayIf({MAX_CLASSES + 1})(prediction_label, prediction_label IS NOT NULL) "
        f"FROM ml_predictions WHERE {where} GROUP BY model, version",
        parameters=params.values,
    )
    described = {
        (str(m), str(v)): (task, n_v, n_l, labels) for m, v, task, n_v, n_l, labels in rows
    }
    chosen: dict[Target, str] = {}
    for target in targets:
        task, n_values, n_labels, _ = described[target]
        chosen[target] = configs[target].task or (
            str(task)
            if task in ("classification", "regression")
            else "regression"
            if int(n_values) > int(n_labels)
            else "classification"
        )
    models = sorted({m for (m, _), task in chosen.items() if task == "classification"})
    true_labels = dict(
        store.query_rows(
            f"SELECT model, groupUniqArrayIf({MAX_CLASSES + 1})(label, label IS NOT NULL) "
            "FROM ml_labels WHERE model IN {models:Array(String)} GROUP BY model",
            parameters={"models": models},
        )
        if models
        else []
    )
    out: dict[Target, ModelTask] = {}
    for target in targets:
        if chosen[target] == "regression":
            out[target] = ModelTask("regression")
            continue
        model = target[0]
        predicted = described[target][3]
        classes = sorted({str(c) for c in predicted} | {str(c) for c in true_labels.get(model, [])})
        if len(classes) > MAX_CLASSES:
            raise InputError(
                f"model {model!r} has more than {MAX_CLASSES} distinct classes; if it is a "
                "regression model set performance.task: regression (or send ml.task = regression)"
            )
        config = configs[target]
        positive = choose_positive(classes, config.positive_class) if len(classes) <= 2 else None
        out[target] = ModelTask("classification", tuple(classes), positive)
    return out


def _fleet_counts(
    store: Store, targets: Sequence[Target], windows: TimeWindows
) -> tuple[dict[Target, int], dict[str, int]]:
    """Predictions of each target in ``windows`` and labels stored of each of their models
    (rows stored, as :func:`~modeltel.analyzer.base.prediction_rows.row_counts` counts)."""
    params = Params()
    where = fleet_filter(targets, windows, params)
    predictions = store.query_rows(
        f"SELECT model, version, count() FROM ml_predictions WHERE {where} GROUP BY model, version",
        parameters=params.values,
    )
    labels = store.query_rows(
        "SELECT model, count() FROM ml_labels WHERE model IN {models:Array(String)} GROUP BY model",
        parameters={"models": sorted({m for m, _ in targets})},
    )
    return (
        {(str(m), str(v)): int(n) for m, v, n in predictions},
        {str(m): int(n) for m, n in labels},
    )


def sliding_size(sliding: Any, config: PerformanceConfig) -> tuple[int, int] | None:
    """(size, step) of the sliding windows ``sliding`` asks for; None for time windows."""
    if sliding is None or sliding is False:
        return None
    if sliding is True:
        if config.window_size is None:
            raise ConfigError(
                "sliding windows need a size: pass (size, step) or set "
                "performance.window_size in the config"
            )
        return config.window_size, config.sliding_step or config.window_size
    if isinstance(sliding, int):
        return sliding, sliding
    if isinstance(sliding, Sequence) and len(sliding) == 2:
        return int(sliding[0]), int(sliding[1])
    raise ConfigError("sliding must be True, a window size, or (size, step)")


def _late_labels(
    store: Store,
    model: str,
    version: str,
    windows: Sequence[Window],
    since: datetime,
    config: PerformanceConfig,
) -> list[Result]:
    size = windows[0].seconds
    done = {(nanos(w.start), nanos(w.end)) for w in windows}
    late = [
        b
        for b in late_label_windows(store, model, version, size, since - LATE_LABEL_MARGIN)
        if b not in done
    ]
    if not late:
        return []
    logger.info("recomputing %d window(s) of %s/%s with late labels", len(late), model, version)
    size_ns = late[0][1] - late[0][0]
    spec = TimeWindows(0, size_ns, tuple(start // size_ns for start, _ in late))
    return compute_performance(store, model, version, spec, config)


__all__ = [
    "ModelTask",
    "choose_positive",
    "compute_performance",
    "describe_model",
    "fleet_performance",
    "last_computed",
    "late_label_windows",
    "performance_results",
]
