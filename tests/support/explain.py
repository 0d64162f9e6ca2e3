"""The explain tests' data: two hours of labelled predictions of a classifier planted with numpy
(the hour before, then the hour after), with a known cause of the accuracy's change.

Causes:

- ``flip``: after, the labels of ``clinic=east`` disagree with the predictions far more often;
- ``mix``: ``clinic=east`` is always right half the time and the other clinics 90 %, and its
  share of the traffic grows from 10 % to 45 %;
- ``none``: both hours come from the same process;
- ``age_east``: after, the ages of ``clinic=east`` move from 20–80 to 65–105 (the drift of
  ``age`` is confined to one clinic), every other distribution unchanged;
- ``age_mix``: ``clinic=east`` always has ages 60–90 and the others 20–80, and its share of the
  traffic grows from 10 % to 45 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.inputs.labels import upload_labels
from support.drift import write_production

MODEL = "triage"
T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)
BEFORE = Window(T0, T0 + timedelta(hours=1))
AFTER = Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2))
CLINICS = np.array(["east", "west", "north", "south"])


@dataclass
class Hour:
    """One hour's planted rows: every feature, the prediction, the truth (None: no label)."""

    frame: pd.DataFrame

    def accuracy(self, mask: np.ndarray | None = None) -> float:
        f = self.frame if mask is None else self.frame[mask]
        f = f[f.truth.notna()]
        return float((f.prediction == f.truth).mean())


def _hour(
    store,
    rng: np.random.Generator,
    start: datetime,
    n: int,
    east_share: float,
    east_right: float,
    east_ages: tuple[float, float] = (20, 80),
) -> Hour:
    east = rng.random(n) < east_share
    clinic = np.where(east, "east", rng.choice(CLINICS[1:], n))
    gender = rng.choice(["f", "m"], n)
    age = rng.uniform(20, 80, n)
    if east_ages != (20, 80):
        age = np.where(east, rng.uniform(*east_ages, n), age)
    dose = rng.normal(5.0, 1.0, n)
    prediction = rng.choice(["urgent", "routine"], n)
    right = rng.random(n) < np.where(east, east_right, 0.9)
    truth = np.where(right, prediction, np.where(prediction == "urgent", "routine", "urgent"))
    labelled = rng.random(n) < 0.8
    prefix = f"{start:%H}-"
    ids = write_production(
        store,
        MODEL,
        "1",
        {"clinic": clinic.tolist(), "gender": gender.tolist(), "age": age, "dose": dose},
        categorical=["clinic", "gender"],
        labels=prediction.tolist(),
        start=start,
        step=timedelta(seconds=3600 / n),
        id_prefix=prefix,
    )
    ids_arr = np.array(ids)
    upload_labels(
        store,
        MODEL,
        pd.DataFrame({"prediction_id": ids_arr[labelled], "label": truth[labelled]}),
    )
    frame = pd.DataFrame(
        {
            "clinic": clinic,
            "gender": gender,
            "age": age,
            "dose": dose,
            "prediction": prediction,
            "truth": np.where(labelled, truth, None),
        }
    )
    return Hour(frame)


def plant(store, cause: str, seed: int = 7, n: int = 3000) -> tuple[Hour, Hour]:
    """The hour before and the hour after, planted with ``cause``."""
    rng = np.random.default_rng(seed)
    if cause == "flip":
        return _hour(store, rng, BEFORE.start, n, 0.25, 0.9), _hour(
            store, rng, AFTER.start, n, 0.25, 0.3
        )
    if cause == "mix":
        return _hour(store, rng, BEFORE.start, n, 0.1, 0.5), _hour(
            store, rng, AFTER.start, n, 0.45, 0.5
        )
    if cause == "none":
        return _hour(store, rng, BEFORE.start, n, 0.25, 0.9), _hour(
            store, rng, AFTER.start, n, 0.25, 0.9
        )
    if cause == "age_east":
        return _hour(store, rng, BEFORE.start, n, 0.25, 0.9), _hour(
            store, rng, AFTER.start, n, 0.25, 0.9, east_ages=(65, 105)
        )
    if cause == "age_mix":
        return _hour(store, rng, BEFORE.start, n, 0.1, 0.9, (60, 90)), _hour(
            store, rng, AFTER.start, n, 0.45, 0.9, (60, 90)
        )
    raise ValueError(cause)
