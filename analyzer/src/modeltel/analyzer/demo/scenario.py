"""The demo's model and its story: a breast-cancer screening classifier meets drifting data.

The data is scikit-learn's bundled Wisconsin breast-cancer set (no download), plus a
``clinic`` column saying where a sample came from. The model is a real scikit-learn
pipeline (impute → scale / one-hot → logistic regression) trained on 70 % of the rows; the
training rows become the drift reference, the held-out rows feed production traffic
(resampled with a little noise). What happens, all seeded:

- days 1 … D−3: production looks like training;
- from day D−2: a new scanner calibration inflates ``mean_radius``, ``worst_area``,
  ``mean_texture`` and ``mean_concavity`` (growing to +1.8 σ), and a new clinic ``east``
  starts sending samples — accuracy drops because benign samples now look malignant;
- the last 2 days: an upstream bug drops ``mean_smoothness`` from 20 % of the rows;
- the last day: some clients send ``"n/a"`` for ``mean_symmetry`` and the model call fails;
- labels (biopsy results) arrive 1–36 hours after the prediction; about 8 % never do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

MODEL_NAME = "breast-cancer"
MODEL_VERSION = "1"
CATEGORICAL = ("clinic",)
CLINICS = ("north", "south", "west")
NEW_CLINIC = "east"
DRIFTED = ("mean_radius", "worst_area", "mean_texture", "mean_concavity")
DRIFT_SIGMA = 1.8
MISSING_FEATURE = "mean_smoothness"
MISSING_SHARE = 0.2
BROKEN_FEATURE = "mean_symmetry"
BROKEN_SHARE = 0.05
NEVER_LABELLED = 0.08

CONFIG: dict[str, Any] = {
    "performance": {
        "positive_class": "malignant",
        "thresholds": {"accuracy": 0.9, "f1": 0.85, "roc_auc": 0.9},
        "min_label_coverage": 0.5,
    },
    "service": {"thresholds": {"latency_p99": 0.25, "error_ratio": 0.02}},
    "retrain": {
        "rules": [
            {"drifted_features": 3},
            {"metric": "accuracy", "below": 0.9, "windows": 2, "source": "realized"},
        ]
    },
}
"""The demo's analysis configuration (written to ``modeltel.yaml`` in the data folder):
performance thresholds for a screening model, a tighter error budget, and a retrain policy."""


@dataclass
class Dataset:
    """Training rows (the reference), held-out rows (production pool) and their truth."""

    features: list[str]
    train: pd.DataFrame
    train_labels: pd.Series
    pool: pd.DataFrame
    pool_labels: pd.Series
    scale: pd.Series


def load_dataset(seed: int) -> Dataset:
    """The bundled breast-cancer data with snake_case names and a ``clinic`` column."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    raw = load_breast_cancer(as_frame=True)
    frame = raw.data.rename(columns=lambda c: c.replace(" ", "_"))
    rng = np.random.default_rng(seed)
    frame["clinic"] = rng.choice(CLINICS, size=len(frame), p=[0.5, 0.3, 0.2])
    labels = pd.Series(np.where(raw.target == 1, "benign", "malignant"), name="diagnosis")
    x_train, x_pool, y_train, y_pool = train_test_split(
        frame, labels, test_size=0.3, random_state=seed, stratify=labels
    )
    numeric = [c for c in frame.columns if c not in CATEGORICAL]
    return Dataset(
        features=list(frame.columns),
        train=x_train.reset_index(drop=True),
        train_labels=y_train.reset_index(drop=True),
        pool=x_pool.reset_index(drop=True),
        pool_labels=y_pool.reset_index(drop=True),
        scale=x_train[numeric].std(),
    )


