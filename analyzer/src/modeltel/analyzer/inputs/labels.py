"""Ground-truth labels: bulk loads into ``ml_labels`` and the windows they touch.

Labels arrive two ways: OTel log records (event ``ml.label``, see ``docs/attributes.md``;
projected by the ``ml_labels_mv`` view) and bulk loads from a CSV/Parquet file or a DataFrame
(:func:`upload_labels`, ``modeltel labels upload``, ``POST /api/labels``). A bulk load has an
id column (default ``prediction_id``) and a label column (default ``label``, the true class)
and/or a value column (the true number of a regression model).

Contract:

- Re-uploading the same ids is idempotent and the latest upload wins: ``ml_labels`` is a
  ReplacingMergeTree keyed by (model, prediction_id) with version ``received_at``
  (``docs/tables.md``). Within one
  file the last row of a repeated id wins (and the repeats are counted).
- Labels are written by the attribute contract's value-to-text rule
  (:func:`modeltel.instrumentation.attributes.text`, ``docs/attributes.md``: ``1.0`` → ``"1"``,
  booleans ``true``/``false``), so they compare equal to ``prediction_label``.
- Labels whose id matches no prediction of the model are stored anyway (the prediction may
  still be in flight) and counted in the returned :class:`LabelUpload`; nothing is dropped.
- A row without an id or without any label/value is refused (:class:`InputError` naming the
  column and the first row), never skipped silently.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modeltel.analyzer.base.errors import InputError
from modeltel.analyzer.base.store import Store
from modeltel.instrumentation import attributes

DEFAULT_ID_COLUMN = "prediction_id"
DEFAULT_LABEL_COLUMN = "label"
UNKNOWN_SAMPLE = 10
_INSERT_CHUNK = 500_000
_COLUMNS = ("model", "prediction_id", "label", "label_value", "timestamp", "received_at", "source")


@dataclass
class LabelUpload:
    """What a bulk load stored.

    ``rows`` read, ``stored`` distinct ids written, ``duplicates`` repeated ids in the input
    (last row kept), ``unknown_ids`` stored labels whose id matches no prediction of the model
    (``unknown_sample`` lists a few), ``received_at`` the upload's version stamp.
    """

    model: str
    rows: int
    stored: int
    duplicates: int
    unknown_ids: int
    unknown_sample: list[str] = field(default_factory=list)
    received_at: datetime | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["received_at"] = self.received_at.isoformat() if self.received_at else None
        return out


# -- reading ---------------------------------------------------------------------------------


def read_labels_file(
    data: str | Path | bytes,
    *,
    id_column: str = DEFAULT_ID_COLUMN,
    format: str | None = None,
    name: str = "",
) -> pd.DataFrame:
    """A DataFrame from a CSV or Parquet file (path or bytes); the id column is read as text.

    ``format`` is ``csv`` or ``parquet``; by default the extension, else the content (Parquet
    starts with ``PAR1``) decides. InputError when the file cannot be read or parsed.
    """
    label = name or (str(data) if not isinstance(data, bytes) else "the upload")
    if isinstance(data, bytes):
        raw = data
    else:
        path = Path(data)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
        suffix = path.suffix.lower()
        if format is None and suffix in (".parquet", ".pq"):
            format = "parquet"
        elif format is None and suffix in (".csv", ".txt", ".tsv"):
            format = "csv"
    if not raw.strip():
        raise InputError(f"{label} is empty: it has no header and no rows")
    chosen = (format or ("parquet" if raw[:4] == b"PAR1" else "csv")).lower()
    try:
        if chosen == "parquet":
            return pd.read_parquet(io.BytesIO(raw))
        if chosen == "csv":
            with warnings.catch_warnings():
                # A first row longer than the header would silently become the index.
                warnings.simplefilter("error", pd.errors.ParserWarning)
                return pd.read_csv(
                    io.BytesIO(raw),
                    dtype={id_column: str},
                    keep_default_na=True,
                    na_values=[""],
                    index_col=False,
                )
    except pd.errors.ParserWarning as exc:
        raise InputError(f"{label} has a row with more fields than the header") from exc
    except (ValueError, OSError, pd.errors.ParserError, ImportError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{label} is not a readable {chosen.upper()} file: {first}") from exc
    raise InputError(f"unknown file format {chosen!r}; use csv or parquet")


def label_text(value: Any) -> str | None:
    """A label or id as text, by the attribute contract's rule (``docs/attributes.md``): the
    way the instrumentation and the exporter write it, so it joins; None when missing."""
    return attributes.text(value)


def _first_bad_row(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0]) + 1


def _ids(frame: pd.DataFrame, column: str) -> np.ndarray:
    series = frame[column]
    missing = series.isna().to_numpy()
    texts = np.array([label_text(v) or "" for v in series.to_numpy(dtype=object)], dtype=object)
    texts = np.array([t.strip() for t in texts], dtype=object)
    empty = missing | (texts == "")
    if empty.any():
        raise InputError(
            f"column {column!r} has {int(empty.sum())} empty prediction id(s) "
            f"(first at data row {_first_bad_row(empty)}); "
            "every label needs the id of its prediction"
        )
    return texts


def _values(frame: pd.DataFrame, column: str) -> np.ndarray:
    series = frame[column]
    if pd.api.types.is_bool_dtype(series):
        return series.astype("float64").to_numpy()
    numbers = pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
    bad = np.isnan(numbers) & ~series.isna().to_numpy()
    if bad.any():
        first = series.to_numpy(dtype=object)[np.flatnonzero(bad)[0]]
        raise InputError(
            f"column {column!r} must hold numbers; {first!r} at data row "
            f"{_first_bad_row(bad)} is not a number"
        )
    return numbers


def _timestamps(frame: pd.DataFrame, column: str) -> pd.Series:
    series = frame[column]
    try:
        if pd.api.types.is_numeric_dtype(series):
            stamps = pd.to_datetime(series, unit="s", utc=True)
        else:
            stamps = pd.to_datetime(series, utc=True, format="mixed")
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(
            f"column {column!r} must hold timestamps (ISO 8601 or unix seconds): {exc}"
        ) from exc
    if stamps.isna().any():
        bad = stamps.isna().to_numpy()
        raise InputError(
            f"column {column!r} has {int(bad.sum())} empty timestamp(s) "
            f"(first at data row {_first_bad_row(bad)})"
        )
    return stamps


def prepare_labels(
    frame: pd.DataFrame,
    *,
    id_column: str = DEFAULT_ID_COLUMN,
    label_column: str | None = DEFAULT_LABEL_COLUMN,
    value_column: str | None = None,
    timestamp_column: str | None = None,
) -> tuple[pd.DataFrame, int]:
    """Validated columns ``prediction_id``, ``label``, ``label_value`` (and ``timestamp``).

    Returns the frame with one row per id (the last row of a repeated id) and the number of
    repeats dropped. ``label_column`` may be absent when ``value_column`` is given.
    """
    columns = [str(c) for c in frame.columns]
    shown = ", ".join(columns[:12]) + (", …" if len(columns) > 12 else "")

    def need(column: str, what: str) -> None:
        if column not in frame.columns:
            raise InputError(
                f"the labels have no {what} column {column!r} (columns: {shown or 'none'}); "
                f"name it with --{what}-column"
            )

    need(id_column, "id")
    use_label = label_column is not None and (label_column in frame.columns or not value_column)
    if use_label:
        need(str(label_column), "label")
    if value_column:
        need(value_column, "value")
    if timestamp_column:
        need(timestamp_column, "timestamp")
    if frame.empty:
        raise InputError("the labels have a header but no rows")

    ids = _ids(frame, id_column)
    labels = (
        np.array([label_text(v) for v in frame[label_column].to_numpy(dtype=object)], dtype=object)
        if use_label
        else np.full(len(frame), None, dtype=object)
    )
    values = _values(frame, value_column) if value_column else None
    if values is None:
        parsed = pd.to_numeric(pd.Series(labels, dtype=object), errors="coerce")
        values = parsed.astype("float64").to_numpy()
    has_label = np.array([v is not None for v in labels], dtype=bool)
    empty = ~has_label & np.isnan(values)
    if empty.any():
        column = value_column if not use_label else label_column
        raise InputError(
            f"column {column!r} is empty in {int(empty.sum())} row(s) "
            f"(first at data row {_first_bad_row(empty)}); every row needs a label"
        )
    out = pd.DataFrame(
        {
            "prediction_id": ids,
            "label": labels,
            "label_value": values,
        }
    )
    if timestamp_column:
        out["timestamp"] = _timestamps(frame, timestamp_column).to_numpy()
    before = len(out)
    out = out.drop_duplicates("prediction_id", keep="last").reset_index(drop=True)
    return out, before - len(out)


# -- storing ---------------------------------------------------------------------------------


def _server_now(store: Store) -> datetime:
    """The store's clock, so that ``received_at`` orders with labels arriving through OTLP."""
    value = store.query_rows("SELECT toUnixTimestamp64Micro(now64(6))")[0][0]
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(value))


