"""The join key of predictions and labels: a 128-bit hash of the prediction id.

``ml_predictions`` and ``ml_labels`` carry ``id_key UInt128 MATERIALIZED`` (computed once at
insert; older parts compute it when read). Measured on 10M predictions + 10M labels, the whole
classification statement took a median 8.5 CPU-seconds grouped on this fixed 16-byte key
against 10.4 on the id text. SipHash-128 makes an accidental collision negligible: about
n² / 2¹²⁹, i.e. 10⁻¹⁹ for ten billion ids of one model.
"""

from __future__ import annotations

from modeltel.analyzer.base.schema.layout import Layout

ID_KEY_EXPR = "reinterpretAsUInt128(sipHash128(prediction_id))"
"""SQL of ``id_key`` from a table's ``prediction_id`` column."""

TABLES = ("ml_predictions", "ml_labels")


def statements(layout: Layout) -> list[str]:
    """``ALTER TABLE … ADD COLUMN id_key`` for both tables (local and Distributed on a cluster)."""
    out = []
    for name in TABLES:
        targets = [layout.qualified(name, local=True)]
        if layout.cluster:
            targets.append(layout.qualified(name))
        for table in targets:
            out.append(
                f"ALTER TABLE {table}{layout.on_cluster} ADD COLUMN IF NOT EXISTS "
                f"id_key UInt128 MATERIALIZED {ID_KEY_EXPR}"
            )
    return out
