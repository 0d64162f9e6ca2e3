"""Reference profiles kept in the store, so drift scans a reference only to count it.

:func:`reference_profiles` answers the :class:`~.histogram.Profile` of every feature of an
uploaded reference from ``ml_reference_profiles`` when it was stored for the same upload (same
upload time and row count), else computes it with :func:`.histogram.profile` (one scan) and
stores it. Uploads call :func:`store_reference_profiles` right away, so the first drift run
after an upload finds it too. The stored numbers are the computed ones, so a drift run gives
the same results whether the profile was stored or computed.
"""

from __future__ import annotations

from datetime import datetime

from modeltel.analyzer.analyses.drift.histogram import Profile, profile
from modeltel.analyzer.base.sources import ReferenceSource
from modeltel.analyzer.base.store import Store

TABLE = "ml_reference_profiles"
_COLUMNS = (
    "feature",
    "categorical",
    "rows",
    "finite",
    "distinct",
    "minimum",
    "maximum",
    "std",
    "q_low",
    "q_high",
)
_KEY = (
    "model = {model:String} AND version = {version:String} AND reference = {name:String} "
    "AND uploaded_at = {at:DateTime64(3)} AND reference_rows = {rows:UInt64}"
)


def upload_of(store: Store, source: ReferenceSource) -> tuple[int, datetime | None]:
    """(rows, upload time) of the stored reference; (0, None) when there is none."""
    rows = store.query_rows(
        "SELECT count(), max(uploaded_at) FROM ml_reference WHERE model = {model:String} "
        "AND version = {version:String} AND reference = {name:String}",
        parameters={"model": source.model, "version": source.version, "name": source.name},
    )
    count, at = rows[0] if rows else (0, None)
    return (int(count), at) if count else (0, None)


def reference_profiles(
    store: Store, source: ReferenceSource, rows: int, uploaded_at: datetime | None
) -> list[Profile]:
    """The profiles of the reference upload of ``rows`` rows made at ``uploaded_at``: read
    back when stored, else computed and stored."""
    if not rows or uploaded_at is None:
        return profile(store, source)
    parameters = {
        "model": source.model,
        "version": source.version,
        "name": source.name,
        "at": uploaded_at,
        "rows": rows,
    }
    stored = store.query_rows(
        f"SELECT {', '.join(_COLUMNS)} FROM {TABLE} FINAL WHERE {_KEY} ORDER BY feature",
        parameters=parameters,
    )
    if stored:
        return [
            Profile(
                feature=str(feature),
                categorical=bool(categorical),
                rows=int(n),
                finite=int(finite),
                distinct=int(distinct),
                minimum=float(lo),
                maximum=float(hi),
                std=float(std),
                q_low=float(q_low),
                q_high=float(q_high),
            )
            for feature, categorical, n, finite, distinct, lo, hi, std, q_low, q_high in stored
        ]
    computed = profile(store, source)
    if computed:
        store.insert(
            TABLE,
            [
                [
                    source.model,
                    source.version,
                    source.name,
                    uploaded_at,
                    rows,
                    *(_value(getattr(p, column)) for column in _COLUMNS),
                ]
                for p in computed
            ],
            ["model", "version", "reference", "uploaded_at", "reference_rows", *_COLUMNS],
        )
    return computed


def _value(value: object) -> object:
    return int(value) if isinstance(value, bool) else value


def store_reference_profiles(store: Store, source: ReferenceSource) -> None:
    """Compute and store the profiles of the reference as it is stored now."""
    rows, uploaded_at = upload_of(store, source)
    reference_profiles(store, source, rows, uploaded_at)
