"""The ml projection of a span, computed from its typed OTLP values.

The materialized views on ``otel_traces`` derive ``ml_predictions``/``ml_features`` (and
``ml_attributions``) rows from
the exporter's strings (see :mod:`modeltel.analyzer.base.schema.ml`). Spans that arrive through
modeltel's own receiver are projected from this module's typed columns instead (the staging
views in :mod:`modeltel.analyzer.base.schema.staging`), so ClickHouse neither parses JSON arrays nor
scans attribute maps. Both paths must give the same rows: every rule here mirrors the SQL of
the ``otel_traces`` views, and a test compares them on the same spans.

How many rows a span holds comes from what it carries, never from what it declares
(:func:`shape`): the length of its ``ml.prediction.id`` array; for a batch declared by
``ml.batch.size`` alone, the longest value array it carries (cut to the declared size); else
one. Value arrays are cut or padded (missing) to that count. :func:`span_issue` applies the row
limits; a span that breaks one is projected to no rows, and a declared size that differs from
the rows present is kept as a data-quality fact (``Projection.issue``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np

from modeltel.analyzer.base.limits import (
    BATCH_SIZE_MISMATCH,
    Limits,
    exceeded,
)
from modeltel.analyzer.ingest.values import go_float
from modeltel.instrumentation.attributes import (
    ML_ATTRIBUTION_PREFIX,
    ML_BATCH_SIZE,
    ML_FEATURE_CATEGORICAL,
    ML_FEATURE_PREFIX,
    ML_MODEL_NAME,
    ML_MODEL_VERSION,
    ML_PREDICTION_ID,
    ML_PREDICTION_LABEL,
    ML_PREDICTION_SCORE,
    ML_PREDICTION_VALUE,
    ML_TASK,
    UNVERSIONED,
)

_UNSUPPORTED = "json: unsupported value"
FEATURE_PREFIX = ML_FEATURE_PREFIX
ATTRIBUTION_PREFIX = ML_ATTRIBUTION_PREFIX
CATEGORICAL_KEY = ML_FEATURE_CATEGORICAL
PREDICTION_KEYS = (ML_PREDICTION_LABEL, ML_PREDICTION_SCORE, ML_PREDICTION_VALUE)
_FEATURE_NAME_AT = len(FEATURE_PREFIX)
_ATTRIBUTION_NAME_AT = len(ATTRIBUTION_PREFIX)
_WHOLE = re.compile(r"[0-9]{1,18}")


@dataclass
class Projection:
    """Typed ml columns of one span (``model == ""`` when it is not a prediction span)."""

    model: str = ""
    version: str = ""
    task: str = ""
    ids: list[str] = field(default_factory=list)
    labels: list[str | None] = field(default_factory=list)
    scores: Any = field(default_factory=list)  # list[float | None] or np.ndarray
    values: Any = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    categorical: list[int] = field(default_factory=list)
    numbers: list[Any] = field(default_factory=list)  # per feature: ndarray/list, or []
    texts: list[list[str | None]] = field(default_factory=list)  # per feature: list, or []
    attributions: list[str] = field(default_factory=list)  # names, as ``features``
    attribution_numbers: list[Any] = field(default_factory=list)
    attribution_texts: list[list[str | None]] = field(default_factory=list)
    rows: int = 0
    """Predictions the span carries (``len(ids)`` unless a limit stopped its projection)."""
    declared_size: int = 0
    """``ml.batch.size`` when a whole number, else 0."""
    issue: str = ""
    """Why the span was not projected (a limit's reason), or ``batch_size_mismatch``."""
    issue_size: int = 0
    issue_limit: int = 0


def _json_text(item: Any) -> str | None:
    """An element of a JSON array as ``JSONExtract(…, 'Array(Nullable(String))')`` yields it."""
    if item is None:
        return None
    if isinstance(item, str):
        return item
    if item is True:
        return "true"
    if item is False:
        return "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        return go_float(item)
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # as ClickHouse: NaN/Infinity are invalid


def _json_array(raw: str) -> list[Any] | None:
    if not raw.startswith("["):
        return None
    try:
        parsed = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, list) else None


def _texts(raw: str, n: int) -> list[str | None]:
    """Batch text elements of ``raw`` resized to ``n`` (the views' split/JSON rules)."""
    if raw.startswith("[") and '"' not in raw:
        parts: list[str | None] = [
            None if part == "null" else part for part in raw[1:-1].split(",")
        ]
    else:
        parsed = _json_array(raw)
        parts = [_json_text(item) for item in parsed] if parsed is not None else []
    return _resize(parts, n)