def _micros(moment: datetime) -> int:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def upload_labels(
    store: Store,
    model: str,
    data: pd.DataFrame | str | Path | bytes,
    *,
    id_column: str = DEFAULT_ID_COLUMN,
    label_column: str | None = DEFAULT_LABEL_COLUMN,
    value_column: str | None = None,
    timestamp_column: str | None = None,
    format: str | None = None,
    source: str = "upload",
) -> LabelUpload:
    """Store the labels in ``data`` for ``model`` and report what happened.

    ``timestamp_column`` gives when each label became known (its delay is measured from the
    prediction to it); without it the upload time is used.
    """
    model = (model or "").strip()
    if not model:
        raise InputError("a model name is required")
    frame = (
        data
        if isinstance(data, pd.DataFrame)
        else read_labels_file(data, id_column=id_column, format=format)
    )
    prepared, duplicates = prepare_labels(
        frame,
        id_column=id_column,
        label_column=label_column,
        value_column=value_column,
        timestamp_column=timestamp_column,
    )
    received = _server_now(store)
    received_ns = _micros(received) * 1000
    n = len(prepared)
    if "timestamp" in prepared:
        stamps = pd.Series(prepared["timestamp"]).dt.as_unit("ns").astype("int64").tolist()
    else:
        stamps = [received_ns] * n
    values = [None if math.isnan(v) else float(v) for v in prepared["label_value"]]
    ids = prepared["prediction_id"].tolist()
    labels = prepared["label"].tolist()
    for lo in range(0, n, _INSERT_CHUNK):
        hi = min(n, lo + _INSERT_CHUNK)
        store.insert(
            "ml_labels",
            [
                [model] * (hi - lo),
                ids[lo:hi],
                labels[lo:hi],
                values[lo:hi],
                stamps[lo:hi],
                [received_ns] * (hi - lo),
                [source] * (hi - lo),
            ],
            _COLUMNS,
            column_oriented=True,
        )
    unknown, sample = unknown_ids(store, model, received)
    warnings = []
    if duplicates:
        warnings.append(f"{duplicates} repeated id(s) in the input: the last row of each was kept")
    if unknown:
        warnings.append(
            f"{unknown} label(s) match no prediction of model {model!r} yet "
            f"(e.g. {', '.join(sample[:3])}); they are kept and join when the predictions arrive"
        )
    return LabelUpload(
        model=model,
        rows=len(frame),
        stored=n,
        duplicates=duplicates,
        unknown_ids=unknown,
        unknown_sample=sample,
        received_at=received,
        warnings=warnings,
    )


def unknown_ids(store: Store, model: str, received_at: datetime) -> tuple[int, list[str]]:
    """Labels of ``model`` received at ``received_at`` whose id matches no prediction."""
    rows = store.query_rows(
        "SELECT count(), groupArray({n:UInt32})(prediction_id) FROM ml_labels "
        "WHERE model = {model:String} AND received_at = fromUnixTimestamp64Micro({at:Int64}) "
        "AND id_key NOT IN (SELECT id_key FROM ml_predictions WHERE model = {model:String})",
        parameters={"model": model, "at": _micros(received_at), "n": UNKNOWN_SAMPLE},
    )
    count, sample = rows[0]
    return int(count), [str(s) for s in sample]
