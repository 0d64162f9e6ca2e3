"""References: the training-time distribution of a model version, stored in ``ml_reference``
(``docs/tables.md``).

A reference is a table with one column per feature, uploaded from a pandas DataFrame, a CSV
or a Parquet file (:func:`upload_reference`), or captured from a production time window
(:func:`reference_from_window`). It is stored long, one row per (row, feature), so drift
bins can always be recomputed exactly. Uploading the same (model, version, name) again
replaces the earlier reference.

Schema: numeric columns (ints, floats) are numerical features; strings, booleans and
pandas categories are categorical. ``categorical=[…]`` / ``numerical=[…]`` override the
inference (a numerical override must parse as numbers). Categorical values are stored as text
by the attribute contract's rule (:func:`modeltel.instrumentation.attributes.text`,
``docs/attributes.md``: ``1.0`` → ``"1"``), so they match production.

Prediction columns: ``prediction_column`` (predicted class → ``prediction.label``),
``score_column`` (→ ``prediction.score``) and ``value_column`` (regression output →
``prediction.value``) make the reference carry the model's outputs for prediction drift;
columns already named ``prediction.label``/``prediction.score``/``prediction.value`` are
taken as such. ``exclude=[…]`` drops columns (ids, targets).

Capture settings: the reference is stored the way the instrumentation records production
(:mod:`modeltel.instrumentation.capture`, ``docs/capture.md``), so both sides compare like
with like. ``features_include``, ``features_exclude`` and ``treatments`` (``"postcode:hash,
name:drop"`` or a mapping), else ``$MODELTEL_FEATURES_INCLUDE``, ``$MODELTEL_FEATURES_EXCLUDE``
and ``$MODELTEL_FEATURE_TREATMENTS`` of the process storing it, leave out the feature columns
production does not record and hash the hashed ones with ``$MODELTEL_HASH_SALT`` (stored as
categorical). Prediction columns are never affected.
"""

from __future__ import annotations

import csv
import io
import logging
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from modeltel.analyzer.base.errors import InputError, NotFoundError
from modeltel.analyzer.base.query import Params
from modeltel.analyzer.base.sources import (
    PREDICTION_FEATURES,
    PREDICTION_LABEL,
    PREDICTION_SCORE,
    PREDICTION_VALUE,
    ProductionSource,
    ReferenceSource,
)
from modeltel.analyzer.base.store import Store
from modeltel.instrumentation import attributes
from modeltel.instrumentation.capture import Capture, CaptureError, resolve_capture

logger = logging.getLogger(__name__)

DEFAULT_NAME = "default"
DEFAULT_VERSION = attributes.UNVERSIONED
_INSERT_CHUNK = 500_000


