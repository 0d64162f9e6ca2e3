"""One row per prediction, with chosen feature values beside it and its latest label: the row
shape that analyses aggregating over whole predictions (custom metrics, fairness) group by.

:func:`prediction_rows_sql` is one ``GROUP BY`` :data:`ROW_KEY` over ``ml_predictions UNION ALL
ml_labels`` — the same join the performance analysis makes (the label row with the latest
``received_at`` wins, no ``FINAL``) — joined by key to the features a :class:`RowShape` names,
pivoted into columns ``f0``, ``f1`` … by a ``GROUP BY`` of their own over ``ml_features``
(measured faster than one grouping of all three tables: the pivot's aggregate states are
small). Every value is a bound parameter of the caller's
:class:`~modeltel.analyzer.base.query.Params`.

Columns of a row: ``w`` (the window number of :func:`~modeltel.analyzer.base.query.time_key`),
the prediction columns the shape names (``ml_predictions``'s own names), one column per
feature — ``Nullable(Float64)`` for a numeric feature, ``Nullable(String)`` for a categorical
one, NULL when the prediction has no value — and, when the shape asks for labels,
``label`` (Nullable(String)), ``label_value`` (Nullable(Float64)), ``label_timestamp``
(Nullable(DateTime64(9))) and ``has_label`` (UInt8).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from modeltel.analyzer.base.query import Params, TimeWindows, Windows, prediction_filter, time_key
from modeltel.analyzer.base.store import Store

PREDICTION_COLUMNS = (
    "timestamp",
    "prediction_id",
    "task",
    "prediction_label",
    "prediction_score",
    "prediction_value",
    "latency_s",
    "batch_size",
    "row_index",
    "is_error",
    "service_name",
    "trace_id",
    "span_id",
)
"""The ``ml_predictions`` columns a row can carry (``model`` and ``version`` are fixed)."""

ROW_KEY = "cityHash64(prediction_id)"
"""What the join groups on: a 64-bit hash of the prediction id, which groups far faster than
the id's text or ``id_key`` (``ml_features`` has no ``id_key``, and SipHash-128 of every
feature row costs more than the grouping). Two ids of the windows collide with probability
about n²/2⁶⁵ (3·10⁻⁸ for a million predictions); the multivariate analysis groups the same
way."""

LABEL_COLUMNS = ("label", "label_value", "label_timestamp", "has_label")
"""The label columns of a row whose shape has labels."""


@dataclass(frozen=True)
class RowShape:
    """What a row carries: ``columns`` of the prediction (from :data:`PREDICTION_COLUMNS`),
    ``features`` as (name, categorical) pairs — column ``f<i>`` holds the i-th — and whether
    it carries its latest label."""

    columns: tuple[str, ...] = ()
    features: tuple[tuple[str, bool], ...] = ()
    labels: bool = False

    def feature_column(self, name: str) -> str:
        """The column holding feature ``name``."""
        return f"f{[n for n, _ in self.features].index(name)}"

    def categorical(self, name: str) -> bool:
        """Whether feature ``name``'s column holds text."""
        return dict(self.features)[name]


@dataclass(frozen=True)
class RowCounts:
    """The predictions of a version in the windows and the labels of its model (rows stored,
    not yet deduplicated)."""

    predictions: int
    labels: int

    @property
    def filter_labels(self) -> bool:
        """Whether restricting the label side of the join to the ids of the windows'
        predictions pays: the model has more than twice as many labels as the windows have
        predictions (the ``IN`` set costs more than reading a few extra labels)."""
        return self.predictions * 2 < self.labels


def row_counts(store: Store, model: str, version: str, windows: Windows) -> RowCounts:
    """The :class:`RowCounts` of ``model``/``version`` in ``windows``, in one statement."""
    params = Params()
    where = prediction_filter(model, version, windows, params)
    label_model = params.add(model, "String")
    predictions, labels = store.query_rows(
        f"SELECT (SELECT count() FROM ml_predictions WHERE {where}), "
        f"(SELECT count() FROM ml_labels WHERE model = {label_model})",
        params.values,
    )[0]
    return RowCounts(int(predictions), int(labels))


def label_filter_pays(store: Store, model: str, version: str, windows: Windows) -> tuple[bool, int]:
    """:attr:`RowCounts.filter_labels` of the windows, and how many predictions they hold."""
    counts = row_counts(store, model, version, windows)
    return counts.filter_labels, counts.predictions


