"""Reading what a prediction call returned: labels, scores/probabilities or values.

Understood outputs: a scalar, a 1-D array/list/Series (one prediction per row), a 2-D
probability array (``predict_proba``: the label is the most probable class, the score the
probability of the positive class for binary problems and of the predicted class
otherwise), an ``n x 1`` array, a dict (``label``/``score``/``value``/``prediction``) or a
list of such dicts. The task is ``classification`` for labels and probabilities and
``regression`` for float values, unless the monitor was told.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from modeltel.instrumentation import _values as V
from modeltel.instrumentation.attributes import TASK_CLASSIFICATION as CLASSIFICATION
from modeltel.instrumentation.attributes import TASK_REGRESSION as REGRESSION


class Outputs:
    """Predictions of one call: scalars for a single row, lists for a batch."""

    __slots__ = ("count", "labels", "scores", "task", "values")

    def __init__(
        self,
        task: str | None,
        count: int,
        labels: Any = None,
        scores: Any = None,
        values: Any = None,
    ) -> None:
        self.task = task
        self.count = count
        self.labels = labels
        self.scores = scores
        self.values = values


def _to_python(result: Any) -> Any:
    """pandas objects as numpy arrays; anything else unchanged."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(result, (pd.Series, pd.DataFrame)):
        result = result.to_numpy()
    return result


def read(
    result: Any,
    batch: bool,
    task: str | None,
    classes: Sequence[Any] | None = None,
    probabilities: bool = False,
) -> Outputs | None:
    """Predictions in ``result``; ``None`` when its shape is not understood."""
    result = _to_python(result)
    np = sys.modules.get("numpy")
    if np is not None and isinstance(result, np.ndarray):
        return _from_array(result, batch, task, classes, probabilities)
    if isinstance(result, Mapping):
        return _from_dicts([result], batch=False, task=task)
    if isinstance(result, (list, tuple)):
        if result and isinstance(result[0], Mapping):
            return _from_dicts(result, batch=batch or len(result) != 1, task=task)
        first: Any = result[0] if result else None
        ndim: Any = getattr(first, "ndim", None)
        if isinstance(first, (list, tuple)) or (isinstance(ndim, int) and ndim > 0):
            # rows of probabilities; anything else (say a (labels, proba) pair) is not read
            if np is None:
                return None
            try:
                matrix = np.asarray(result)
            except ValueError:
                return None
            if matrix.ndim != 2 or matrix.dtype.kind not in "fiub":
                return None
            return _from_array(matrix, batch, task, classes, probabilities)
        if not batch and len(result) == 1:
            return _single(result[0], task)
        return _per_row(list(result), task, None)
    if result is None or isinstance(result, (str, int, float, bytes)) or hasattr(result, "dtype"):
        return _single(result, task)
    return None


def _single(value: Any, task: str | None) -> Outputs:
    if task is None:
        task = _infer_task([value])
    if task == REGRESSION:
        return Outputs(task, 1, values=V.number(value))
    return Outputs(task, 1, labels=V.text(value))


def _per_row(values: list[Any], task: str | None, kind: str | None) -> Outputs:
    if task is None:
        if kind is None:
            task = _infer_task(values)
        else:
            task = REGRESSION if kind == "f" else CLASSIFICATION
    if task == REGRESSION:
        return Outputs(task, len(values), values=V.float_list(values))
    return Outputs(task, len(values), labels=V.text_list(values))


def _infer_task(values: Sequence[Any]) -> str:
    for v in values:
        if v is None:
            continue
        v = V._unbox(v)
        if isinstance(v, float):
            return REGRESSION
        return CLASSIFICATION
    return CLASSIFICATION