@dataclass
class UploadSummary:
    """What an upload stored."""

    model: str
    version: str
    name: str
    rows: int
    features: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    """Feature columns the capture settings left out (not included, excluded or dropped)."""
    hashed: list[str] = field(default_factory=list)
    """Feature columns stored hashed."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "name": self.name,
            "rows": self.rows,
            "features": self.features,
            "warnings": self.warnings,
            "left_out": self.left_out,
            "hashed": self.hashed,
        }


# -- reading files -------------------------------------------------------------------------


def read_table(
    data: str | Path | bytes, *, format: str | None = None, label: str = ""
) -> pd.DataFrame:
    """A DataFrame from a CSV or Parquet file (path or bytes); InputError when unreadable.

    ``format`` is ``csv`` or ``parquet``; by default the file's extension, else its content
    (Parquet files start with ``PAR1``) decides.
    """
    name = label or (str(data) if not isinstance(data, bytes) else "upload")
    raw: bytes
    if isinstance(data, bytes):
        raw = data
    else:
        path = Path(data)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if format is None and path.suffix.lower() in (".parquet", ".pq"):
            format = "parquet"
        elif format is None and path.suffix.lower() in (".csv", ".txt"):
            format = "csv"
    if format is None:
        format = "parquet" if raw[:4] == b"PAR1" else "csv"
    format = format.lower()
    if not raw.strip():
        raise InputError(f"{name} is empty: it has no header and no rows")
    try:
        if format == "parquet":
            return pd.read_parquet(io.BytesIO(raw))
        if format == "csv":
            header = next(csv.reader(io.StringIO(raw[:65536].decode("utf-8", "replace"))), [])
            names = [h.strip() for h in header]
            duplicates = sorted({h for h in names if names.count(h) > 1})
            if duplicates:
                raise InputError(f"{name} has duplicate column names: {', '.join(duplicates)}")
            with warnings.catch_warnings():
                # A first row longer than the header would silently become the index.
                warnings.simplefilter("error", pd.errors.ParserWarning)
                return pd.read_csv(io.BytesIO(raw), index_col=False)
    except pd.errors.ParserWarning as exc:
        raise InputError(f"{name} has a row with more fields than the header") from exc
    except (ValueError, OSError, pd.errors.ParserError, ImportError, csv.Error) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{name} is not a readable {format.upper()} file: {first}") from exc
    raise InputError(f"unknown file format {format!r}; use csv or parquet")


# -- schema --------------------------------------------------------------------------------


def _names(value: Iterable[str] | str | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def infer_schema(
    frame: pd.DataFrame,
    *,
    categorical: Iterable[str] | str | None = None,
    numerical: Iterable[str] | str | None = None,
) -> dict[str, str]:
    """``{column: "categorical" | "numerical"}`` for every column of ``frame``."""
    columns = [str(c) for c in frame.columns]
    cat, num = _names(categorical), _names(numerical)
    for option, names in (("categorical", cat), ("numerical", num)):
        unknown = [n for n in names if n not in columns]
        if unknown:
            raise InputError(
                f"{option} column(s) {', '.join(unknown)} not in the file; "
                f"its columns are {', '.join(columns)}"
            )
    both = sorted(set(cat) & set(num))
    if both:
        raise InputError(f"column(s) {', '.join(both)} cannot be both categorical and numerical")
    schema = {}
    for column in columns:
        series = frame[column]
        if column in cat:
            schema[column] = "categorical"
        elif column in num:
            schema[column] = "numerical"
        elif pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(
            series
        ):
            raise InputError(
                f"column {column!r} holds dates or durations, which are not features; "
                "drop it (exclude) or convert it to numbers"
            )
        elif pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
            schema[column] = "categorical"
        else:
            schema[column] = "numerical"
    return schema


def _numbers(series: pd.Series, column: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series):
        return series.astype("float64").to_numpy()
    if pd.api.types.is_numeric_dtype(series):
        return series.astype("float64").to_numpy(na_value=np.nan)
    parsed = pd.to_numeric(series, errors="coerce")
    bad = series.notna() & parsed.isna()
    if bad.any():
        example = series[bad].iloc[0]
        raise InputError(
            f"column {column!r} is numerical but row {int(np.flatnonzero(bad.to_numpy())[0]) + 1} "
            f"holds {example!r}, which is not a number"
        )
    return parsed.astype("float64").to_numpy(na_value=np.nan)


# -- uploads -------------------------------------------------------------------------------


def _prediction_renames(
    columns: Sequence[str],
    prediction_column: str | None,
    score_column: str | None,
    value_column: str | None,
) -> dict[str, str]:
    renames: dict[str, str] = {}
    for option, column, target in (
        ("prediction column", prediction_column, PREDICTION_LABEL),
        ("score column", score_column, PREDICTION_SCORE),
        ("value column", value_column, PREDICTION_VALUE),
    ):
        if column is None:
            continue
        if column not in columns:
            raise InputError(
                f"{option} {column!r} is not in the file; its columns are {', '.join(columns)}"
            )
        if target in columns and column != target:
            raise InputError(
                f"the file has a column {target!r} already; do not also name a {option}"
            )
        renames[column] = target
    return renames


def upload_reference(
    store: Store,
    model: str,
    data: pd.DataFrame | str | Path | bytes,
    *,
    version: str | None = None,
    name: str = DEFAULT_NAME,
    categorical: Iterable[str] | str | None = None,
    numerical: Iterable[str] | str | None = None,
    prediction_column: str | None = None,
    score_column: str | None = None,
    value_column: str | None = None,
    exclude: Iterable[str] | str | None = None,
    format: str | None = None,
    features_include: Iterable[str] | str | None = None,
    features_exclude: Iterable[str] | str | None = None,
    treatments: dict[str, str] | str | None = None,
    hash_salt: str | None = None,
) -> UploadSummary:
    """Validate ``data`` and store it as the reference ``name`` of ``model``/``version``,
    treated by the capture settings (see the module documentation; ``hash_salt`` else
    ``$MODELTEL_HASH_SALT``).

    Raises :class:`InputError` naming the problem (no rows, unknown or unusable columns,
    values that are not numbers in a numerical column, a bad capture setting, a hashed column
    declared numerical) before anything is written.
    """
    capture = reference_capture(features_include, features_exclude, treatments, hash_salt)
    model, version = _check_name(model, "model"), _check_name(version or DEFAULT_VERSION, "version")
    name = _check_name(name, "reference name")
    frame = data if isinstance(data, pd.DataFrame) else read_table(data, format=format)
    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    columns = list(frame.columns)
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise InputError(f"the file has duplicate column names: {', '.join(duplicates)}")
    dropped = _names(exclude)
    missing = [c for c in dropped if c not in columns]
    if missing:
        raise InputError(f"excluded column(s) {', '.join(missing)} not in the file")
    frame = frame.drop(columns=dropped)
    renames = _prediction_renames(
        list(frame.columns), prediction_column, score_column, value_column
    )
    frame = frame.rename(columns=renames)
    forced_cat = [renames.get(c, c) for c in _names(categorical)]
    forced_num = [renames.get(c, c) for c in _names(numerical)]
    frame, left_out, hashed = _apply_capture(frame, capture, forced_num)
    forced_cat = [c for c in forced_cat if c not in left_out] + hashed
    forced_num = [c for c in forced_num if c not in left_out]
    if frame.shape[1] == 0:
        if left_out:
            raise InputError(f"the capture settings leave out every column: {', '.join(left_out)}")
        raise InputError("the file has no feature columns")
    if len(frame) == 0:
        raise InputError("the file has a header but no rows")
    if PREDICTION_LABEL in frame.columns and PREDICTION_LABEL not in forced_num:
        forced_cat.append(PREDICTION_LABEL)
    for column in (PREDICTION_SCORE, PREDICTION_VALUE):
        if column in frame.columns and column not in forced_cat:
            forced_num.append(column)
    schema = infer_schema(frame, categorical=forced_cat, numerical=forced_num)
    warnings = _check_against_production(
        store, model, [c for c in schema if c not in PREDICTION_FEATURES]
    )
    unsalted = capture.unsalted_warning() if hashed else None
    if unsalted is not None:
        warnings.append(unsalted)
    empty = [c for c in frame.columns if frame[c].isna().all()]
    if empty:
        warnings.append(f"column(s) {', '.join(empty)} have no values (stored as all missing)")
    uploaded_at = datetime.now(UTC).replace(tzinfo=None)
    parts = [_long_part(frame[c], c, schema[c]) for c in frame.columns]  # validates every column
    for part in parts:
        _insert_part(store, part, model, version, name, uploaded_at)
    _finish_upload(store, model, version, name, uploaded_at)
    for message in warnings:
        logger.warning("reference %s/%s/%s: %s", model, version, name, message)
    return UploadSummary(model, version, name, len(frame), schema, warnings, left_out, hashed)


def reference_capture(
    include: Iterable[str] | str | None,
    exclude: Iterable[str] | str | None,
    treatments: dict[str, str] | str | None,
    salt: str | None = None,
) -> Capture:
    """The capture settings of an upload: the arguments, else the ``MODELTEL_*`` variables
    (:func:`modeltel.instrumentation.capture.resolve_capture`); InputError naming the bad one."""
    try:
        return resolve_capture(
            include if include is None or isinstance(include, str) else list(include),
            exclude if exclude is None or isinstance(exclude, str) else list(exclude),
            treatments,
            salt,
            names=("features_include", "features_exclude", "treatments", "hash_salt"),
        )
    except CaptureError as exc:
        raise InputError(str(exc)) from exc


def _apply_capture(
    frame: pd.DataFrame, capture: Capture, numerical: Sequence[str]
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """``(frame, left out, hashed)``: ``frame`` without the feature columns ``capture`` does not
    record and with its hashed columns' values hashed (missing values stay missing)."""
    features = [c for c in frame.columns if c not in PREDICTION_FEATURES]
    left_out = [c for c in features if not capture.records(c)]
    hashed = [c for c in features if capture.hashes(c)]
    declared = [c for c in hashed if c in numerical]
    if declared:
        raise InputError(
            f"column(s) {', '.join(declared)} are hashed, so they are categorical: "
            "do not also declare them numerical"
        )
    if not left_out and not hashed:
        return frame, [], []
    frame = frame.drop(columns=left_out)
    for column in hashed:
        values = capture.hash_all(frame[column].tolist())
        frame[column] = pd.Series(values, index=frame.index, dtype=object)
    return frame, left_out, hashed


