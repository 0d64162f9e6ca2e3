"""The CLI's backends answer alike: one store read directly (``LocalBackend``) and through a
running ``modeltel serve`` (``ServerBackend``) gives the same models, rows, drift and outliers,
takes uploads either way, and fails with the same modeltel errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from modeltel.analyzer.base.errors import InputError, NotFoundError, QueryError
from modeltel.analyzer.cli.backend import DriftQuery, OutlierQuery
from modeltel.analyzer.cli.local import LocalBackend
from modeltel.analyzer.cli.remote import ServerBackend
from modeltel.instrumentation import last_prediction_ids, monitor


@pytest.fixture
def backends(server, store_url: str, tmp_path: Path) -> tuple[LocalBackend, ServerBackend]:
    """200 predictions of model ``seam`` sent to the server; both backends on its store."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(server.url + "/v1/traces")))
    predict = monitor(
        lambda frame: (frame["age"] > 40).astype(int).to_numpy(),
        name="seam",
        version="1",
        tracer_provider=provider,
    )
    rng = np.random.default_rng(5)
    ids: list[str | None] = []
    for _ in range(4):
        predict(pd.DataFrame({"age": rng.normal(50, 10, 50), "plan": rng.choice(["a", "b"], 50)}))
        ids += last_prediction_ids()
    provider.shutdown()
    pd.DataFrame({"age": rng.normal(30, 10, 300), "plan": rng.choice(["a", "b", "c"], 300)}).to_csv(
        tmp_path / "train.csv", index=False
    )
    pd.DataFrame({"prediction_id": ids[:100], "label": [1] * 100}).to_csv(
        tmp_path / "labels.csv", index=False
    )
    return LocalBackend(store_url, server.store.database), ServerBackend(server.url, None)


def test_both_backends_store_and_answer_alike(backends, tmp_path: Path) -> None:
    local, remote = backends
    stored = remote.upload("reference", "seam", tmp_path / "train.csv", {"version": "1"})
    assert stored["rows"] == 300
    assert stored["features"] == {"age": "numerical", "plan": "categorical"}
    sent = local.upload("labels", "seam", tmp_path / "labels.csv", {"format": None})
    assert (sent["stored"], sent["unknown_ids"]) == (100, 0)

    models = local.models()
    assert models == remote.models()
    assert [(m["model"], m["predictions"], m["labels"]) for m in models] == [("seam", 200, 100)]

    query = "SELECT feature, count() AS n FROM ml_features GROUP BY feature ORDER BY feature"
    for rows in (
        local.sql(query, max_rows=1, timeout_s=30),
        remote.sql(query, max_rows=1, timeout_s=30),
    ):
        assert rows.columns == ["feature", "n"]
        assert [list(r) for r in rows.rows] == [["age", 200]]
        assert rows.truncated and rows.max_rows == 1

    drift = DriftQuery("seam", "1", window="1h", methods=["psi"], write=False)
    here, there = local.drift(drift), remote.drift(drift)
    key = ("feature", "method", "value", "status", "reference_size", "current_size")
    assert [[r[k] for k in key] for r in here] == [[r[k] for k in key] for r in there]
    assert {(r["feature"], r["status"]) for r in here if r["feature"] == "age"} == {
        ("age", "drift")
    }

    outliers = OutlierQuery("seam", "1", window="1h", limit=5)
    assert local.outliers(outliers) == remote.outliers(outliers)


def test_both_backends_fail_alike(backends, tmp_path: Path) -> None:
    local, remote = backends
    for backend in (local, remote):
        with pytest.raises(NotFoundError):
            backend.outliers(OutlierQuery("nobody", window="1h"))
        with pytest.raises(QueryError, match="read-only"):
            backend.sql("DROP TABLE ml_results", max_rows=10, timeout_s=10)
        with pytest.raises(InputError, match="label"):
            backend.upload("labels", "seam", tmp_path / "train.csv", {"format": None})
