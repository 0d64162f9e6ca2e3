"""A scikit-learn model served with FastAPI and monitored by modeltel.

The monitoring is the one ``instrument(...)`` line in :func:`create_app`; ``setup()`` in
:func:`build` configures OTLP export from the standard ``OTEL_*`` variables (skip it when
the app runs under ``opentelemetry-instrument`` or configures OTel itself).

Run it against ``modeltel serve`` (OTLP on http://localhost:4318)::

    OTEL_SERVICE_NAME=churn-api uvicorn --factory examples.churn_service:build --port 8000
    curl -s localhost:8000/predict -H 'content-type: application/json' \\
        -d '{"tenure_months": 3, "monthly_charges": 89.5, "support_calls": 4, "plan": "basic"}'
    curl -s localhost:8000/labels -H 'content-type: application/json' \\
        -d '{"prediction_ids": ["<id from above>"], "labels": ["yes"]}'

Each prediction answer carries its ``prediction_id``; the ground truth arriving later is
posted to ``/labels`` with those ids and lands in ``ml_labels``, joined to the prediction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modeltel.instrumentation import instrument, last_prediction_ids, log_labels, setup

MODEL_NAME = "churn"
MODEL_VERSION = "1"
NUMERIC = ["tenure_months", "monthly_charges", "support_calls"]
CATEGORICAL = ["plan"]


class Customer(BaseModel):
    tenure_months: float | None = Field(default=None, examples=[3])
    monthly_charges: float | None = Field(default=None, examples=[89.5])
    support_calls: float | None = Field(default=None, examples=[4])
    plan: str | None = Field(default=None, examples=["basic"])


class Prediction(BaseModel):
    prediction_id: str | None
    label: str
    score: float


class Labels(BaseModel):
    prediction_ids: list[str]
    labels: list[str]


def training_data(rows: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Synthetic customers (label ``yes`` = churned): short tenure, high charges and many
    support calls churn."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure_months": rng.integers(1, 72, rows).astype(float),
            "monthly_charges": rng.normal(65, 20, rows).round(2),
            "support_calls": rng.poisson(1.5, rows).astype(float),
            "plan": rng.choice(["basic", "standard", "premium"], rows, p=[0.5, 0.3, 0.2]),
        }
    )
    logit = (
        -0.06 * frame["tenure_months"]
        + 0.03 * (frame["monthly_charges"] - 65)
        + 0.6 * frame["support_calls"]
        - 0.8 * (frame["plan"] == "premium")
    )
    churn = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return frame, np.where(churn, "yes", "no")


def train_model() -> Pipeline:
    frame, target = training_data()
    # support_calls may be missing (imputed); the other numbers are required.
    calls = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    prep = ColumnTransformer(
        [
            ("calls", calls, ["support_calls"]),
            ("num", StandardScaler(), ["tenure_months", "monthly_charges"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
    model = Pipeline([("prep", prep), ("classify", LogisticRegression(max_iter=500))])
    return model.fit(frame, target)


def create_app(model: Pipeline | None = None, **telemetry: Any) -> FastAPI:
    """The service. ``telemetry`` may pass ``tracer_provider``/``meter_provider``/
    ``logger_provider`` (tests do); by default the global providers are used."""
    logger_provider = telemetry.pop("logger_provider", None)
    model = model if model is not None else train_model()
    # The one line that monitors every prediction of the model:
    instrument(model, name=MODEL_NAME, version=MODEL_VERSION, **telemetry)

    app = FastAPI(title="churn")
    positive = list(model.classes_).index("yes")  # score: probability of churning

    def predict_frame(frame: pd.DataFrame) -> tuple[np.ndarray, list[str | None]]:
        try:
            proba = model.predict_proba(frame[NUMERIC + CATEGORICAL])
        except ValueError as exc:  # recorded as a failed prediction, answered 422
            raise HTTPException(status_code=422, detail=f"cannot predict: {exc}") from exc
        return proba, last_prediction_ids()

    def answer(proba: np.ndarray, ids: list[str | None], i: int) -> Prediction:
        best = int(proba[i].argmax())
        return Prediction(
            prediction_id=ids[i] if i < len(ids) else None,
            label=str(model.classes_[best]),
            score=float(proba[i, positive]),
        )

    @app.post("/predict")
    def predict(customer: Customer) -> Prediction:
        proba, ids = predict_frame(pd.DataFrame([customer.model_dump()]))
        return answer(proba, ids, 0)

    @app.post("/predict/batch")
    def predict_batch(customers: list[Customer]) -> list[Prediction]:
        if not customers:
            return []
        proba, ids = predict_frame(pd.DataFrame([c.model_dump() for c in customers]))
        return [answer(proba, ids, i) for i in range(len(customers))]

    @app.post("/labels")
    def labels(body: Labels) -> dict[str, int]:
        if len(body.prediction_ids) != len(body.labels):
            raise HTTPException(status_code=422, detail="one label per prediction id")
        sent = log_labels(
            MODEL_NAME, body.prediction_ids, body.labels, logger_provider=logger_provider
        )
        return {"sent": sent}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def build() -> FastAPI:
    """Entry point for ``uvicorn --factory examples.churn_service:build``."""
    setup()
    return create_app()


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(build(), host="127.0.0.1", port=8000)