def _ch_float(text: str | None) -> float | None:
    """``toFloat64OrNull`` for the texts this module produces."""
    if text is None or not text or "_" in text or text != text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _floats(raw: str, n: int) -> list[float | None]:
    """``JSONExtract(raw, 'Array(Nullable(Float64))')`` resized to ``n``."""
    parsed = _json_array(raw)
    out: list[float | None] = []
    for item in parsed or []:
        if isinstance(item, bool):
            out.append(1.0 if item else 0.0)
        elif isinstance(item, (int, float)):
            out.append(float(item))
        elif isinstance(item, str):
            out.append(_ch_float(item))
        else:
            out.append(None)
    return _resize(out, n)


def _resize(items: list[Any], n: int) -> list[Any]:
    return items[:n] if len(items) >= n else items + [None] * (n - len(items))


@dataclass(frozen=True)
class Shape:
    """The rows of a prediction span, decided from what it carries (see the module doc)."""

    is_batch: bool
    rows: int
    id_list: list[Any] | None
    """The parsed ``ml.prediction.id`` array, or None when the id is not an array."""
    declared: int | None
    """``ml.batch.size`` when it is a whole number (None when absent or not one)."""
    has_declared: bool
    features: int
    attributions: int

    @property
    def projected(self) -> int:
        """Rows the span writes into ml_predictions + ml_features + ml_attributions (at most)."""
        return self.rows * (1 + self.features + self.attributions)


def _array_length(key: str, strings: dict[str, str], doubles: dict[str, np.ndarray]) -> int:
    """``JSONLength`` of the attribute's text when it is an array (else 0)."""
    if key in doubles:
        return len(doubles[key])
    parsed = _json_array(strings.get(key, ""))
    return len(parsed) if parsed is not None else 0


def shape(strings: dict[str, str], doubles: dict[str, np.ndarray]) -> Shape:
    """How many rows a span holds: the id array's length; for a batch declared by
    ``ml.batch.size`` alone, its longest value array cut to that size; else one."""
    ids_raw = strings.get(ML_PREDICTION_ID, "")
    id_list = _json_array(ids_raw) if ML_PREDICTION_ID not in doubles else None
    if ML_PREDICTION_ID in doubles:  # a double array of ids: its exporter text is an array
        id_list = [go_float(float(x)) for x in doubles[ML_PREDICTION_ID]]
    size_text = strings.get(ML_BATCH_SIZE)
    declared = int(size_text) if size_text is not None and _WHOLE.fullmatch(size_text) else None
    has_declared = size_text is not None or ML_BATCH_SIZE in doubles
    features = attributions = 0
    value_keys: list[str] = []
    for key in chain(strings, doubles):
        if key.startswith(ATTRIBUTION_PREFIX):
            attributions += 1
            value_keys.append(key)
        elif key.startswith(FEATURE_PREFIX) and key != CATEGORICAL_KEY:
            features += 1
            value_keys.append(key)
    if id_list is not None:
        return Shape(True, len(id_list), id_list, declared, has_declared, features, attributions)
    longest = 0
    if declared is not None and declared > 1:
        value_keys += [k for k in PREDICTION_KEYS if k in strings or k in doubles]
        longest = max((_array_length(k, strings, doubles) for k in value_keys), default=0)
    is_batch = declared is not None and declared > 1 and longest > 0
    rows = min(declared, longest) if is_batch and declared is not None else 1
    return Shape(is_batch, rows, None, declared, has_declared, features, attributions)


def span_issue(found: Shape, limits: Limits) -> tuple[str, int, int, str]:
    """``(reason, size, limit, message)`` of the first row limit ``found`` breaks (the views'
    order), ``batch_size_mismatch`` for a declared size that differs, or ``("", 0, 0, "")``."""
    if found.rows > limits.max_span_rows:
        error = exceeded(limits, "span_rows", "prediction span carries", found.rows, " rows")
        return "span_rows", found.rows, limits.max_span_rows, error.message
    if found.projected > limits.max_projected_rows:
        error = exceeded(
            limits,
            "projected_rows",
            f"prediction span of {found.rows:,} rows with "
            f"{found.features + found.attributions:,} features and attributions would write",
            found.projected,
            " ml rows",
        )
        return "projected_rows", found.projected, limits.max_projected_rows, error.message
    if found.has_declared and found.declared != found.rows:
        return BATCH_SIZE_MISMATCH, found.declared or 0, 0, ""
    return "", 0, 0, ""


