"""Attribution drift of one model version over windows.

:func:`compute_attribution` sums the importances of every window in one statement
(:mod:`.queries`), those of the reference period (the fixed ``reference_window``, or the
trailing ``baseline`` before each window) in one more, and :mod:`.records` compares them.
:func:`attribution_results` is the analysis' compute: NotFoundError when no target recorded
attributions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from modeltel.analyzer.analyses.attribution.config import AttributionConfig
from modeltel.analyzer.analyses.attribution.queries import HAS_ATTRIBUTIONS_SQL, importance_sql
from modeltel.analyzer.analyses.attribution.records import Importances, window_records
from modeltel.analyzer.base.analysis import Run, Target, per_version
from modeltel.analyzer.base.errors import NotFoundError
from modeltel.analyzer.base.query import Params, TimeWindows, nanos, time_key, to_time
from modeltel.analyzer.base.results import Result
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window


def window_importances(
    store: Store, model: str, version: str, spec: TimeWindows
) -> dict[int, Importances]:
    """Importances per window key of ``spec``."""
    params = Params()
    sql = importance_sql(model, version, spec.start_ns, spec.end_ns, params, time_key(spec, params))
    out: dict[int, Importances] = {}
    for w, feature, importance, n in store.query_rows(sql, parameters=params.values):
        out.setdefault(int(w), {})[str(feature)] = (float(importance), int(n))
    return out


def period_importances(store: Store, model: str, version: str, window: Window) -> Importances:
    """Importances over one period (the reference)."""
    params = Params()
    sql = importance_sql(model, version, nanos(window.start), nanos(window.end), params, "0")
    return {
        str(feature): (float(importance), int(n))
        for _, feature, importance, n in store.query_rows(sql, parameters=params.values)
    }


def has_attributions(store: Store, model: str, version: str) -> bool:
    """Whether the model version recorded any attribution."""
    rows = store.query_rows(HAS_ATTRIBUTIONS_SQL, parameters={"m": model, "v": version})
    return bool(rows and rows[0][0])


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
