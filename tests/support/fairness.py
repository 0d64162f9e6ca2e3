"""The fairness page and report tests' data: two days of labelled loan decisions planted with
numpy (a fair day, then one where group ``f`` is approved at about half ``m``'s rate, plus a
group ``x`` too small to judge), analysed by the real custom (per gender too) and fairness
analyses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from modeltel.analyzer.inputs.labels import upload_labels
from modeltel.analyzer.orchestration.analyzer import Analyzer
from support.drift import write_production

MODEL = "loans"
DAY0 = datetime(2026, 3, 2, tzinfo=UTC)
N = 400
MIN_GROUP = 30
AGE_BINS = [0, 30, 50, 120]
CONFIG = {
    "custom_metrics": {
        "approval_rate": {
            "sql": "avg(prediction_label = 'approve')",
            "thresholds": {"min": 0.3},
            "description": "share of applications approved",
        },
        "mean_amount": {"sql": "avg(feature('amount'))"},
        "segment_by": "gender",
    },
    "fairness": {
        "protected": ["gender", "age"],
        "bins": {"age": AGE_BINS},
        "favorable": "approve",
        "reference_group": {"gender": "m"},
        "min_group_size": MIN_GROUP,
    },
}


@dataclass
class Day:
    """One day's planted predictions: each protected attribute's group per prediction, the
    decision (approve?), the truth (approve?) and the amount."""

    groups: dict[str, np.ndarray]
    approve: np.ndarray
    truth: np.ndarray
    amount: np.ndarray

    def group_rates(self, attribute: str, group: str) -> dict[str, float]:
        """A group's size, selection rate, TPR, FPR and accuracy."""
        g = self.groups[attribute] == group
        return {
            "n": int(g.sum()),
            "selection_rate": self.approve[g].mean(),
            "true_positive_rate": self.approve[g & self.truth].mean(),
            "false_positive_rate": self.approve[g & ~self.truth].mean(),
            "accuracy": (self.approve == self.truth)[g].mean(),
        }

    def rates(self, attribute: str) -> dict[str, dict[str, float]]:
        """The rates of every kept group (at least MIN_GROUP predictions)."""
        out = {}
        for group in np.unique(self.groups[attribute]):
            rates = self.group_rates(attribute, str(group))
            if rates["n"] >= MIN_GROUP:
                out[str(group)] = rates
        return out


def plant(store, rng: np.random.Generator, day: int, rate_f: float, rate_m: float) -> Day:
    """N labelled predictions on ``DAY0 + day``; 10 of a group too small to judge (``x``)."""
    gender = rng.choice(["f", "m"], N)
    gender[:10] = "x"
    age = rng.uniform(18, 90, N)
    approve = rng.random(N) < np.where(gender == "f", rate_f, rate_m)
    truth = np.where(rng.random(N) < 0.8, approve, ~approve)
    amount = rng.gamma(2.0, 40.0, N)
    ids = write_production(
        store,
        MODEL,
        "1",
        {"gender": gender.tolist(), "age": age.tolist(), "amount": amount},
        categorical=["gender"],
        labels=np.where(approve, "approve", "deny").tolist(),
        start=DAY0 + timedelta(days=day, minutes=1),
        step=timedelta(minutes=3),
        id_prefix=f"d{day}-",
    )
    labels = pd.DataFrame({"prediction_id": ids, "label": np.where(truth, "approve", "deny")})
    upload_labels(store, MODEL, labels)
    names = np.array(["[0, 30)", "[30, 50)", "[50, 120]"])
    groups = {"gender": gender, "age": names[np.digitize(age, AGE_BINS[1:-1])]}
    return Day(groups, approve, truth, amount)


def plant_and_analyse(store, seed: int) -> list[Day]:
    """The two days, then both analyses over them (daily windows, stored)."""
    rng = np.random.default_rng(seed)
    days = [plant(store, rng, 0, 0.55, 0.55), plant(store, rng, 1, 0.12, 0.28)]
    analyzer = Analyzer(store, CONFIG)
    for kind in ("custom", "fairness"):
        analyzer.run(kind, MODEL, start=DAY0, end=DAY0 + timedelta(days=2), window="1d")
    return days
