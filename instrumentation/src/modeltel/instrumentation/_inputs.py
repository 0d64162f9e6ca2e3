"""Reading the features of one prediction call, whatever shape the input has.

Understood inputs, and whether the call is a batch (array attributes) or a single row
(scalar attributes):

=====================================================  ======  ===========================
input                                                  batch   feature names
=====================================================  ======  ===========================
pandas DataFrame (any number of rows)                  yes     columns
2-D numpy array, list of lists/tuples                  yes     ``feature_names`` or x0, x1..
list of dicts                                          yes     keys (union, first-seen order)
dict of equal-length columns                           yes     keys
dict, pandas Series                                    no      keys / index
1-D numpy array, list/tuple of scalars                 no      ``feature_names`` or x0, x1..
a scalar                                               no      ``feature_names[0]`` or x0
=====================================================  ======  ===========================

Anything else (sparse matrices, tensors without ``__array__``, custom objects) is a call
whose features are not captured; the prediction is still recorded. numpy and pandas are
only used when the application already imported them.

The monitor's :class:`~modeltel.instrumentation.capture.Capture` is applied last: features it
does not record are left out, hashed ones replaced by their hashes and listed as categorical.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from modeltel.instrumentation import _values as V
from modeltel.instrumentation.capture import Capture

_SCALAR_TYPES = (int, float, str, bool, bytes)
_PLAIN = frozenset({int, float, str, bool, type(None)})


class Rows:
    """The features of one call, ready to become span attributes."""

    __slots__ = ("batch", "categorical", "columns", "count", "ids")

    def __init__(
        self,
        count: int,
        batch: bool,
        columns: dict[str, Any],
        categorical: list[str],
        ids: list[str | None] | None = None,
    ) -> None:
        self.count = count
        self.batch = batch
        self.columns = columns  # name -> scalar (single row) or list (batch)
        self.categorical = categorical
        self.ids = ids


class FeatureSpec:
    """What a monitor knows about its features; ``categorical`` grows as values are seen.
    ``capture`` says which are recorded and how (``None``: all, unchanged)."""

    __slots__ = ("capture", "categorical", "id_column", "names")

    def __init__(
        self,
        names: Sequence[str] | None,
        categorical: set[str],
        id_column: str | None,
        capture: Capture | None = None,
    ) -> None:
        self.names = list(names) if names is not None else None
        self.categorical = categorical
        self.id_column = id_column
        self.capture = capture if capture is not None and not capture.is_default else None

    def positional_names(self, count: int) -> list[str]:
        names = self.names
        if names is not None and len(names) == count:
            return names
        if names is not None and len(names) > count:
            return names[:count]
        start = 0 if names is None else len(names)
        return (names or []) + [f"x{i}" for i in range(start, count)]


def count_rows(x: Any) -> tuple[int, bool]:
    """``(rows, is batch)`` of an input, cheaply (no conversion); ``(0, False)`` if unknown."""
    t = type(x)
    if t is dict:
        for v in x.values():
            if type(v) not in _PLAIN and _is_column(v):
                return _length(v), True
            break
        return 1, False
    if t is list or t is tuple:
        if not x:
            return 0, True
        first = x[0]
        if isinstance(first, (Mapping, list, tuple)) or _is_ndarray(first):
            return len(x), True
        return 1, False
    if t in _SCALAR_TYPES:
        return 1, False
    shape = getattr(x, "shape", None)
    if shape is not None:
        try:
            if len(shape) >= 2:
                return int(shape[0]), True
            return 1, False  # a 1-D array or Series is one row
        except Exception:
            return 0, False
    if isinstance(x, Mapping):
        return 1, False
    return 0, False


def read_id_column(x: Any, column: str) -> list[str | None] | None:
    """The ids in column/key ``column`` of input ``x`` (without reading the features)."""
    from modeltel.instrumentation._ids import id_text

    if isinstance(x, Mapping):
        if column not in x:
            return None
        value = x[column]
        if _is_column(value):
            return [id_text(v) for v in _as_list(value)]
        return [id_text(value)]
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(x, pd.DataFrame):
        if column not in x.columns:
            return None
        return [id_text(v) for v in x[column].tolist()]
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], Mapping):
        return [id_text(r.get(column)) for r in x]
    return None


def extract(x: Any, spec: FeatureSpec) -> Rows | None:
    """The features of input ``x`` that ``spec.capture`` records; ``None`` when the input is
    not understood."""
    rows = _extract(x, spec)
    if rows is None or spec.capture is None:
        return rows
    return captured(rows, spec.capture)


def captured(rows: Rows, capture: Capture) -> Rows:
    """``rows`` without the features ``capture`` does not record, hashed ones hashed (and
    categorical); a single row's missing hashed value stays left out."""
    columns: dict[str, Any] = {}
    hashed: list[str] = []
    for name, values in rows.columns.items():
        if not capture.records(name):
            continue
        if capture.hashes(name):
            hashed.append(name)
            values = capture.hash_all(values) if rows.batch else capture.hash(values)
            if values is None:
                continue
        columns[name] = values
    cats = [c for c in rows.categorical if capture.records(c)]
    cats += [h for h in hashed if h not in cats]
    return Rows(rows.count, rows.batch, columns, cats, rows.ids)


