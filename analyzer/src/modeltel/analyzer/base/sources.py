"""Where a sample comes from: a stored reference, or a model version's production window.

A source renders a ClickHouse subquery with the columns ``seg`` (segment value, ``''``
without segments), ``feature``, ``x`` (Nullable(Float64): the number), ``s``
(Nullable(String): the text, for categorical features and non-numbers), ``c`` (1 when the
row was marked categorical) and ``d`` (a UInt64 that makes sampled aggregates deterministic),
restricted to a list of feature names. Prediction drift reads ``ml_predictions`` as three
pseudo-features: ``prediction.score``, ``prediction.value`` and ``prediction.label``. Every
user-supplied value is a bound query parameter; only generated parameter *names* are
formatted into the SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from modeltel.analyzer.base.query import Params, nanos

PREDICTION_SCORE = "prediction.score"
PREDICTION_VALUE = "prediction.value"
PREDICTION_LABEL = "prediction.label"
PREDICTION_FEATURES = (PREDICTION_SCORE, PREDICTION_VALUE, PREDICTION_LABEL)
"""Pseudo-features for prediction drift (also the names used in ``ml_reference``)."""

_PREDICTION_COLUMNS = {
    PREDICTION_SCORE: ("prediction_score", "NULL"),
    PREDICTION_VALUE: ("prediction_value", "NULL"),
    PREDICTION_LABEL: ("NULL", "prediction_label"),
}


INT = "Int64"
_DETERMINATOR = "toUInt64(toUnixTimestamp64Nano(t.timestamp))"


@dataclass(frozen=True)
class ReferenceSource:
    """Rows uploaded to ``ml_reference`` for (model, version, name)."""

    model: str
    version: str
    name: str = "default"

    def describe(self) -> str:
        return f"reference {self.name!r} of {self.model} version {self.version}"

    def key(self) -> tuple[str, ...]:
        return ("reference", self.model, self.version, self.name)

    def _where(self, params: Params, alias: str) -> str:
        return (
            f"{alias}.model = {params.add(self.model, 'String')} "
            f"AND {alias}.version = {params.add(self.version, 'String')} "
            f"AND {alias}.reference = {params.add(self.name, 'String')}"
        )

    def sql(self, features: list[str] | None, params: Params, segment_by: str | None = None) -> str:
        """Rows of ``features`` (None: every feature)."""
        names = _feature_filter(features, params)
        if segment_by is None:
            return (
                f"SELECT '' AS seg, t.feature AS feature, t.value_num AS x, t.value AS s, "
                f"t.categorical AS c, t.row_id AS d FROM ml_reference AS t "
                f"WHERE {self._where(params, 't')}{names}"
            )
        seg_feature = params.add(segment_by, "String")
        return (
            f"SELECT ifNull(g.seg_value, '') AS seg, t.feature AS feature, t.value_num AS x, "
            f"t.value AS s, t.categorical AS c, t.row_id AS d FROM ml_reference AS t "
            f"LEFT ANY JOIN (SELECT u.row_id AS row_id, "
            f"coalesce(u.value, toString(u.value_num)) AS seg_value FROM ml_reference AS u "
            f"WHERE {self._where(params, 'u')} AND u.feature = {seg_feature}) AS g "
            f"ON t.row_id = g.row_id "
            f"WHERE {self._where(params, 't')}{names}"
        )


@dataclass(frozen=True)
class ProductionSource:
    """A model version's predictions with ``start <= timestamp < end``."""

    model: str
    version: str
    start: datetime
    end: datetime

    def describe(self) -> str:
        return (
            f"production data of {self.model} version {self.version} "
            f"from {self.start.isoformat()} to {self.end.isoformat()}"
        )

    def key(self) -> tuple[str, ...]:
        return (
            "production",
            self.model,
            self.version,
            self.start.isoformat(),
            self.end.isoformat(),
        )

    def _where(self, params: Params, alias: str = "") -> str:
        p = f"{alias}." if alias else ""
        return (
            f"{p}model = {params.add(self.model, 'String')} "
            f"AND {p}version = {params.add(self.version, 'String')} "
            f"AND {p}timestamp >= fromUnixTimestamp64Nano({params.add(nanos(self.start), INT)})"
            f" AND {p}timestamp < fromUnixTimestamp64Nano({params.add(nanos(self.end), INT)})"
        )

    def sql(
        self,
        features: list[str] | None,
        params: Params,
        segment_by: str | None = None,
        *,
        with_ids: bool = False,
    ) -> str:
        """Rows of ``features`` (None: every feature and prediction column); ``with_ids``
        adds the ``pid`` column (prediction id)."""
        pid = ", t.prediction_id AS pid" if with_ids else ""
        if features is None:
            inputs: list[str] | None = None
            outputs = list(PREDICTION_FEATURES)
        else:
            inputs = [f for f in features if f not in PREDICTION_FEATURES]
            outputs = [f for f in features if f in PREDICTION_FEATURES]
        parts: list[str] = []
        seg_join = ""
        seg_col = "''"
        if segment_by is not None:
            seg_feature = params.add(segment_by, "String")
            seg_join = (
                f" LEFT ANY JOIN (SELECT prediction_id, "
                f"coalesce(value, toString(value_num)) AS seg_value FROM ml_features "
                f"WHERE {self._where(params)} AND feature = {seg_feature}) AS g "
                f"ON t.prediction_id = g.prediction_id"
            )
            seg_col = "ifNull(g.seg_value, '')"
        if inputs is None or inputs:
            names = _feature_filter(inputs, params)
            parts.append(
                f"SELECT {seg_col} AS seg, t.feature AS feature, t.value_num AS x, "
                f"t.value AS s, t.categorical AS c, {_DETERMINATOR} AS d{pid} "
                f"FROM ml_features AS t{seg_join} "
                f"WHERE {self._where(params, 't')}{names}"
            )
        for name in outputs:
            number, text = _PREDICTION_COLUMNS[name]
            column = number if number != "NULL" else text
            label = params.add(name, "String")
            x = f"t.{number}" if number != "NULL" else "CAST(NULL, 'Nullable(Float64)')"
            s = f"t.{text}" if text != "NULL" else "CAST(NULL, 'Nullable(String)')"
            parts.append(
                f"SELECT {seg_col} AS seg, {label} AS feature, {x} AS x, {s} AS s, "
                f"toUInt8({int(name == PREDICTION_LABEL)}) AS c, {_DETERMINATOR} AS d{pid} "
                f"FROM ml_predictions AS t{seg_join} "
                f"WHERE {self._where(params, 't')} AND t.{column} IS NOT NULL AND t.is_error = 0"
            )
        if not parts:
            return (
                "SELECT '' AS seg, '' AS feature, CAST(NULL, 'Nullable(Float64)') AS x, "
                "CAST(NULL, 'Nullable(String)') AS s, toUInt8(0) AS c, toUInt64(0) AS d WHERE 0"
            )
        return " UNION ALL ".join(parts)


Source = ReferenceSource | ProductionSource


def _feature_filter(features: list[str] | None, params: Params) -> str:
    if features is None:
        return ""
    return f" AND t.feature IN {params.add(features, 'Array(String)')}"
