"""The demo's model server: an ordinary FastAPI app, monitored by one line.

``POST /predict`` takes ``{"rows": [{feature: value, …}, …], "ids": [...]}`` (ids
optional) and answers the diagnosis, the probability of malignancy and the prediction ids
to send the ground truth back with. Everything modeltel needs travels as OpenTelemetry
through whatever providers the process has configured.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from modeltel.analyzer.demo.scenario import MODEL_NAME, MODEL_VERSION
from modeltel.analyzer.demo.telemetry import Telemetry
from modeltel.instrumentation import instrument, last_prediction_ids, prediction_ids


class PredictRequest(BaseModel):
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=1000)
    ids: list[str] | None = None


def _request_telemetry(telemetry: Telemetry) -> dict[str, Any]:
    """FastAPI's own request spans (recent FastAPI versions) through the app's providers."""
    try:
        from fastapi.telemetry import TelemetryConfig
    except ImportError:  # older FastAPI: no built-in request telemetry
        return {}
    config = TelemetryConfig(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        logger_provider=telemetry.logger_provider,
        operation_spans=False,
    )
    return {"telemetry": config}


def create_serving_app(model: Any, features: list[str], telemetry: Telemetry) -> FastAPI:
    """The screening API around a fitted scikit-learn pipeline.

    ``telemetry`` holds the app's OpenTelemetry providers; a real app would let
    ``modeltel.instrumentation.setup()`` install global ones and omit the provider arguments.
    """
    tracer, meter = telemetry.tracer_provider, telemetry.meter_provider
    app = FastAPI(title="breast-cancer screening (modeltel demo)", **_request_telemetry(telemetry))

    # The one line that makes modeltel watch this model:
    model = instrument(model, name=MODEL_NAME, version=MODEL_VERSION, categorical=["clinic"],
                       tracer_provider=tracer, meter_provider=meter)  # fmt: skip

    @app.post("/predict")
    def predict(request: PredictRequest) -> Any:
        frame = pd.DataFrame.from_records(request.rows, columns=features)
        try:
            with prediction_ids(request.ids):
                proba = model.predict_proba(frame)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"detail": f"cannot score these rows: {exc}"}, status_code=422)
        classes = [str(c) for c in model.classes_]
        positive = classes.index("malignant")
        return {
            "prediction_ids": last_prediction_ids(),
            "diagnosis": [classes[int(row.argmax())] for row in proba],
            "malignant_probability": [round(float(row[positive]), 6) for row in proba],
        }

    @app.get("/healthz")
    def healthz() -> Any:
        return {"status": "ok", "model": MODEL_NAME, "version": MODEL_VERSION}

    return app
