"""The ml projection of a span, computed from its typed OTLP values.

The materialized views on ``otel_traces`` derive ``ml_predictions``/``ml_features`` (and
``ml_attributions``) rows from
the exporter's strings (see :mod:`modeltel.analyzer.schema.ml`). Spans that arrive through
modeltel's own receiver are projected from this module's typed columns instead (the staging
views in :mod:`modeltel.analyzer.schema.staging`), so ClickHouse neither parses JSON arrays nor
scans attribute maps. Both paths must give the same rows: every rule here mirrors the SQL of
the ``otel_traces`` views, and a test compares them on the same spans.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np

from modeltel.analyzer.otlp.values import go_float

_UNSUPPORTED = "json: unsupported value"
FEATURE_PREFIX = "ml.feature."
ATTRIBUTION_PREFIX = "ml.attribution."
CATEGORICAL_KEY = "ml.feature.categorical"


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


def _json_array(raw: str) -> list[Any] | None:
    if not raw.startswith("["):
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
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


def project(
    span_id_hex: str,
    strings: dict[str, str],
    doubles: dict[str, np.ndarray],
    scalars: dict[str, float],
) -> Projection:
    """The ml columns of a span.

    ``strings`` holds the exporter string of every attribute except the double arrays in
    ``doubles``; ``scalars`` holds the value of every scalar double attribute.
    """

    def text_of(key: str) -> str:
        if key in doubles:
            return "[" + ",".join(go_float(float(x)) for x in doubles[key]) + "]"
        return strings.get(key, "")

    model = strings.get("ml.model.name", "")
    if not model:
        return Projection()
    version = strings.get("ml.model.version", "") or "unversioned"
    ids_raw = text_of("ml.prediction.id")
    id_list = _json_array(ids_raw)
    ids_is_array = id_list is not None
    size_text = strings.get("ml.batch.size", "")
    declared = int(size_text) if size_text.isdigit() and int(size_text) < 2**32 else 0
    is_batch = ids_is_array or declared > 1
    if id_list is not None:
        n = len(id_list)
        ids = [
            text if (text := _json_text(item) or "") else f"{span_id_hex}-{i}"
            for i, item in enumerate(id_list)
        ]
    elif is_batch:
        n = max(declared, 1)
        ids = [f"{span_id_hex}-{i}" for i in range(n)]
    else:
        n = 1
        ids = [ids_raw or span_id_hex]

    def labels_of() -> list[str | None]:
        key = "ml.prediction.label"
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

    for key in chain(strings, doubles):
        if key.startswith(ATTRIBUTION_PREFIX):
            attributions.append(key[15:])  # len(ATTRIBUTION_PREFIX)
            number_values, text_values = values_of(key)
            attribution_numbers.append(number_values)
            attribution_texts.append(text_values)
            continue
        if not key.startswith(FEATURE_PREFIX) or key == CATEGORICAL_KEY:
            continue
        name = key[11:]  # len(FEATURE_PREFIX)
        features.append(name)
        flags.append(1 if name in names else 0)
        number_values, text_values = values_of(key)
        numbers.append(number_values)
        texts.append(text_values)
    return Projection(
        model=model,
        version=version,
        task=strings.get("ml.task", ""),
        ids=ids,
        labels=labels_of(),
        scores=numbers_of("ml.prediction.score"),
        values=numbers_of("ml.prediction.value"),
        features=features,
        categorical=flags,
        numbers=numbers,
        texts=texts,
        attributions=attributions,
        attribution_numbers=attribution_numbers,
        attribution_texts=attribution_texts,
    )


__all__ = ["Projection", "project"]
