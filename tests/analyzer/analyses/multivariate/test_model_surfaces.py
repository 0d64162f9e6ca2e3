"""Attribution and multivariate results everywhere the other results go: ``/metrics``, the API,
``modeltel outliers --method multivariate`` (local and through ``--server``),
``Analyzer.analyze``, the web page, the report and its recommendations, the health score."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest

from modeltel.analyzer.base.results import read_results
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.orchestration.analyzer import Analyzer
from modeltel.analyzer.orchestration.health import health_score
from support.models import HOUR, correlated, module_store, series, upload_matrix, write_matrix
from support.servers import start_server

FEATURES = ["x1", "x2", "x3", "x4"]
# two hours ending at the last full hour: recent enough for /metrics (max age one day)
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 2 * HOUR
SPAN = {"window": "1h", "start": T0, "end": T0 + 2 * HOUR}


def _attributions(store: Store, ids: list[str], start, weights: list[float]) -> None:
    rows = []
    for i, pid in enumerate(ids):
        moment = (start + timedelta(seconds=i)).replace(tzinfo=None)
        for feature, weight in zip(FEATURES, weights, strict=True):
            rows.append(["loans", "1", feature, moment, pid, weight * (1 if i % 2 else -1)])
    store.insert(
        "ml_attributions",
        rows,
        ["model", "version", "feature", "timestamp", "prediction_id", "value"],
    )


def seed(store: Store) -> None:
    """Hour 1 like the reference; hour 2: x1/x2 correlation flipped, attribution ranking too."""
    rng = np.random.default_rng(17)
    upload_matrix(store, "loans", "1", correlated(rng, 3000, 0.9), FEATURES)
    calm = write_matrix(store, "loans", "1", correlated(rng, 400, 0.9), FEATURES, start=T0)
    flipped = write_matrix(
        store, "loans", "1", correlated(rng, 400, -0.9), FEATURES, start=T0 + HOUR, id_prefix="f"
    )
    _attributions(store, calm, T0, [4.0, 3.0, 2.0, 1.0])
    _attributions(store, flipped, T0 + HOUR, [1.0, 2.0, 3.0, 4.0])
    analyzer = Analyzer(store, {})
    analyzer.multivariate("loans", "1", **SPAN)
    analyzer.attribution("loans", "1", **SPAN)


@pytest.fixture(scope="module")
def seeded(store_url: str):
    """One seeded store and receiver for the module (seeding is the slow part)."""
    store_gen = module_store(store_url)
    store = next(store_gen)
    seed(store)
    running, stop = start_server(store)
    try:
        yield running
    finally:
        stop()
        next(store_gen, None)


def test_metrics_api_and_health(seeded) -> None:
    text = httpx.get(f"{seeded.url}/metrics", timeout=60).text
    key = (("ml_model_name", "loans"), ("ml_model_version", "1"))
    method = (("ml_drift_method", "pca_reconstruction"),)
    assert series(text, "ml_drift_multivariate_detected") == {tuple(sorted(key + method)): 1.0}
    assert series(text, "ml_outlier_ratio")[tuple(sorted(key + method))] > 0.05
    assert series(text, "ml_attribution_drift") == {key: 1.0}
    assert series(text, "ml_attribution_rank_correlation") == {key: -1.0}
    importance = series(text, "ml_attribution_importance")
    assert importance[tuple(sorted((*key, ("ml_feature_name", "x4"))))] == 4.0
    multivariate = httpx.get(f"{seeded.url}/api/models/loans/multivariate", timeout=60).json()
    assert {(r["metric"], r["status"]) for r in multivariate} == {
        ("reconstruction_error", "drift"),
        ("outlier_ratio", "alert"),
    }
    attribution = httpx.get(f"{seeded.url}/api/models/loans/attribution", timeout=60).json()
    assert {r["metric"] for r in attribution} == {
        "importance",
        "rank",
        "rank_correlation",
        "top_k_overlap",
        "drift",
    }
    worst = httpx.get(
        f"{seeded.url}/api/models/loans/outliers",
        params={
            "method": "multivariate",
            "limit": 5,
            "start": (T0 + HOUR).isoformat(),
            "end": (T0 + 2 * HOUR).isoformat(),
        },
        timeout=60,
    ).json()
    assert len(worst) == 5 and all(w["prediction_id"].startswith("f") for w in worst)
    assert worst[0]["score"] >= worst[-1]["score"] and worst[0]["severity"] > 1
    bad = httpx.get(f"{seeded.url}/api/models/loans/outliers", params={"method": "pca"}, timeout=60)
    assert bad.status_code == 400 and "method" in bad.json()["detail"]
    everything = Analyzer(seeded.store, {}).analyze(
        "loans", window=Window(T0 + HOUR, T0 + 2 * HOUR), write=False
    )
    assert {"drift", "quality", "multivariate", "attribution"} <= set(everything["kind"])
    latest = read_results(seeded.store, model="loans", version="1", latest_window_only=True)
    health = health_score(latest)
    assert health.components["drift"] >= 0.5 and health.components["quality"] == 1.0
    assert any("drifted jointly" in r for r in health.reasons)
    assert any("relies on different features" in r for r in health.reasons)


def test_web_page_and_report_show_both_sections(seeded) -> None:
    page = httpx.get(f"{seeded.url}/models/loans", timeout=60).text
    assert "Multivariate drift and outlier predictions" in page
    assert "PCA reconstruction error per window" in page and "f" in page
    worst = json.loads(
        seeded.store.query_rows(
            "SELECT details FROM ml_results FINAL WHERE kind = 'multivariate' "
            "AND metric = 'outlier_ratio' ORDER BY window_end DESC LIMIT 1"
        )[0][0]
    )["worst"]
    assert all(w["prediction_id"] in page for w in worst)
    assert "Feature attributions" in page and "ranking vs the reference period" in page
    assert page.count("<code>x4</code>") >= 1
    report = httpx.get(f"{seeded.url}/models/loans/report", params={"period": "week"}, timeout=60)
    assert report.status_code == 200
    assert "Multivariate drift and outlier predictions" in report.text
    assert "The inputs drifted jointly" in report.text
    assert "The model relies on different features" in report.text
    assert "top features now x4, x3, x2, x1" in report.text


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modeltel.analyzer.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_lists_multivariate_outliers(seeded, tmp_path) -> None:
    window = ["--start", (T0 + HOUR).isoformat(), "--end", (T0 + 2 * HOUR).isoformat()]
    done = _cli(
        "outliers", "loans", "--method", "multivariate", "--limit", "3", "--format", "json",
        "--server", seeded.url, *window,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert len(rows) == 3 and rows[0]["features"] and rows[0]["version"] == "1"
    done = _cli("outliers", "loans", "--method", "multivariate", "--server", seeded.url, *window)
    assert done.returncode == 0 and rows[0]["prediction_id"] in done.stdout
    assert "severity" in done.stdout.splitlines()[0]
    empty = _cli("outliers", "loans", "--method", "multivariate", "--clickhouse-url",
                 f"chdb://{tmp_path / 'store'}")  # fmt: skip
    assert empty.returncode == 4 and "Traceback" not in empty.stderr
    bad = _cli("outliers", "loans", "--method", "pca", "--server", seeded.url)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
