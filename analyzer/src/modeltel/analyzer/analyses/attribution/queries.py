"""SQL of the attribution analysis, on ``ml_attributions`` (one row per prediction and
feature: its attribution ``value``).

- :func:`importance_sql`: per window key and feature, the mean |attribution| and the
  attributed predictions;
- :data:`HAS_ATTRIBUTIONS_SQL`: whether a model version recorded any attribution.
"""

from __future__ import annotations

from modeltel.analyzer.base.query import Params


def importance_sql(
    model: str, version: str, start_ns: int, end_ns: int, params: Params, key: str
) -> str:
    """``w`` (the SQL ``key``), ``feature``, ``importance`` and ``n`` over [start_ns, end_ns)."""
    return (
        f"SELECT {key} AS w, feature, avg(abs(value)) AS importance, count() AS n "
        f"FROM ml_attributions WHERE model = {params.add(model, 'String')} "
        f"AND version = {params.add(version, 'String')} "
        f"AND timestamp >= fromUnixTimestamp64Nano({params.add(start_ns, 'Int64')}) "
        f"AND timestamp < fromUnixTimestamp64Nano({params.add(end_ns, 'Int64')}) "
        "GROUP BY w, feature"
    )


HAS_ATTRIBUTIONS_SQL = (
    "SELECT count() FROM (SELECT 1 FROM ml_attributions WHERE model = {m:String} "
    "AND version = {v:String} LIMIT 1)"
)
"""One row: 1 when the model ``m``, version ``v`` has attributions, else 0."""
