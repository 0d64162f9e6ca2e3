"""What the store holds, listed: the models and versions that sent predictions, their
activity, their labels and references.

Every "which versions exist" question is answered here, so the Analyzer, the loop, the web
page and the CLI agree on it. A version *has predictions* when ``ml_predictions`` holds a row
of it; a version is *known* when it has predictions, results or a reference. Times are the
store's (UTC, naive ``datetime`` as clickhouse-connect returns them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from modeltel.analyzer.base.store import Store


def model_versions(store: Store, since: datetime | None = None) -> list[tuple[str, str]]:
    """(model, version) pairs with predictions (at or after ``since`` when given), sorted."""
    where = "WHERE timestamp >= {since:DateTime64(3)} " if since is not None else ""
    rows = store.query_rows(
        f"SELECT model, version FROM ml_predictions {where}"
        "GROUP BY model, version ORDER BY model, version",
        parameters={"since": _naive_utc(since)} if since is not None else None,
    )
    return [(str(m), str(v)) for m, v in rows]


def _naive_utc(moment: datetime) -> datetime:
    """``moment`` as the store's naive UTC time (an aware time is converted first)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def versions(store: Store, model: str) -> list[str]:
    """Versions of ``model`` with predictions, the one with the latest prediction first."""
    rows = store.query_rows(
        "SELECT version FROM ml_predictions WHERE model = {model:String} "
        "GROUP BY version ORDER BY max(timestamp) DESC",
        parameters={"model": model},
    )
    return [str(r[0]) for r in rows]


def versions_between(store: Store, model: str, start_ns: int, end_ns: int) -> set[str]:
    """Versions of ``model`` with a prediction in ``[start_ns, end_ns)`` (Unix nanoseconds)."""
    rows = store.query_rows(
        "SELECT DISTINCT version FROM ml_predictions WHERE model = {model:String} "
        "AND timestamp >= fromUnixTimestamp64Nano({start:Int64}) "
        "AND timestamp < fromUnixTimestamp64Nano({end:Int64})",
        parameters={"model": model, "start": start_ns, "end": end_ns},
    )
    return {str(r[0]) for r in rows}


def known_versions(store: Store, model: str) -> list[str]:
    """Versions of ``model`` with predictions, results or a reference, the most recently
    active first (latest prediction, result window end or upload)."""
    rows = store.query_rows(
        "SELECT version, max(ts) AS last FROM ("
        " SELECT version, max(timestamp) AS ts FROM ml_predictions WHERE model = {m:String}"
        " GROUP BY version"
        " UNION ALL SELECT version, max(toDateTime64(window_end, 9)) FROM ml_results"
        " WHERE model = {m:String} GROUP BY version"
        " UNION ALL SELECT version, max(toDateTime64(uploaded_at, 9)) FROM ml_reference"
        " WHERE model = {m:String} GROUP BY version"
        ") GROUP BY version ORDER BY last DESC, version DESC",
        parameters={"m": model},
    )
    return [str(r[0]) for r in rows]


@dataclass(frozen=True)
class Activity:
    """The predictions of one model version: how many, how many failed, when, which task."""

    model: str
    version: str
    predictions: int
    errors: int
    first_seen: datetime
    last_seen: datetime
    task: str | None


def activity(store: Store) -> list[Activity]:
    """The :class:`Activity` of every model version with predictions."""
    rows = store.query_rows(
        "SELECT model, version, toUInt64(round(sum(weight))), "
        "toUInt64(round(sumIf(weight, is_error = 1))), min(timestamp), max(timestamp), "
        "any(task) FROM ml_predictions GROUP BY model, version ORDER BY model, version"
    )
    return [
        Activity(str(m), str(v), int(n), int(e), first, last, str(task) if task else None)
        for m, v, n, e, first, last, task in rows
    ]


def label_counts(store: Store) -> dict[str, int]:
    """Stored labels per model (labels belong to a model, not a version)."""
    return {
        str(m): int(n)
        for m, n in store.query_rows("SELECT model, count() FROM ml_labels FINAL GROUP BY model")
    }


def reference_summaries(store: Store) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (model, version) with a reference: its reference names (sorted) and how many
    features they cover (``{"references": [...], "reference_features": n}``)."""
    rows = store.query_rows(
        "SELECT model, version, groupUniqArray(reference), uniqExact(feature) "
        "FROM ml_reference GROUP BY model, version"
    )
    return {
        (str(m), str(v)): {"references": sorted(names), "reference_features": int(features)}
        for m, v, names, features in rows
    }