def train_model(data: Dataset, seed: int) -> Any:
    """A fitted pipeline: median-impute and scale numbers, one-hot the clinic, logistic
    regression on top."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [c for c in data.features if c not in CATEGORICAL]
    prepare = ColumnTransformer(
        [
            ("num", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL)),
        ]
    )
    model = Pipeline(
        [("prepare", prepare), ("classify", LogisticRegression(max_iter=2000, random_state=seed))]
    )
    model.fit(data.train, data.train_labels)
    return model


@dataclass(frozen=True)
class Day:
    """What production looks like on one simulated day."""

    index: int
    drift: float  # 0 … 1: share of DRIFT_SIGMA applied to the drifted features
    new_clinic: float  # share of rows from the new clinic
    missing: float  # share of rows without MISSING_FEATURE
    broken: float  # share of requests sending text for BROKEN_FEATURE


def schedule(days: int) -> list[Day]:
    """The story, day by day (``days`` ≥ 3)."""
    out = []
    for i in range(days):
        from_end = days - 1 - i  # 0 on the last day
        drift = {2: 0.5, 1: 0.8, 0: 1.0}.get(from_end, 0.0)
        out.append(
            Day(
                index=i,
                drift=drift,
                new_clinic=0.25 * drift,
                missing=MISSING_SHARE if from_end <= 1 else 0.0,
                broken=BROKEN_SHARE if from_end == 0 else 0.0,
            )
        )
    return out


def production_rows(
    data: Dataset, day: Day, count: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.Series]:
    """``count`` production rows for ``day`` and their true diagnosis."""
    picks = rng.integers(0, len(data.pool), size=count)
    rows = data.pool.iloc[picks].reset_index(drop=True).copy()
    truth = data.pool_labels.iloc[picks].reset_index(drop=True)
    numeric = [c for c in data.features if c not in CATEGORICAL]
    noise = rng.normal(0.0, 0.08, size=(count, len(numeric))) * data.scale[numeric].to_numpy()
    values = rows[numeric].to_numpy() + noise
    rows[numeric] = np.maximum(values, 0.0)
    if day.drift > 0:
        for feature in DRIFTED:
            rows[feature] = rows[feature] + DRIFT_SIGMA * day.drift * data.scale[feature]
        new = rng.random(count) < day.new_clinic
        rows.loc[new, "clinic"] = NEW_CLINIC
    if day.missing > 0:
        rows[MISSING_FEATURE] = rows[MISSING_FEATURE].astype(object)
        rows.loc[rng.random(count) < day.missing, MISSING_FEATURE] = None
    return rows, truth


def hourly_requests(hour: int, base: float) -> float:
    """Expected requests in an hour of the day: busy afternoons, quiet nights."""
    return base * (0.5 + 0.5 * (1 + np.sin((hour - 9) / 24 * 2 * np.pi)) / 2)


def label_delay(rng: np.random.Generator) -> timedelta | None:
    """How long a biopsy result takes (None: it never arrives)."""
    if rng.random() < NEVER_LABELLED:
        return None
    hours = float(np.clip(rng.lognormal(np.log(6.0), 0.7), 1.0, 36.0))
    return timedelta(hours=hours)


def describe(days: int, start: datetime) -> list[str]:
    """The story in sentences, with dates."""
    plan = schedule(days)
    drift_day = next(d for d in plan if d.drift > 0)
    missing_day = next(d for d in plan if d.missing > 0)
    broken_day = next(d for d in plan if d.broken > 0)

    def on(day: Day) -> str:
        return (start + timedelta(days=day.index)).strftime("%b %d %H:%M")

    return [
        f"from {on(drift_day)}: {', '.join(DRIFTED)} drift upwards (to +{DRIFT_SIGMA} σ) and "
        f"a new clinic '{NEW_CLINIC}' appears",
        f"from {on(missing_day)}: {MISSING_FEATURE} goes missing in "
        f"{MISSING_SHARE:.0%} of the rows",
        f"on {on(broken_day)}: {BROKEN_SHARE:.0%} of the requests send '{BROKEN_FEATURE}': "
        "'n/a' and fail",
        f"labels arrive 1–36 h late; {NEVER_LABELLED:.0%} never arrive",
    ]