def prediction_rows_sql(
    model: str,
    version: str,
    windows: TimeWindows,
    shape: RowShape,
    params: Params,
    *,
    filter_labels: bool = True,
    keyed: bool = False,
) -> str:
    """A subquery with one row per prediction of ``model``/``version`` in ``windows`` (see the
    module docstring for its columns). ``filter_labels`` restricts the label side to the ids of
    those predictions (see :func:`label_filter_pays`); without it every label of the model is
    read and the join drops those of other predictions. ``keyed`` adds the column ``k``
    (:data:`ROW_KEY`), for a caller joining more to the rows."""
    where = prediction_filter(model, version, windows, params)
    w = time_key(windows, params)
    pred = [f"{c} AS {c}" for c in shape.columns]
    lab = [
        "'' AS l_text",
        "toUInt8(1) AS l_text_null",
        "toFloat64(0) AS l_value",
        "toUInt8(1) AS l_value_null",
        "toInt64(0) AS l_time",
        "toInt64(0) AS rcv",
    ]
    branches = [
        f"SELECT {ROW_KEY} AS k, toUInt8(0) AS src, "
        + ", ".join([f"{w} AS w", *pred, *lab])
        + f" FROM ml_predictions WHERE {where}"
    ]
    if shape.labels:
        labelled = [
            "ifNull(label, '')",
            "toUInt8(label IS NULL)",
            "ifNull(label_value, 0)",
            "toUInt8(label_value IS NULL)",
            "toUnixTimestamp64Nano(timestamp)",
            "toUnixTimestamp64Nano(received_at)",
        ]
        label_where = f"model = {params.add(model, 'String')}"
        if filter_labels:
            label_where += f" AND id_key IN (SELECT id_key FROM ml_predictions WHERE {where})"
        branches.append(
            f"SELECT {ROW_KEY}, toUInt8(2), toInt64(0), "
            + ", ".join([*(f"NULL AS {c}" for c in shape.columns), *labelled])
            + f" FROM ml_labels WHERE {label_where}"
        )
    picks = ["anyIf(w, src = 0) AS w"]
    picks += [f"anyIf({c}, src = 0) AS {c}" for c in shape.columns]
    if shape.labels:
        # One argMaxIf per column: every one sees the same rows in the same order, so all
        # pick the same label row (ties on received_at included).
        def last(column: str) -> str:
            return f"argMaxIf({column}, rcv, src = 2)"

        picks += [
            f"if(max(src) = 2 AND {last('l_text_null')} = 0, {last('l_text')}, NULL) AS label",
            f"if(max(src) = 2 AND {last('l_value_null')} = 0, {last('l_value')}, NULL) "
            "AS label_value",
            f"if(max(src) = 2, fromUnixTimestamp64Nano({last('l_time')}), NULL) AS label_timestamp",
            "toUInt8(max(src) = 2) AS has_label",
        ]
    union = " UNION ALL ".join(branches)
    grouped = f"FROM ({union}) GROUP BY k HAVING countIf(src = 0) > 0"
    if not shape.features:
        return f"SELECT {'k, ' if keyed else ''}{', '.join(picks)} {grouped}"
    rows = f"SELECT k, {', '.join(picks)} {grouped}"
    # The features are pivoted on their own (small aggregate states) and joined by key; a
    # prediction without a value gets NULL, the default of the Nullable columns.
    names = params.add([n for n, _ in shape.features], "Array(String)")
    values = [
        f"anyIf({'value' if cat else 'value_num'}, feature = {params.add(n, 'String')}) AS f{i}"
        for i, (n, cat) in enumerate(shape.features)
    ]
    pivot = (
        f"SELECT {ROW_KEY} AS k, {', '.join(values)} FROM ml_features "
        f"WHERE {where} AND feature IN {names} GROUP BY k"
    )
    columns = [*(["k"] if keyed else []), "w", *shape.columns]
    columns += [f"f{i}" for i in range(len(shape.features))]
    if shape.labels:
        columns += LABEL_COLUMNS
    return f"SELECT {', '.join(columns)} FROM ({rows}) AS p LEFT JOIN ({pivot}) AS v USING (k)"


def top_values_key(
    shape: RowShape, params: Params, scope: str, feature: str, most: int, other: str
) -> str:
    """SQL of a row's value of ``feature`` as text when it is among the ``most`` most frequent
    of the rows selected by ``scope`` (a :func:`prediction_filter` clause), else ``other``;
    NULL when the row has no value."""
    column = shape.feature_column(feature)
    if shape.categorical(feature):
        text, stored = column, "value"
    else:
        text, stored = f"toString({column})", "toString(value_num)"
    top = (
        f"(SELECT {stored} AS v FROM ml_features WHERE {scope} AND feature = "
        f"{params.add(feature, 'String')} AND v IS NOT NULL GROUP BY v "
        f"ORDER BY count() DESC, v LIMIT {int(most)})"
    )
    return f"if({column} IS NULL, NULL, if({text} IN {top}, {text}, {params.add(other, 'String')}))"


def feature_kinds(store: Store, names: Iterable[str], model: str | None = None) -> dict[str, bool]:
    """Whether each of ``names`` is categorical, as the store knows it: from the model's
    reference, else its predictions (any model's when ``model`` is None); a feature the store
    has never seen is left out. The predictions are asked one ``LIMIT 1`` per feature, which
    reads a granule each."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    params: dict[str, object] = {"names": wanted}
    scope = ""
    if model is not None:
        scope = "model = {model:String} AND "
        params["model"] = model
    found = {
        str(name): bool(categorical)
        for name, categorical in store.query_rows(
            f"SELECT feature, categorical FROM ml_reference WHERE {scope}"
            "feature IN {names:Array(String)} LIMIT 1 BY feature",
            parameters=params,
        )
    }
    missing = [n for n in wanted if n not in found]
    if missing:
        asks = []
        for i, name in enumerate(missing):
            params[f"f{i}"] = name
            asks.append(
                f"SELECT * FROM (SELECT feature, categorical FROM ml_features "
                f"WHERE {scope}feature = {{f{i}:String}} LIMIT 1)"
            )
        rows = store.query_rows(" UNION ALL ".join(asks), parameters=params)
        found.update({str(name): bool(categorical) for name, categorical in rows})
    return found


def shape_of(columns: Iterable[str], features: Mapping[str, bool], labels: bool) -> RowShape:
    """A :class:`RowShape` of the given prediction columns (kept in
    :data:`PREDICTION_COLUMNS` order) and features (name → categorical, sorted by name)."""
    wanted = set(columns)
    return RowShape(
        columns=tuple(c for c in PREDICTION_COLUMNS if c in wanted),
        features=tuple(sorted(features.items())),
        labels=labels,
    )
