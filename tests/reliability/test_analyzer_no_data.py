"""The analyzer on thin data: a model with no reference, no labels, an empty window, a feature
that vanished from production, a model nobody has heard of. Results say so (status
``no_data`` with a reason) or a clear NotFoundError names what is missing; nothing crashes,
through the Python API, the HTTP API and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pandas as pd
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from modeltel.analyzer.base.errors import NotFoundError
from modeltel.analyzer.ingest.pipeline import IngestPipeline
from modeltel.analyzer.inputs.reference import upload_reference
from modeltel.analyzer.orchestration.analyzer import Analyzer
from support.reliability import PROTOBUF, prediction_spans
from support.servers import start_server


def _ingest(store, model: str, n: int = 40) -> None:
    pipeline = IngestPipeline(store, linger=0.0)
    try:
        body = prediction_spans([f"{model}-{i}" for i in range(n)], model=model)
        pipeline.store_request("traces", ExportTraceServiceRequest.FromString(body))
    finally:
        pipeline.close()


def _reason(row: pd.Series) -> str:
    details = row.get("details")
    return str(json.loads(details).get("reason", "")) if details else ""


def test_no_reference_says_so_and_other_analyses_still_run(store) -> None:
    _ingest(store, "noref")
    analyzer = Analyzer(store)
    with pytest.raises(NotFoundError, match=r"has no reference .*modeltel reference upload"):
        analyzer.drift("noref", "1")
    results = analyzer.analyze(model="noref")
    assert set(results["kind"]) >= {"performance", "service", "quality"}
    assert set(results["model"]) == {"noref"}


def test_no_labels_gives_no_data_with_a_reason(store) -> None:
    _ingest(store, "nolabels")
    performance = Analyzer(store).performance("nolabels", "1")
    realized = performance[performance["source"] == "realized"]
    accuracy = realized[realized["metric"] == "accuracy"].iloc[0]
    assert accuracy["status"] == "no_data" and pd.isna(accuracy["value"])
    assert "no labelled predictions" in _reason(accuracy)
    coverage = realized[realized["metric"] == "label_coverage"].iloc[0]
    assert coverage["value"] == 0.0


def _thin_answers(analyzer: Analyzer, model: str, names: tuple[str, ...], **window) -> dict:
    """Per analysis: "not found: …", or the statuses of its results (never an exception)."""
    answers = {}
    for name in names:
        try:
            frame = getattr(analyzer, name)(model, "1", **window)
        except NotFoundError as exc:
            answers[name] = f"not found: {exc}"
            continue
        answers[name] = set(frame["status"])
    return answers


def _quiet(store) -> tuple[Analyzer, dict]:
    _ingest(store, "quiet")
    upload_reference(
        store,
        "quiet",
        pd.DataFrame({"age": [30.0, 40.0, 50.0] * 10, "plan": ["basic", "gold", "gold"] * 10}),
        version="1",
    )
    long_ago = datetime.now(UTC) - timedelta(days=400)
    return Analyzer(store), {"start": long_ago, "end": long_ago + timedelta(hours=1)}


def test_empty_window_says_so_for_drift_and_service(store) -> None:
    analyzer, window = _quiet(store)
    answers = _thin_answers(analyzer, "quiet", ("drift", "service"), **window)
    for name, answer in answers.items():
        if isinstance(answer, str):
            assert "quiet" in answer, (name, answer)
        else:
            assert "no_data" in answer and answer <= {"no_data", "info", "ok"}, (name, answer)


def test_empty_window_says_so_for_performance_and_quality(store) -> None:
    analyzer, window = _quiet(store)
    answers = _thin_answers(analyzer, "quiet", ("performance", "quality"), **window)
    answers.update(
        {
            f"ghost {k}": v
            for k, v in _thin_answers(analyzer, "ghost", ("performance", "quality")).items()
        }
    )
    for name, answer in answers.items():
        assert isinstance(answer, str) or "no_data" in answer, (name, answer)


def test_vanished_feature_is_reported_not_dropped(store) -> None:
    _ingest(store, "vanished")
    reference = pd.DataFrame(
        {
            "age": [30.0, 40.0, 50.0] * 20,
            "income": [1000.0, 2000.0, 3000.0] * 20,
            "plan": ["basic", "gold", "gold"] * 20,
            "tenure": [1.0, 2.0, 3.0] * 20,  # production never sends this one
        }
    )
    upload_reference(store, "vanished", reference, version="1")
    drift = Analyzer(store).drift("vanished", "1")
    tenure = drift[drift["feature"] == "tenure"]
    assert not tenure.empty, "the vanished feature has no result at all"
    assert set(tenure["status"]) == {"no_data"}
    assert all(_reason(row) for _, row in tenure.iterrows())
    assert set(drift[drift["feature"] == "age"]["status"]) <= {"ok", "drift", "warning"}


def test_unknown_model_never_crashes(store) -> None:
    analyzer = Analyzer(store)
    with pytest.raises(NotFoundError, match="ghost"):
        analyzer.drift("ghost", "1")
    service = _thin_answers(analyzer, "ghost", ("service",))["service"]
    assert (isinstance(service, str) and "ghost" in service) or "no_data" in service, service
    _thin_answers(analyzer, "ghost", ("performance", "quality"))  # no exception
    with pytest.raises(NotFoundError, match="'ghost' has no predictions"):
        analyzer.analyze(model="ghost")


def test_http_and_cli_say_the_same(store, capsys) -> None:
    from modeltel.analyzer.cli import main

    running, stop = start_server(store)
    try:
        body = prediction_spans([f"h{i}" for i in range(20)], model="thin")
        assert (
            httpx.post(
                running.url + "/v1/traces", content=body, headers=PROTOBUF, timeout=60
            ).status_code
            == 200
        )
        drift = httpx.get(
            running.url + "/api/models/thin/drift", params={"version": "1"}, timeout=60
        )
        assert drift.status_code == 404 and "no reference" in drift.json()["detail"]
        for endpoint in ("performance", "service", "quality"):
            answer = httpx.get(
                running.url + f"/api/models/thin/{endpoint}", params={"compute": "true"}, timeout=60
            )
            assert answer.status_code == 200, (endpoint, answer.text[:300])
        ghost = httpx.get(
            running.url + "/api/models/ghost/performance", params={"compute": "true"}, timeout=60
        )
        assert ghost.status_code == 404 and "ghost" in ghost.json()["detail"]
        assert httpx.get(running.url + "/models/ghost", timeout=60).status_code == 404
        assert main(["analyze", "--model", "thin", "--only", "drift", "--server", running.url]) == 4
        assert "no reference" in capsys.readouterr().err
        assert (
            main(["analyze", "--model", "thin", "--format", "json", "--server", running.url]) == 0
        )
        records = json.loads(capsys.readouterr().out)
        assert {r["kind"] for r in records} >= {"performance", "service"}
    finally:
        stop()