def skipped(
    strings: dict[str, str], found: Shape, reason: str, size: int, limit: int
) -> Projection:
    """The projection of a span a limit stops: its model and issue, no rows."""
    return Projection(
        model=strings.get(ML_MODEL_NAME, ""),
        version=strings.get(ML_MODEL_VERSION, "") or UNVERSIONED,
        task=strings.get(ML_TASK, ""),
        rows=found.rows,
        declared_size=found.declared or 0,
        issue=reason,
        issue_size=size,
        issue_limit=limit,
    )


def project(
    span_id_hex: str,
    strings: dict[str, str],
    doubles: dict[str, np.ndarray],
    scalars: dict[str, float],
    found: Shape | None = None,
) -> Projection:
    """The ml columns of a span (``found``: its :func:`shape`, computed when not given).

    ``strings`` holds the exporter string of every attribute except the double arrays in
    ``doubles``; ``scalars`` holds the value of every scalar double attribute. Limits are the
    caller's business (:func:`span_issue`): this builds ``found.rows`` rows.
    """

    def text_of(key: str) -> str:
        if key in doubles:
            return "[" + ",".join(go_float(float(x)) for x in doubles[key]) + "]"
        return strings.get(key, "")

    model = strings.get(ML_MODEL_NAME, "")
    if not model:
        return Projection()
    if found is None:
        found = shape(strings, doubles)
    version = strings.get(ML_MODEL_VERSION, "") or UNVERSIONED
    ids_raw = text_of(ML_PREDICTION_ID)
    is_batch = found.is_batch
    n = found.rows
    if found.id_list is not None:
        ids = [
            text if (text := _json_text(item) or "") else f"{span_id_hex}-{i}"
            for i, item in enumerate(found.id_list)
        ]
    elif is_batch:
        ids = [f"{span_id_hex}-{i}" for i in range(n)]
    else:
        ids = [ids_raw or span_id_hex]

    def labels_of() -> list[str | None]:
        key = ML_PREDICTION_LABEL
        if not is_batch:
            return [text_of(key)] if key in strings or key in doubles else [None]
        parsed = _json_array(text_of(key))
        return _resize([_json_text(x) for x in parsed] if parsed is not None else [], n)

    def numbers_of(key: str) -> Any:
        if is_batch:
            if key in doubles and len(doubles[key]) == n:
                return doubles[key]
            return _floats(text_of(key), n)
        return [_ch_float(strings.get(key))]

    categorical_raw = text_of(CATEGORICAL_KEY)
    parsed_names = _json_array(categorical_raw) or []
    names = {x for x in parsed_names if isinstance(x, str)}
    features: list[str] = []
    flags: list[int] = []
    numbers: list[Any] = []
    texts: list[list[str | None]] = []
    attributions: list[str] = []
    attribution_numbers: list[Any] = []
    attribution_texts: list[list[str | None]] = []

    def values_of(key: str) -> tuple[Any, list[str | None]]:
        """(numbers, texts) of a per-row attribute: one of them filled, the other empty."""
        if not is_batch and key in scalars:
            number = scalars[key]
            return ([number] if math.isfinite(number) else [None]), []
        if key in doubles and is_batch and len(doubles[key]) == n:
            return doubles[key], []
        if is_batch:
            return [], _texts(text_of(key), n)
        raw = text_of(key)
        return [], [None if raw.startswith(_UNSUPPORTED) else raw]

    mismatch = found.has_declared and found.declared != n
    for key in chain(strings, doubles):
        if key.startswith(ATTRIBUTION_PREFIX):
            attributions.append(key[_ATTRIBUTION_NAME_AT:])
            number_values, text_values = values_of(key)
            attribution_numbers.append(number_values)
            attribution_texts.append(text_values)
            continue
        if not key.startswith(FEATURE_PREFIX) or key == CATEGORICAL_KEY:
            continue
        name = key[_FEATURE_NAME_AT:]
        features.append(name)
        flags.append(1 if name in names else 0)
        number_values, text_values = values_of(key)
        numbers.append(number_values)
        texts.append(text_values)
    return Projection(
        model=model,
        version=version,
        task=strings.get(ML_TASK, ""),
        ids=ids,
        labels=labels_of(),
        scores=numbers_of(ML_PREDICTION_SCORE),
        values=numbers_of(ML_PREDICTION_VALUE),
        features=features,
        categorical=flags,
        numbers=numbers,
        texts=texts,
        attributions=attributions,
        attribution_numbers=attribution_numbers,
        attribution_texts=attribution_texts,
        rows=n,
        declared_size=found.declared or 0,
        issue=BATCH_SIZE_MISMATCH if mismatch else "",
        issue_size=(found.declared or 0) if mismatch else 0,
    )


__all__ = ["Projection", "Shape", "project", "shape", "skipped", "span_issue"]