def _from_array(
    array: Any,
    batch: bool,
    task: str | None,
    classes: Sequence[Any] | None,
    probabilities: bool,
) -> Outputs | None:
    ndim = array.ndim
    if ndim == 0:
        return _single(array.item(), task)
    if ndim == 2 and array.shape[1] == 1 and not probabilities:
        array = array[:, 0]
        ndim = 1
    if ndim == 1:
        if not batch and array.shape[0] == 1:
            return _single(array[0].item() if hasattr(array[0], "item") else array[0], task)
        kind = array.dtype.kind
        if kind == "f" and task != CLASSIFICATION:
            return Outputs(task or REGRESSION, array.shape[0], values=V.array_float_list(array))
        if kind in "iu" and task != REGRESSION:  # integer class labels: the fast path
            return Outputs(CLASSIFICATION, array.shape[0], labels=list(map(str, array.tolist())))
        return _per_row(array.tolist(), task, kind if kind in "fiub" else None)
    if ndim == 2 and array.dtype.kind in "fiu" and task != REGRESSION:
        return _from_probabilities(array, batch, classes)
    return None


def _from_probabilities(proba: Any, batch: bool, classes: Sequence[Any] | None) -> Outputs:
    np = sys.modules["numpy"]
    count, width = proba.shape
    proba = proba.astype(np.float64, copy=False)
    best = proba.argmax(axis=1) if count else np.zeros(0, dtype=np.int64)
    if classes is not None and len(classes) == width:
        labels = V.text_list(np.asarray(classes, dtype=object)[best].tolist())
    else:
        labels = [str(i) for i in best.tolist()]
    if width == 2:
        scores = V.array_float_list(proba[:, 1])
    else:
        scores = V.array_float_list(proba[np.arange(count), best])
    # Rows whose probabilities are all NaN have no prediction.
    if count:
        empty = np.flatnonzero(np.isnan(proba).all(axis=1)).tolist()
        for i in empty:
            labels[i] = None
    if not batch and count == 1:
        return Outputs(CLASSIFICATION, 1, labels=labels[0], scores=scores[0])
    return Outputs(CLASSIFICATION, count, labels=labels, scores=scores)


def score_of_predicted(labels: Any, proba: Any, classes: Sequence[Any] | None, batch: bool) -> Any:
    """Scores for ``labels`` read from a ``predict_proba`` result (``None`` if unusable)."""
    np = sys.modules.get("numpy")
    if np is None:
        return None
    proba = np.asarray(_to_python(proba), dtype=np.float64)
    if proba.ndim != 2:
        return None
    count, width = proba.shape
    if width == 2:
        scores = V.array_float_list(proba[:, 1])
    else:
        if classes is None or len(classes) != width:
            return None
        index = {V.text(c): j for j, c in enumerate(classes)}
        row_labels = labels if isinstance(labels, list) else [labels]
        if len(row_labels) != count:
            return None
        scores = []
        for i, label in enumerate(row_labels):
            j = index.get(label)
            value = None if j is None else float(proba[i, j])
            scores.append(None if value is None or value != value else value)
    if not batch:
        return scores[0] if len(scores) == 1 else None
    return scores if len(scores) == count else None


def _from_dicts(records: Sequence[Mapping[Any, Any]], batch: bool, task: str | None) -> Outputs:
    labels: list[Any] = []
    scores: list[Any] = []
    values: list[Any] = []
    for record in records:
        label = record.get("label")
        value = record.get("value")
        prediction = record.get("prediction")
        if prediction is not None:
            if task == REGRESSION or (task is None and _infer_task([prediction]) == REGRESSION):
                value = prediction if value is None else value
            else:
                label = prediction if label is None else label
        labels.append(label)
        values.append(value)
        scores.append(record.get("score", record.get("probability")))
    has_labels = any(v is not None for v in labels)
    has_values = any(v is not None for v in values)
    if task is None:
        task = REGRESSION if has_values and not has_labels else CLASSIFICATION
    out_labels = V.text_list(labels) if has_labels else None
    out_values = V.float_list(values) if has_values else None
    out_scores = V.float_list(scores) if any(s is not None for s in scores) else None
    if not batch:
        return Outputs(
            task,
            1,
            labels=out_labels[0] if out_labels else None,
            scores=out_scores[0] if out_scores else None,
            values=out_values[0] if out_values else None,
        )
    return Outputs(task, len(records), labels=out_labels, scores=out_scores, values=out_values)
