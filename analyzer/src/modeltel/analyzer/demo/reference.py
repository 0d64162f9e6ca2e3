"""Upload the demo's training rows, with the model's outputs on them, as the drift reference."""

from __future__ import annotations

from typing import Any

from modeltel.analyzer.base.store import Store
from modeltel.analyzer.demo.scenario import CATEGORICAL, MODEL_NAME, MODEL_VERSION, Dataset
from modeltel.analyzer.inputs.reference import upload_reference


def upload_training_reference(store: Store, data: Dataset, model: Any) -> int:
    """Store the training rows (features, predicted class, malignancy score); return rows."""
    frame = data.train.copy()
    proba = model.predict_proba(data.train)
    classes = [str(c) for c in model.classes_]
    frame["predicted"] = [classes[int(row.argmax())] for row in proba]
    frame["score"] = proba[:, classes.index("malignant")]
    summary = upload_reference(
        store,
        MODEL_NAME,
        frame,
        version=MODEL_VERSION,
        categorical=list(CATEGORICAL),
        prediction_column="predicted",
        score_column="score",
    )
    return summary.rows