def _long_part(series: pd.Series, column: str, kind: str) -> dict[str, Any]:
    """The long rows of one column as Arrow arrays (no Python object per number)."""
    n = len(series)
    if kind == "numerical":
        numbers = _numbers(series, column)
        texts = pa.nulls(n, pa.string())
        categorical = 0
    else:
        text_list = [attributes.text(v) for v in series.tolist()]
        numbers = pd.to_numeric(pd.Series(text_list, dtype=object), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        texts = pa.array(text_list, type=pa.string())
        categorical = 1
    return {
        "feature": pa.array([column] * n, type=pa.string()),
        "row_id": pa.array(np.arange(n, dtype=np.uint64)),
        "value": texts,
        "value_num": pa.array(numbers, mask=np.isnan(numbers), type=pa.float64()),
        "categorical": pa.array(np.full(n, categorical, dtype=np.uint8)),
    }


def _insert_part(
    store: Store, part: dict[str, Any], model: str, version: str, name: str, at: datetime
) -> None:
    n = len(part["row_id"])
    columns = {
        "model": pa.array([model] * n, type=pa.string()),
        "version": pa.array([version] * n, type=pa.string()),
        "reference": pa.array([name] * n, type=pa.string()),
        **part,
        "uploaded_at": pa.array(np.full(n, np.datetime64(at, "ms")), type=pa.timestamp("ms")),
    }
    table = pa.table(columns)
    for start in range(0, n, _INSERT_CHUNK):
        chunk = table.slice(start, _INSERT_CHUNK)
        store.insert_arrow("ml_reference", chunk)


def _check_name(value: str, what: str) -> str:
    text = str(value).strip()
    if not text:
        raise InputError(f"the {what} must not be empty")
    if len(text) > 200:
        raise InputError(f"the {what} is longer than 200 characters")
    return text


def _check_against_production(store: Store, model: str, columns: list[str]) -> list[str]:
    """Compare columns with the features production sent for ``model`` (if any)."""
    rows = store.query_rows(
        "SELECT DISTINCT feature FROM ml_features WHERE model = {model:String} LIMIT 10000",
        parameters={"model": model},
    )
    seen = {str(r[0]) for r in rows}
    if not seen or not columns:
        return []
    unknown = [c for c in columns if c not in seen]
    if len(unknown) == len(columns):
        raise InputError(
            f"none of the file's columns ({', '.join(columns[:10])}) is a feature that model "
            f"{model!r} sends ({', '.join(sorted(seen)[:10])}); check the file and the model name"
        )
    if unknown:
        return [f"column(s) {', '.join(unknown)} are not features that model {model!r} sends"]
    return []


STORED_HOOKS: list[Callable[[Store, ReferenceSource], None]] = []
"""Called with the store and the source after each reference upload is stored: the
registry of analyses adds each analysis's ``reference_stored`` here."""


def _finish_upload(store: Store, model: str, version: str, name: str, keep: datetime) -> None:
    """Delete the rows (and profiles) of earlier uploads of the same reference, then tell
    the :data:`STORED_HOOKS`."""
    for table_name in ("ml_reference", "ml_reference_profiles"):
        table = store.layout.qualified(table_name, local=True)
        store.command(
            f"DELETE FROM {table}{store.layout.on_cluster} WHERE model = {{model:String}} "
            "AND version = {version:String} AND reference = {name:String} "
            "AND uploaded_at != {keep:DateTime64(3)}",
            parameters={"model": model, "version": version, "name": name, "keep": keep},
        )
    source = ReferenceSource(model, version, name)
    for hook in STORED_HOOKS:
        hook(store, source)


def reference_from_window(
    store: Store,
    model: str,
    version: str,
    start: datetime,
    end: datetime,
    *,
    name: str = DEFAULT_NAME,
    target_version: str | None = None,
) -> UploadSummary:
    """Copy a production window's features and predictions into a reference.

    The rows of ``version`` with ``start <= timestamp < end`` become reference ``name`` of
    ``target_version`` (default: the same version). NotFoundError when the window is empty.
    """
    target = _check_name(target_version or version, "version")
    name = _check_name(name, "reference name")
    source = ProductionSource(model, version, start, end)
    params = Params()
    select = source.sql(None, params, with_ids=True)
    uploaded_at = datetime.now(UTC).replace(tzinfo=None)
    model_p = params.add(model, "String")
    target_p = params.add(target, "String")
    name_p = params.add(name, "String")
    at_p = params.add(uploaded_at, "DateTime64(3)")
    store.command(
        "INSERT INTO ml_reference (model, version, reference, feature, row_id, value, value_num, "
        f"categorical, uploaded_at) SELECT {model_p}, {target_p}, {name_p}, feature, "
        f"cityHash64(pid), if(c = 1 OR x IS NULL, s, NULL), x, c, {at_p} FROM ({select})",
        parameters=params.values,
    )
    rows = store.query_rows(
        "SELECT feature, max(categorical), uniqExact(row_id) FROM ml_reference "
        "WHERE model = {m:String} AND version = {v:String} AND reference = {n:String} "
        "AND uploaded_at = {at:DateTime64(3)} GROUP BY feature ORDER BY feature",
        parameters={"m": model, "v": target, "n": name, "at": uploaded_at},
    )
    if not rows:
        raise NotFoundError(
            f"no predictions of {model} version {version} between {start} and {end}"
        )
    _finish_upload(store, model, target, name, uploaded_at)
    features = {str(f): "categorical" if c else "numerical" for f, c, _ in rows}
    return UploadSummary(model, target, name, max(int(r[2]) for r in rows), features)


# -- looking references up -----------------------------------------------------------------


def list_references(store: Store, model: str | None = None) -> pd.DataFrame:
    """One row per stored reference: model, version, name, features, rows, uploaded_at."""
    where = "WHERE model = {model:String}" if model is not None else ""
    return store.query_df(
        "SELECT model, version, reference AS name, uniqExact(feature) AS features, "
        "uniqExact(row_id) AS rows, max(uploaded_at) AS uploaded_at FROM ml_reference "
        f"{where} GROUP BY model, version, reference ORDER BY model, version, reference",
        parameters={"model": model} if model is not None else None,
    )


def find_reference(
    store: Store, model: str, version: str, name: str = DEFAULT_NAME
) -> ReferenceSource | None:
    """The reference ``name`` of ``model``/``version``; else the model's latest one by that name."""
    rows = store.query_rows(
        "SELECT version, max(uploaded_at) AS at, version = {version:String} AS same "
        "FROM ml_reference WHERE model = {model:String} AND reference = {name:String} "
        "GROUP BY version ORDER BY same DESC, at DESC LIMIT 1",
        parameters={"model": model, "version": version, "name": name},
    )
    if not rows:
        return None
    return ReferenceSource(model, str(rows[0][0]), name)
