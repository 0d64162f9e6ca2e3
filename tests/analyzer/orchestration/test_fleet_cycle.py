"""One analysis cycle over a fleet gives every model version exactly the records it gets when
its model is alone in the store: the analyses compute the fleet in one pass, the records of
one version never depend on the others'."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modeltel.analyzer.base.results import read_results
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.inputs.reference import upload_reference
from modeltel.analyzer.orchestration.loop import AnalysisLoop
from support.perfdata import insert_features, insert_predictions
from support.servers import new_database_name

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
HOURS = 2
NOW = (T0 + timedelta(hours=HOURS, minutes=5)).timestamp()
"""The first cycle analyses the second hour; the one an hour later finds nothing new."""

FLEET = {
    # model: (versions, seed, shift of num_a in the last hour, labelled, reference)
    "churn": (("1", "2"), 1, 0.0, True, True),
    "fraud": (("7",), 2, 1.5, True, True),
    "pricing": (("3",), 3, 0.3, False, True),
    "spam": (("1",), 4, 0.0, True, False),
}
IGNORED = {"run_id", "computed_at"}


def plant(store: Store, model: str) -> None:
    """Two hours of classification traffic per version of ``model`` with three features,
    labels and a reference as :data:`FLEET` says; each model's numbers its own."""
    versions, seed, shift, labelled, with_reference = FLEET[model]
    for index, version in enumerate(versions):
        rng = np.random.default_rng(seed * 10 + index)
        n = 150 + 40 * seed + 25 * index
        span = HOURS * 3600 / n
        times = [T0 + timedelta(seconds=(i + rng.uniform(0, 1)) * span) for i in range(n)]
        late = np.array([t >= T0 + timedelta(hours=HOURS - 1) for t in times])
        ids = [f"{model}-{version}-{i}" for i in range(n)]
        scores = rng.uniform(0, 1, n)
        insert_predictions(
            store,
            model,
            ids,
            times,
            version=version,
            labels=np.where(scores >= 0.5, "approve", "deny").tolist(),
            scores=scores.tolist(),
            latency=(0.002 * seed * np.exp(0.5 * rng.standard_normal(n))).tolist(),
            errors=(rng.uniform(0, 1, n) < 0.03 * seed).astype(int).tolist(),
        )
        num_a = rng.standard_normal(n) + np.where(late, shift, 0.0)
        num_b = np.where(rng.uniform(0, 1, n) < 0.05, np.nan, rng.gamma(2.0, seed, n))
        cat_c = rng.choice(["a", "b", "c", "d"][: 2 + seed % 3], n)
        insert_features(store, model, "num_a", ids, times, numbers=num_a.tolist(), version=version)
        insert_features(store, model, "num_b", ids, times, numbers=num_b.tolist(), version=version)
        insert_features(
            store,
            model,
            "cat_c",
            ids,
            times,
            texts=cat_c.tolist(),
            categorical=True,
            version=version,
        )
        if labelled:
            keep = rng.uniform(0, 1, n) < 0.7
            truth = np.where(rng.uniform(0, 1, n) < scores, "approve", "deny")
            store.insert(
                "ml_labels",
                [
                    [model, ids[i], str(truth[i]), int(truth[i] == "approve"), times[i]]
                    for i in range(n)
                    if keep[i]
                ],
                ["model", "prediction_id", "label", "label_value", "timestamp"],
            )
        if with_reference:
            rows = 300
            reference = pd.DataFrame(
                {
                    "num_a": rng.standard_normal(rows),
                    "num_b": rng.gamma(2.0, seed, rows),
                    "cat_c": rng.choice(["a", "b", "c", "d"][: 2 + seed % 3], rows),
                }
            )
            upload_reference(store, model, reference, version=version, categorical=["cat_c"])


def cycles(store: Store) -> None:
    """The analysis loop as ``modeltel serve`` runs it: a cycle, and one an hour later."""
    loop = AnalysisLoop(store, {}, every=60, window_s=3600)
    first = loop.run_once(now=NOW)
    second = loop.run_once(now=NOW + 3600)
    assert first.failures == [] and second.failures == []
    assert second.waiting == second.analyzed  # nothing new: staleness moved on only


def rounded(value: Any) -> Any:
    """``value`` with its numbers (in lists and mappings too) to 12 significant digits: a
    sum over the same rows may differ in its last bit with the order ClickHouse adds them."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def records(store: Store, model: str) -> list[tuple]:
    """Every stored record of ``model`` (details parsed), run id and computation time aside,
    sorted."""
    frame = read_results(store, model=model)
    columns = [c for c in frame.columns if c not in IGNORED]
    frame = frame[columns].astype(object).where(frame[columns].notna(), None)
    rows = []
    for record in frame.to_dict("records"):
        record["details"] = json.loads(record["details"]) if record["details"] else None
        rows.append(tuple(rounded(record[c]) for c in columns))
    return sorted(rows, key=lambda row: tuple("" if v is None else str(v) for v in row))


@pytest.fixture
def alone(store_url: str) -> Iterator[dict[str, Store]]:
    """A store per model of the fleet, holding that model only."""
    stores = {model: Store(store_url, new_database_name()) for model in FLEET}
    try:
        yield stores
    finally:
        for single in stores.values():
            try:
                single.command(f"DROP DATABASE IF EXISTS `{single.database}`")
            finally:
                single.close()


def test_a_fleet_cycle_gives_each_model_the_records_it_gets_alone(store, alone) -> None:
    for model in FLEET:
        plant(store, model)
        plant(alone[model], model)
    cycles(store)
    for single in alone.values():
        cycles(single)

    for model, (versions, *_rest, with_reference) in FLEET.items():
        mine = records(alone[model], model)
        assert records(store, model) == mine
        kinds = {(row[1], row[4]) for row in mine}  # (version, kind)
        for version in versions:
            assert {(version, k) for k in ("service", "quality", "performance", "health")} <= kinds
            assert ((version, "drift") in kinds) == with_reference
    fleet = read_results(store)
    assert sorted(set(zip(fleet.model, fleet.version, strict=True))) == [
        ("churn", "1"),
        ("churn", "2"),
        ("fraud", "7"),
        ("pricing", "3"),
        ("spam", "1"),
    ]
    drifted = fleet[(fleet.kind == "drift") & (fleet.feature == "num_a")]
    statuses = {m: set(drifted[drifted.model == m].status) for m in ("fraud", "churn")}
    assert "drift" in statuses["fraud"] and statuses["churn"] == {"ok"}
