"""Generated prediction traffic for the live dashboard test, sent as OTLP spans and label log
records through the OTel SDK into modeltel's receiver.

``churn`` v1 (classification; age, income, tenure, calls numeric, plan categorical): five
calm hours like its reference, then an hour with everything wrong at once — three times the
usual volume, age/income/tenure shifted, a new plan ``trial``, missing calls, ``n/a`` incomes,
10 % failed calls, slow calls, unsure scores, few and often contradicting labels (plus labels
for ids never predicted), and a model that now leans on ``calls`` instead of ``age`` (its
feature attributions, ``ml.attribution.*``, rank the features the other way round).
``fraud`` v2: calm hours, then a trickle that stops 40 minutes ago.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

from modeltel.analyzer.base.store import Store
from modeltel.analyzer.inputs.reference import upload_reference
from modeltel.instrumentation import log_labels

NUMERIC = ("age", "income", "tenure", "calls")
CATEGORICAL = ("plan",)
PLANS = ("basic", "standard", "premium")
# Attributions of a linear model: weight × standardised value (mean, std of the calm traffic).
SCALES = {"age": (40.0, 10.0), "income": (50_000.0, 12_000.0), "tenure": (36.0, 20.0)}
SCALES["calls"] = (1.5, 1.2)
CALM_WEIGHTS = {"age": 1.0, "income": 0.6, "tenure": 0.3, "calls": 0.1}
TROUBLED_WEIGHTS = {"age": 0.05, "income": 0.3, "tenure": 0.6, "calls": 1.0}


@dataclass
class Row:
    features: dict[str, object]
    label: str
    score: float
    attributions: dict[str, float] = field(default_factory=dict)


def explain(row: Row, weights: dict[str, float]) -> Row:
    for name, weight in weights.items():
        value = row.features.get(name)
        if isinstance(value, float):
            mean, std = SCALES[name]
            row.attributions[name] = weight * (value - mean) / std
    return row


@dataclass
class Scenario:
    now: datetime
    sent: dict[str, int] = field(default_factory=dict)


def calm_row(rng: np.random.Generator) -> Row:
    features: dict[str, object] = {
        "age": float(rng.normal(40, 10)),
        "income": float(rng.normal(50_000, 12_000)),
        "tenure": float(rng.integers(1, 72)),
        "calls": float(rng.poisson(1.5)),
        "plan": str(rng.choice(PLANS, p=[0.5, 0.3, 0.2])),
    }
    churn = rng.random() < 0.3
    score = float(rng.uniform(0.85, 0.99) if churn else rng.uniform(0.01, 0.15))
    return explain(Row(features, "yes" if churn else "no", score), CALM_WEIGHTS)


def troubled_row(rng: np.random.Generator) -> Row:
    features: dict[str, object] = {
        "age": float(rng.normal(58, 10)),
        "income": float(rng.normal(80_000, 15_000)),
        "tenure": float(rng.integers(1, 12)),
        "calls": float(rng.poisson(1.5)),
        "plan": str(rng.choice((*PLANS, "trial"), p=[0.3, 0.2, 0.1, 0.4])),
    }
    if rng.random() < 0.2:
        del features["calls"]  # missing
    if rng.random() < 0.05:
        features["income"] = "n/a"  # wrong type
    score = float(rng.uniform(0.35, 0.75))
    return explain(Row(features, "yes" if score >= 0.5 else "no", score), TROUBLED_WEIGHTS)


def upload_calm_reference(store: Store, model: str, version: str, rows: int, seed: int) -> None:
    """The model's training distribution (the calm traffic's), with its predictions."""
    rng = np.random.default_rng(seed)
    sample = [calm_row(rng) for _ in range(rows)]
    frame = pd.DataFrame([r.features for r in sample])
    frame["label"] = ["yes" if r.score >= 0.5 else "no" for r in sample]
    frame["score"] = [r.score for r in sample]
    upload_reference(
        store,
        model,
        frame,
        version=version,
        categorical=list(CATEGORICAL),
        prediction_column="label",
        score_column="score",
    )


class Sender:
    """OTLP/HTTP span and log exporters pointed at a receiver."""

    def __init__(self, url: str) -> None:
        resource = Resource.create({"service.name": "live-test-app"})
        self.traces = TracerProvider(resource=resource)
        self.traces.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(endpoint=f"{url}/v1/traces"), max_export_batch_size=256
            )
        )
        self.logs = LoggerProvider(resource=resource)
        self.logs.add_log_record_processor(
            BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{url}/v1/logs"))
        )
        self.tracer = self.traces.get_tracer("live-traffic")

    def predict(
        self,
        model: str,
        version: str,
        at: datetime,
        latency_s: float,
        rows: list[Row],
        ids: list[str],
        *,
        failed: bool = False,
    ) -> None:
        start = int(at.timestamp() * 1e9)
        attributes: dict[str, object] = {
            "ml.model.name": model,
            "ml.model.version": version,
            "ml.task": "classification",
            "ml.feature.categorical": list(CATEGORICAL),
        }
        if len(rows) == 1:
            row = rows[0]
            attributes["ml.prediction.id"] = ids[0]
            for name, value in row.features.items():
                attributes[f"ml.feature.{name}"] = value
            if not failed:
                attributes["ml.prediction.label"] = "yes" if row.score >= 0.5 else "no"
                attributes["ml.prediction.score"] = row.score
                for name, value in row.attributions.items():
                    attributes[f"ml.attribution.{name}"] = value
        else:  # a batch span: one array element per row
            attributes["ml.prediction.id"] = ids
            attributes["ml.batch.size"] = len(rows)
            for name in (*NUMERIC, *CATEGORICAL):
                attributes[f"ml.feature.{name}"] = [r.features[name] for r in rows]
            attributes["ml.prediction.label"] = ["yes" if r.score >= 0.5 else "no" for r in rows]
            attributes["ml.prediction.score"] = [r.score for r in rows]
            for name in NUMERIC:
                attributes[f"ml.attribution.{name}"] = [r.attributions.get(name) for r in rows]
        span = self.tracer.start_span(f"predict {model}", start_time=start, attributes=attributes)
        if failed:
            span.set_status(Status(StatusCode.ERROR, "model raised"))
        span.end(end_time=start + int(latency_s * 1e9))

    def labels(self, model: str, ids: list[str], labels: list[str], at: datetime) -> None:
        log_labels(model, ids, labels, timestamp=at, logger_provider=self.logs)

    def close(self) -> None:
        self.traces.force_flush()
        self.logs.force_flush()
        self.traces.shutdown()
        self.logs.shutdown()


def send_scenario(url: str, now: datetime, seed: int = 3) -> Scenario:
    """Send the whole scenario; return once the exporters have flushed."""
    rng = np.random.default_rng(seed)
    sender = Sender(url)
    scenario = Scenario(now=now)
    counter = 0

    def next_ids(n: int, model: str) -> list[str]:
        nonlocal counter
        counter += n
        return [f"{model}-{counter - n + i}" for i in range(n)]

    try:
        for model, version in (("churn", "1"), ("fraud", "2")):
            # five calm hours: 120 predictions an hour, labelled 30 minutes later, 90 % right
            for hour in range(6, 1, -1):
                for _ in range(24):  # 24 calls of 5 rows: singles and batches
                    at = (
                        now - timedelta(hours=hour) + timedelta(seconds=float(rng.uniform(0, 3500)))
                    )
                    rows = [calm_row(rng) for _ in range(5)]
                    ids = next_ids(5, model)
                    if rng.random() < 0.5:
                        sender.predict(model, version, at, 0.05, rows, ids)
                    else:
                        for row, pid in zip(rows, ids, strict=True):
                            sender.predict(
                                model, version, at, float(rng.uniform(0.01, 0.08)), [row], [pid]
                            )
                    truth = [
                        r.label if rng.random() < 0.9 else ("no" if r.label == "yes" else "yes")
                        for r in rows
                    ]
                    sender.labels(model, ids, truth, at + timedelta(minutes=30))
                    scenario.sent[model] = scenario.sent.get(model, 0) + 5
        # churn's bad hour: 360 single predictions
        for _ in range(360):
            at = now - timedelta(minutes=float(rng.uniform(3, 55)))
            row = troubled_row(rng)
            (pid,) = next_ids(1, "churn")
            slow = rng.random() < 0.1
            latency = float(rng.uniform(0.8, 1.2) if slow else rng.uniform(0.01, 0.08))
            failed = rng.random() < 0.1
            sender.predict("churn", "1", at, latency, [row], [pid], failed=failed)
            if not failed and rng.random() < 0.3:
                truth = row.label if rng.random() < 0.4 else ("no" if row.label == "yes" else "yes")
                sender.labels("churn", [pid], [truth], at + timedelta(minutes=1))
            scenario.sent["churn"] += 1
        sender.labels(
            "churn",
            ["never-predicted-1", "never-predicted-2"],
            ["yes", "no"],
            now - timedelta(minutes=3),
        )
        # a model whose analysis will fail
        for minute in range(20, 10, -1):
            (pid,) = next_ids(1, "broken")
            sender.predict(
                "broken", "1", now - timedelta(minutes=minute), 0.03, [calm_row(rng)], [pid]
            )
        # fraud's trickle, ending 40 minutes ago
        for minute in range(50, 40, -1):
            (pid,) = next_ids(1, "fraud")
            sender.predict(
                "fraud", "2", now - timedelta(minutes=minute), 0.03, [calm_row(rng)], [pid]
            )
            scenario.sent["fraud"] += 1
    finally:
        sender.close()
    return scenario


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