def _extract(x: Any, spec: FeatureSpec) -> Rows | None:
    t = type(x)
    if t is dict:
        return _from_mapping(x, spec)
    pd = sys.modules.get("pandas")
    if pd is not None:
        if isinstance(x, pd.DataFrame):
            return _from_frame(x, spec)
        if isinstance(x, pd.Series):
            return _from_mapping(x.to_dict(), spec)
    np = sys.modules.get("numpy")
    if np is not None and isinstance(x, np.ndarray):
        return _from_array(x, spec)
    if t is list or t is tuple:
        if not x:
            return Rows(0, True, {}, [])
        first = x[0]
        if isinstance(first, Mapping):
            return _from_records(x, spec)
        if isinstance(first, (list, tuple)) or _is_ndarray(first):
            return _from_row_lists(x, spec)
        return _single_row(list(x), spec)
    if t in _SCALAR_TYPES or x is None:
        return _single_row([x], spec)
    if isinstance(x, Mapping):
        return _from_mapping(dict(x), spec)
    if np is not None and hasattr(x, "__array__"):
        columns = getattr(x, "columns", None)
        array = np.asarray(x)
        if columns is not None and array.ndim == 2:
            names = [str(c) for c in columns]
            return _from_array(array, FeatureSpec(names, spec.categorical, spec.id_column))
        return _from_array(array, spec)
    if isinstance(x, _SCALAR_TYPES) or hasattr(x, "dtype"):
        return _single_row([x], spec)
    return None


# -- single rows ---------------------------------------------------------------------------


def _from_mapping(row: dict[Any, Any], spec: FeatureSpec) -> Rows:
    if row:
        first = next(iter(row.values()))
        if _is_column(first):
            return _from_column_mapping(row, spec)
    categorical = spec.categorical
    id_column = spec.id_column
    columns: dict[str, Any] = {}
    cats: list[str] = []
    ids: list[str | None] | None = None
    for key, value in row.items():
        name = key if type(key) is str else str(key)
        if name == id_column:
            from modeltel.instrumentation._ids import id_text

            ids = [id_text(value)]
            continue
        if name in categorical:
            value = V.text(value)
            if value is not None:
                columns[name] = value
            cats.append(name)
            continue
        kind = type(value)
        if kind is float:  # the common cases first
            if value == value:
                columns[name] = value
            continue
        if kind is int:
            columns[name] = value
            continue
        value, is_cat = V.feature_scalar(value)
        if value is None or value is V.SKIP:
            continue
        columns[name] = value
        if is_cat:
            categorical.add(name)
            cats.append(name)
    return Rows(1, False, columns, cats, ids)


def _single_row(values: list[Any], spec: FeatureSpec) -> Rows:
    names = spec.positional_names(len(values))
    return _from_mapping(dict(zip(names, values, strict=False)), spec)


# -- batches -------------------------------------------------------------------------------


def _from_columns(
    names: list[str],
    columns: list[list[Any]],
    numeric: list[bool],
    count: int,
    spec: FeatureSpec,
) -> Rows:
    """Assemble a batch from per-column Python lists (numeric ones already floats/None)."""
    categorical = spec.categorical
    out: dict[str, Any] = {}
    cats: list[str] = []
    ids: list[str | None] | None = None
    for name, values, is_numeric in zip(names, columns, numeric, strict=True):
        if name == spec.id_column:
            from modeltel.instrumentation._ids import id_text

            ids = [id_text(v) for v in values]
            continue
        declared = name in categorical
        if is_numeric and not declared:
            out[name] = values
            continue
        values, is_cat = V.object_column(values, declared)
        out[name] = values
        if is_cat:
            if not declared:
                categorical.add(name)
            cats.append(name)
    return Rows(count, True, out, cats, ids)


