"""A span projects to the same ml_predictions/ml_features/ml_attributions rows whether it came
through
modeltel's receiver (typed staging views) or was written by a Collector (views that parse
the exporter's strings)."""

from __future__ import annotations

import math

import httpx
import numpy as np
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from support.collector import assert_same_ml_rows, collector_copy
from support.spans import value


def span(i: int, attrs: dict, error: bool = False) -> Span:
    return Span(
        trace_id=(1000 + i).to_bytes(16, "big"),
        span_id=(7000 + i).to_bytes(8, "big"),
        name="predict m",
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=1_700_000_000_000_000_000 + i * 1_000_000,
        end_time_unix_nano=1_700_000_000_003_000_000 + i * 1_000_000,
        attributes=[KeyValue(key=k, value=value(v)) for k, v in attrs.items()],
        status=Status(code=Status.STATUS_CODE_ERROR if error else Status.STATUS_CODE_UNSET),
    )


rng = np.random.default_rng(3)
BIG = rng.normal(size=40).tolist()
CASES = [
    # plain single prediction
    {
        "ml.model.name": "m",
        "ml.model.version": "2",
        "ml.prediction.id": "s1",
        "ml.task": "classification",
        "ml.feature.a": 1.5,
        "ml.feature.b": 3,
        "ml.feature.c": "x",
        "ml.feature.categorical": ["c", "b"],
        "ml.prediction.label": "1",
        "ml.prediction.score": 0.25,
        "ml.attribution.a": -0.125,
        "ml.attribution.b": 2,
        "ml.attribution.c": 1e-300,
    },
    # no version, no id, missing score, NaN/inf and a string where a number is expected
    {
        "ml.model.name": "m",
        "ml.feature.a": math.nan,
        "ml.feature.b": math.inf,
        "ml.feature.d": "oops",
        "ml.feature.e": True,
        "ml.prediction.value": 12.0,
        "ml.attribution.a": math.nan,
        "ml.attribution.b": math.inf,
        "ml.attribution.d": "oops",
        "ml.attribution.e": "0.5",
    },
    # batch with nulls, ints, strings, and a long numeric array (fast path)
    {
        "ml.model.name": "m",
        "ml.model.version": "2",
        "ml.prediction.id": ["b1", "", "b3"],
        "ml.batch.size": 3,
        "ml.feature.a": [1.0, None, 2.5],
        "ml.feature.b": [1, 2, 3],
        "ml.feature.c": ["x", None, 'q"u,ote'],
        "ml.feature.categorical": ["c"],
        "ml.prediction.label": ["1", "0", None],
        "ml.prediction.score": [0.9, None, 0.1],
        "ml.attribution.a": [0.5, None, -1.5],
        "ml.attribution.b": [1, 2, 3],
        "ml.attribution.c": [0.25, 1e21, 3.5e-7],
    },
    {
        "ml.model.name": "m",
        "ml.model.version": "3",
        "ml.prediction.id": [f"l{i}" for i in range(40)],
        "ml.feature.big": BIG,
        "ml.feature.cat_num": BIG,
        "ml.feature.categorical": ["cat_num"],
        "ml.prediction.score": BIG,
        "ml.prediction.label": [str(i % 3) for i in range(40)],
        "ml.attribution.big": BIG,  # long double array: the typed fast path
        "ml.attribution.cat_num": [-x for x in BIG],
    },
    # batch declared by size only, arrays too short / too long
    {
        "ml.model.name": "m",
        "ml.batch.size": 4,
        "ml.feature.a": [1.0, 2.0],
        "ml.feature.z": [1.0] * 6,
        "ml.prediction.score": [0.5] * 5,
        "ml.attribution.a": [0.1, 0.2],  # too short: padded with missing
        "ml.attribution.z": [0.3] * 6,  # too long: cut
    },
    # a batch array holding NaN (the exporter writes "") and mixed kinds
    {
        "ml.model.name": "m",
        "ml.prediction.id": ["n1", "n2"],
        "ml.feature.a": [1.0, math.nan],
        "ml.feature.mixed": [1.0, "two"],
        "ml.prediction.score": ["0.5", True],
        "ml.attribution.a": [math.nan, 2.0],
        "ml.attribution.mixed": [1.0, "two"],
    },
    # a scalar span carrying an array and a JSON-looking string id
    {
        "ml.model.name": "m",
        "ml.prediction.id": "plain-[1]",
        "ml.feature.arr": BIG,
        "ml.attribution.arr": BIG,
    },
    # not a prediction span
    {"http.route": "/predict", "ml.attribution.x": 1.0},
]


def test_receiver_and_collector_paths_project_identically(server, store_url) -> None:
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                scope_spans=[
                    ScopeSpans(spans=[span(i, a, error=i == 1) for i, a in enumerate(CASES)])
                ]
            )
        ]
    )
    response = httpx.post(
        server.url + "/v1/traces",
        content=request.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
        timeout=60,
    )
    assert response.status_code == 200
    received = server.store
    with collector_copy(store_url, received) as collector:
        assert_same_ml_rows(received, collector)
        count = received.query_rows("SELECT count() FROM ml_predictions")[0][0]
        assert count == 1 + 1 + 3 + 40 + 4 + 2 + 1
        attributions = received.query_rows(
            "SELECT prediction_id, feature, value FROM ml_attributions"
        )
        by_key = {(p, f): v for p, f, v in attributions}
        assert by_key[("s1", "a")] == -0.125 and by_key[("s1", "c")] == 1e-300
        assert by_key[("b1", "c")] == 0.25 and by_key[("b3", "c")] == 3.5e-7
        batch_null = f"{7002:016x}-1"  # the batch row whose id and attribution `a` are missing
        assert by_key[(batch_null, "b")] == 2.0 and (batch_null, "a") not in by_key
        assert sum(1 for p, f in by_key if f == "big") == 40
        assert sum(1 for p, f in by_key if f == "z") == 4  # cut to the batch size
        assert sum(1 for p, f in by_key if f == "a" and p.startswith("0")) == 2  # padded: 2 rows
        assert all(math.isfinite(v) for v in by_key.values())
        assert [f for p, f in by_key if p == "n1"] == ["mixed"]  # NaN has no row
