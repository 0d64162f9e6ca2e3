"""Analysis results: the tidy record shared by ``ml_results``, ``modeltel analyze --format json``
and the ``/api/models/{model}/…`` answers.

One record per number (:class:`Result`): ``model``, ``version``, ``window_start``,
``window_end``, ``kind`` (the analysis, see :mod:`modeltel.analyzer.analyses`, or ``health``),
``feature`` (or None), ``method`` (drift) or ``metric`` (others), ``value``, ``threshold``,
``status`` (:class:`Status`), ``source`` (``realized`` or ``estimated``), plus ``segment``,
``reference_size``, ``current_size`` and ``details`` (a JSON string saying why).
``ml_results`` is a ReplacingMergeTree: writing the same (model, version, kind, window,
segment, feature, method, metric, source) again replaces the earlier row, so recomputed
windows (late labels) supersede old numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

import pandas as pd

from modeltel.analyzer.base.store import Store


def weighted_count(value: float) -> int | float:
    """A sum of sampling weights as a count is shown: an int when it is whole (to 1e-6), else
    rounded to 6 decimals."""
    whole = round(value)
    return int(whole) if abs(value - whole) < 1e-6 else round(value, 6)


RESULT_COLUMNS = (
    "model",
    "version",
    "window_start",
    "window_end",
    "kind",
    "segment",
    "feature",
    "method",
    "metric",
    "value",
    "threshold",
    "status",
    "source",
    "reference_size",
    "current_size",
    "details",
    "run_id",
)
"""Columns of a results DataFrame, in ``ml_results`` order."""


class Status(StrEnum):
    """What a result says, from good to bad; ``no_data`` when the number could not be computed
    and ``info`` when there is nothing to decide. Equal to its text (``Status.OK == "ok"``)."""

    OK = "ok"
    WARNING = "warning"
    DRIFT = "drift"
    ALERT = "alert"
    NO_DATA = "no_data"
    INFO = "info"


BAD = frozenset({Status.DRIFT, Status.ALERT})
"""The statuses that call for action."""
VERDICTS = frozenset({Status.OK, Status.WARNING, Status.DRIFT, Status.ALERT})
"""The statuses of a decision (the others say there was nothing to decide)."""


def severity(status: str | None) -> int:
    """How bad a status is: 2 for :data:`BAD`, 1 for a warning, 0 for the rest (unknown and
    missing statuses too) — what every "worst first" ordering sorts by."""
    if status in BAD:
        return 2
    return 1 if status == Status.WARNING else 0


@dataclass(slots=True, kw_only=True)
class Result:
    """One result record as an analysis makes it (fields as :data:`RESULT_COLUMNS`).

    ``details`` may be a mapping (written as JSON). It reads like the mapping it stands for
    (``result["value"]``, ``result.get("feature")``), so code that handles stored rows and
    fresh results takes either.
    """

    model: str
    version: str
    window_start: datetime
    window_end: datetime
    kind: str
    status: Status
    segment: str = ""
    feature: str | None = None
    method: str = ""
    metric: str = ""
    value: float | None = None
    threshold: float | None = None
    source: str = "realized"
    reference_size: int = 0
    current_size: int = 0
    details: Any = ""
    run_id: str = ""

    def __getitem__(self, name: str) -> Any:
        if name not in RESULT_COLUMNS:
            raise KeyError(name)
        return getattr(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self, name) if name in RESULT_COLUMNS else default


_DEFAULTS = {f.name: f.default for f in fields(Result) if f.default is not MISSING}


def empty_results() -> pd.DataFrame:
    """A results DataFrame with no rows and every column."""
    return pd.DataFrame({name: pd.Series(dtype=object) for name in RESULT_COLUMNS})


def make_results(records: Iterable[Result | Mapping[str, Any]]) -> pd.DataFrame:
    """Tidy DataFrame from results (or record mappings, whose missing fields get the
    defaults of :class:`Result`)."""
    rows = []
    for record in records:
        if isinstance(record, Result):
            row = {name: getattr(record, name) for name in RESULT_COLUMNS}
        else:
            row = {**_DEFAULTS, **record}
        if isinstance(row["details"], (dict, list)):
            row["details"] = json.dumps(row["details"], default=str, sort_keys=True)
        value = row["value"]
        if value is not None and not isinstance(value, str):
            row["value"] = float(value)
        if isinstance(row.get("status"), Status):
            row["status"] = row["status"].value
        rows.append({name: row.get(name) for name in RESULT_COLUMNS})
    if not rows:
        return empty_results()
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT:
        return None
    return value


def write_results(store: Store, results: pd.DataFrame) -> int:
    """Insert ``results`` into ``ml_results``; return the row count written."""
    if results.empty:
        return 0
    rows = []
    for record in results.to_dict("records"):
        row = [_clean(record.get(name)) for name in RESULT_COLUMNS]
        rows.append(row)
    for row in rows:
        for i in (2, 3):
            if isinstance(row[i], pd.Timestamp):
                row[i] = row[i].to_pydatetime()
        row[5] = row[5] or ""
        for i in (7, 8, 15, 16):
            row[i] = row[i] or ""
        row[12] = row[12] or "realized"
        row[13] = int(row[13] or 0)
        row[14] = int(row[14] or 0)
    store.insert("ml_results", rows, RESULT_COLUMNS)
    return len(rows)


def read_results(
    store: Store,
    *,
    model: str | None = None,
    version: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    latest_window_only: bool = False,
    limit: int = 100_000,
) -> pd.DataFrame:
    """Results from ``ml_results`` (newest computation per key), oldest window first.

    ``latest_window_only`` keeps, per (model, version, kind), only the most recent window
    with data (some record not ``no_data``), else the most recent window: a pause in traffic
    shows the latest analysed data, not a window of "no data".
    """
    where = ["1"]
    params: dict[str, Any] = {"limit": limit}
    for name, value in (("model", model), ("version", version), ("kind", kind)):
        if value is not None:
            where.append(f"{name} = {{{name}:String}}")
            params[name] = value
    if since is not None:
        where.append("window_end > {since:DateTime64(3)}")
        params["since"] = since
    if until is not None:
        where.append("window_start < {until:DateTime64(3)}")
        params["until"] = until
    columns = ", ".join(RESULT_COLUMNS)
    sql = f"SELECT {columns} FROM ml_results FINAL WHERE {' AND '.join(where)}"
    if latest_window_only:
        sql = (
            f"SELECT {columns} FROM ({sql}) "
            "WHERE (model, version, kind, window_end) IN ("
            "  SELECT model, version, kind, if(countIf(status != 'no_data') > 0, "
            f"maxIf(window_end, status != 'no_data'), max(window_end)) FROM ({sql}) "
            "  GROUP BY model, version, kind)"
        )
    sql += (
        " ORDER BY window_start, model, version, kind, feature, method, metric LIMIT {limit:UInt64}"
    )
    frame = store.query_df(sql, parameters=params)
    if frame.empty:
        return empty_results()
    return frame


def to_records(results: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready records (ISO times, None for missing numbers)."""
    out = []
    for record in results.to_dict("records"):
        clean = {}
        for key, value in record.items():
            if isinstance(value, (pd.Timestamp, datetime)):
                clean[key] = value.isoformat()
            else:
                value = _clean(value)
                clean[key] = None if value is pd.NA else value
        out.append(clean)
    return out