def _from_frame(frame: Any, spec: FeatureSpec) -> Rows:
    np = sys.modules["numpy"]
    names = [c if type(c) is str else str(c) for c in frame.columns.tolist()]
    count = len(frame)
    array = frame.to_numpy()
    if array.dtype.kind in "fiu":
        return _numeric_matrix(array, names, spec)
    kinds = [getattr(d, "kind", "O") for d in frame.dtypes.tolist()]
    is_category = [str(d) == "category" for d in frame.dtypes.tolist()]
    if array.dtype != object:
        array = array.astype(object)
    columns: list[list[Any]] = []
    numeric: list[bool] = []
    for j, kind in enumerate(kinds):
        column = array[:, j]
        if kind in "fiu" and not is_category[j]:
            try:
                values = V.array_float_list(column.astype(np.float64))
            except (TypeError, ValueError):
                values = V.float_list(column.tolist())
            columns.append(values)
            numeric.append(True)
        else:
            columns.append(column.tolist())
            numeric.append(False)
            if is_category[j] or kind == "b":
                spec.categorical.add(names[j])
    return _from_columns(names, columns, numeric, count, spec)


def _numeric_matrix(array: Any, names: list[str], spec: FeatureSpec) -> Rows:
    np = sys.modules["numpy"]
    floats = array.astype(np.float64, copy=False)
    columns: list[list[Any]] = floats.T.tolist()
    if array.dtype.kind == "f":
        bad_columns = np.flatnonzero(np.isnan(floats).any(axis=0))
        for j in bad_columns.tolist():
            column = columns[j]
            for i in np.flatnonzero(np.isnan(floats[:, j])).tolist():
                column[i] = None
    return _from_columns(names, columns, [True] * len(names), array.shape[0], spec)


def _from_array(array: Any, spec: FeatureSpec) -> Rows | None:
    ndim = array.ndim
    if ndim == 0:
        return _single_row([array.item()], spec)
    if ndim == 1:
        return _single_row(array.tolist(), spec)
    if ndim != 2:
        return None
    names = spec.positional_names(array.shape[1])
    kind = array.dtype.kind
    if kind in "fiu":
        return _numeric_matrix(array, names, spec)
    columns = array.T.tolist()
    return _from_columns(names, columns, [False] * len(names), array.shape[0], spec)


def _from_row_lists(rows: Sequence[Any], spec: FeatureSpec) -> Rows:
    width = max((len(r) for r in rows), default=0)
    names = spec.positional_names(width)
    columns = [[r[j] if j < len(r) else None for r in rows] for j in range(width)]
    return _from_columns(names, columns, [False] * width, len(rows), spec)


def _from_records(records: Sequence[Mapping[Any, Any]], spec: FeatureSpec) -> Rows:
    keys: dict[Any, None] = {}
    for record in records:
        for key in record:
            keys[key] = None
    names = [k if type(k) is str else str(k) for k in keys]
    columns = [[record.get(k) for record in records] for k in keys]
    return _from_columns(names, columns, [False] * len(names), len(records), spec)


def _from_column_mapping(data: dict[Any, Any], spec: FeatureSpec) -> Rows:
    names = [k if type(k) is str else str(k) for k in data]
    columns = [_as_list(v) for v in data.values()]
    count = max((len(c) for c in columns), default=0)
    columns = [c + [None] * (count - len(c)) for c in columns]
    return _from_columns(names, columns, [False] * len(names), count, spec)


def _is_ndarray(value: Any) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and isinstance(value, np.ndarray)


def _is_column(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return True
    if isinstance(value, (str, bytes)):
        return False
    ndim = getattr(value, "ndim", None)
    return ndim == 1 and hasattr(value, "tolist")


def _length(value: Any) -> int:
    try:
        return len(value)
    except Exception:
        return 0


def _as_list(value: Any) -> list[Any]:
    tolist = getattr(value, "tolist", None)
    if tolist is not None and not isinstance(value, (list, tuple)):
        result = tolist()
        return result if isinstance(result, list) else [result]
    return list(value)
