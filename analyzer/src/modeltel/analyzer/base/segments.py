"""Segment dimensions: the ways an analysis splits a version's predictions into segments.

A :class:`SegmentDimension` is a categorical feature (its values, the ``max_values`` most
frequent over the analysed range kept, the rest :data:`OTHER`), the serving
:data:`SERVICE` (the same, over the spans' ``service.name``) or a numeric feature cut into
bins at the deciles of the model's reference (of the analysed predictions when the reference
lacks it). A prediction without a value is in the segment :data:`MISSING`.

:func:`segment_dimensions` resolves names into dimensions (:class:`ConfigError` naming an
unknown one); :func:`segmented_sql` adds to a subquery of one row per prediction the
``(sd, sv)`` columns an analysis groups by: one row per prediction with ``sd = 0`` (every
prediction) and one per dimension with ``sd = i`` (the i-th, from 1) and ``sv`` its key
(:meth:`SegmentDimension.value` names it). A record's segment is ``dimension=value``
(:func:`segment_name`).

An analysis that splits by segments takes the configuration keys :data:`SEGMENT_KEYS`, parsed
by :func:`with_segment_keys` into the fields of the same names of its settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from modeltel.analyzer.base.config import expect
from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.prediction_rows import (
    ROW_KEY,
    RowShape,
    feature_kinds,
    shape_of,
    top_values_key,
)
from modeltel.analyzer.base.query import Params, Windows, prediction_filter
from modeltel.analyzer.base.store import Store

MISSING = "(missing)"
"""The segment of the predictions without a value of the dimension."""
OTHER = "other"
"""The segment of the values beyond the most frequent."""
SERVICE = "service.name"
"""The dimension of the serving service (the spans' resource attribute)."""
DECILES = tuple(round(0.1 * i, 1) for i in range(1, 10))
SEGMENT_KEYS = ("segment_by", "max_segments", "min_segment_size")
"""The configuration keys of an analysis split by segments: its dimensions (default none), a
dimension's most frequent values kept (default 20, at most :data:`MAX_SEGMENTS`; the rest
:data:`OTHER`) and the fewest predictions of a segment in a window (default 100; fewer:
``no_data``)."""
MAX_SEGMENTS = 200
"""The bound of ``max_segments``: each segment is a label value of the gauges."""
SEGMENT_KEY = "fk"
"""The column of the rows :func:`segmented_sql` joins features on: :data:`ROW_KEY` of the
prediction id."""


@dataclass(frozen=True)
class SegmentDimension:
    """One way of splitting the predictions: ``name`` (a feature, or :data:`SERVICE`), whether
    it is ``categorical``, and for a numeric feature the ``edges`` of its bins."""

    name: str
    categorical: bool = True
    edges: tuple[float, ...] = ()

    def key_sql(self, shape: RowShape, params: Params, scope: str, most: int) -> str:
        """The SQL of a row's key of this dimension as text (NULL: no value); ``scope`` selects
        the version's rows of the range in which the ``most`` most frequent values count."""
        if self.name == SERVICE:
            top = (
                f"(SELECT service_name FROM ml_predictions WHERE {scope} GROUP BY service_name "
                f"ORDER BY count() DESC, service_name LIMIT {int(most)})"
            )
            other = params.add(OTHER, "String")
            return f"if(service_name IN {top}, service_name, {other})"
        if self.categorical:
            return top_values_key(shape, params, scope, self.name, most, OTHER)
        if not self.edges:
            return "CAST(NULL AS Nullable(String))"
        column = shape.feature_column(self.name)
        edges = params.add(list(self.edges), "Array(Float64)")
        return (
            f"if({column} IS NULL OR isNaN({column}), NULL, "
            f"toString(arrayCount(e -> e <= {column}, {edges})))"
        )

    def value(self, raw: object) -> str:
        """The segment's value of a key the statement returned."""
        if raw is None:
            return MISSING
        if self.categorical:
            return str(raw)
        index, edges = int(str(raw)), self.edges
        if index == 0:
            return f"< {edges[0]:.4g}"
        if index == len(edges):
            return f"≥ {edges[-1]:.4g}"
        return f"[{edges[index - 1]:.4g}, {edges[index]:.4g})"


def segment_name(dimension: SegmentDimension, raw: object) -> str:
    """The ``segment`` of a record: ``dimension=value``."""
    return f"{dimension.name}={dimension.value(raw)}"


def segment_dimensions(
    store: Store, model: str, version: str, windows: Windows, names: Sequence[str]
) -> tuple[SegmentDimension, ...]:
    """The dimensions ``names`` of ``model``: :data:`SERVICE` or features the store knows for
    the model (its reference or its predictions). A numeric feature's edges are the distinct
    deciles of the model's reference, else of the version's predictions in ``windows``.
    :class:`ConfigError` naming the names that are neither."""
    wanted = list(dict.fromkeys(names))
    kinds = feature_kinds(store, [n for n in wanted if n != SERVICE], model)
    unknown = [n for n in wanted if n != SERVICE and n not in kinds]
    if unknown:
        raise ConfigError(
            f"unknown segment dimension {', '.join(map(repr, unknown))} of model {model!r}: "
            f"segment_by names a feature of the model or {SERVICE}"
        )
    numeric = [n for n in wanted if n != SERVICE and not kinds[n]]
    edges = decile_edges(store, model, version, windows, numeric)
    return tuple(
        SegmentDimension(n)
        if n == SERVICE or kinds[n]
        else SegmentDimension(n, categorical=False, edges=edges.get(n, ()))
        for n in wanted
    )


def decile_edges(
    store: Store, model: str, version: str, windows: Windows, names: Sequence[str]
) -> dict[str, tuple[float, ...]]:
    """The distinct deciles of each numeric feature ``names``: of the model's reference, else
    of the version's predictions in ``windows``."""
    if not names:
        return {}
    levels = ", ".join(map(str, DECILES))
    rows = store.query_rows(
        f"SELECT feature, quantilesDeterministic({levels})(value_num, row_id) FROM ml_reference "
        "WHERE model = {model:String} AND feature IN {names:Array(String)} "
        "AND value_num IS NOT NULL AND NOT isNaN(value_num) GROUP BY feature",
        parameters={"model": model, "names": list(names)},
    )
    found = {str(name): _distinct(values) for name, values in rows}
    missing = [n for n in names if n not in found]
    if missing:
        params = Params()
        scope = prediction_filter(model, version, windows, params)
        rows = store.query_rows(
            f"SELECT feature, quantilesDeterministic({levels})(value_num, {ROW_KEY}) "
            f"FROM ml_features WHERE {scope} AND feature IN {params.add(missing, 'Array(String)')} "
            "AND value_num IS NOT NULL AND NOT isNaN(value_num) GROUP BY feature",
            parameters=params.values,
        )
        found.update({str(name): _distinct(values) for name, values in rows})
    return found


def _distinct(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(sorted({float(v) for v in values}))


def needs_service(dimensions: Sequence[SegmentDimension]) -> bool:
    """Whether the rows must carry ``service_name``."""
    return any(d.name == SERVICE for d in dimensions)


def segmented_sql(
    rows: str,
    dimensions: Sequence[SegmentDimension],
    model: str,
    version: str,
    windows: Windows,
    params: Params,
    *,
    most: int,
) -> str:
    """``rows`` (one row per prediction of ``model``/``version`` in ``windows``, with the
    :data:`SEGMENT_KEY` column, and ``service_name`` when a dimension is :data:`SERVICE`)
    with the features of ``dimensions`` joined and the columns ``sd`` (UInt8) and ``sv``
    (Nullable(String)): each row once with ``sd = 0`` and once per dimension (see the module
    docstring)."""
    scope = prediction_filter(model, version, windows, params)
    features = {d.name: d.categorical for d in dimensions if d.name != SERVICE}
    shape = shape_of((), features, False)
    source = f"({rows})"
    if features:
        values = [
            f"anyIf({'value' if cat else 'value_num'}, feature = {params.add(n, 'String')}) AS f{i}"
            for i, (n, cat) in enumerate(shape.features)
        ]
        names = params.add([n for n, _ in shape.features], "Array(String)")
        pivot = (
            f"SELECT {ROW_KEY} AS {SEGMENT_KEY}, {', '.join(values)} FROM ml_features "
            f"WHERE {scope} AND feature IN {names} GROUP BY {SEGMENT_KEY}"
        )
        source = f"(SELECT * FROM ({rows}) AS r LEFT JOIN ({pivot}) AS v USING ({SEGMENT_KEY}))"
    keys = [d.key_sql(shape, params, scope, most) for d in dimensions]
    pairs = ["(toUInt8(0), CAST(NULL AS Nullable(String)))"]
    pairs += [f"(toUInt8({i}), CAST({k} AS Nullable(String)))" for i, k in enumerate(keys, 1)]
    return (
        f"SELECT * EXCEPT (seg), seg.1 AS sd, seg.2 AS sv "
        f"FROM (SELECT *, arrayJoin([{', '.join(pairs)}]) AS seg FROM {source})"
    )


Settings = TypeVar("Settings")


def segment_names(value: Any, path: str) -> tuple[str, ...]:
    """Segment dimensions given as a name, a comma-separated string or a list of names
    (``null``: none); ConfigError naming ``path`` otherwise."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(
        isinstance(item, str) and item.strip() for item in items
    ):
        raise ConfigError(
            f"config key {path} must be a dimension name or a list of names, got {value!r}"
        )
    return tuple(dict.fromkeys(item.strip() for item in items))


def with_segment_keys(cfg: Mapping[str, Any], path: str, settings: Settings) -> Settings:
    """``settings`` (a dataclass with ``segment_by``, ``max_segments`` and
    ``min_segment_size``) with the :data:`SEGMENT_KEYS` that ``cfg`` (the section at ``path``)
    sets; ConfigError naming the key of a bad value."""
    out = settings
    if "segment_by" in cfg:
        out = replace(out, segment_by=segment_names(cfg["segment_by"], f"{path}.segment_by"))
    if cfg.get("max_segments") is not None:
        most = _positive(cfg["max_segments"], f"{path}.max_segments")
        if most > MAX_SEGMENTS:
            raise ConfigError(
                f"config key {path}.max_segments must be at most {MAX_SEGMENTS}, got {most}"
            )
        out = replace(out, max_segments=most)
    if cfg.get("min_segment_size") is not None:
        size = _positive(cfg["min_segment_size"], f"{path}.min_segment_size")
        out = replace(out, min_segment_size=size)
    return out


def _positive(value: Any, path: str) -> int:
    number = expect(value, int, path, "a whole number")
    if number <= 0:
        raise ConfigError(f"config key {path} must be positive, got {value!r}")
    return int(number)
