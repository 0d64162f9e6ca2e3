"""Results-out benchmark: what one scrape of /metrics and one analysis cycle's bookkeeping
(health score, retrain policy, snapshot) cost on a day of results history.

    python bench/export.py                       # 20 models × 30 features, 1 day at 1/min
    python bench/export.py --models 50 --hours 48 --repeat 7

Writes the history into a fresh embedded store (ml_results: per model and minute, drift by
two methods per feature, quality per feature, performance and service metrics), then times,
median of ``--repeat`` runs:
  snapshot   latest value of every series (one SQL scan; what a stale scrape re-reads)
  naive      the same through results.read_results(latest_window_only=True) + pandas
  render     Prometheus text of the published snapshot (OTel gauges → prometheus_client)
  bookkeep   a loop cycle without analyses: per model, health record + retrain policy
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from modeltel.analyzer.base.results import RESULT_COLUMNS, read_results
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.export import MetricsPublisher
from modeltel.analyzer.export.snapshot import latest_records, read_snapshot
from modeltel.analyzer.orchestration.loop import AnalysisLoop


def history(models: int, features: int, hours: int, end: datetime) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    windows = pd.date_range(end=end, periods=hours * 60, freq="1min", tz=UTC)
    rows = []
    series = []
    for m in range(models):
        for f in range(features):
            for method, threshold in (("psi", 0.2), ("jensen_shannon", 0.1)):
                series.append((f"model{m}", "1", "drift", f"f{f}", method, "", threshold))
            series.append((f"model{m}", "1", "quality", f"f{f}", "", "missing_ratio", 0.05))
        series.append((f"model{m}", "1", "drift", None, "share", "", 0.5))
        for metric in ("accuracy", "f1", "roc_auc", "label_coverage"):
            series.append((f"model{m}", "1", "performance", None, "", metric, None))
        for metric in ("latency_p50", "latency_p95", "latency_p99", "throughput", "error_ratio"):
            series.append((f"model{m}", "1", "service", None, "", metric, None))
    for model, version, kind, feature, method, metric, threshold in series:
        values = rng.random(len(windows))
        rows.append(
            pd.DataFrame(
                {
                    "model": model,
                    "version": version,
                    "window_start": windows - timedelta(hours=1),
                    "window_end": windows,
                    "kind": kind,
                    "segment": "",
                    "feature": feature,
                    "method": method,
                    "metric": metric,
                    "value": values,
                    "threshold": threshold,
                    "status": np.where(values > 0.8, "drift" if kind == "drift" else "alert", "ok"),
                    "source": "realized",
                    "reference_size": 10_000,
                    "current_size": 5_000,
                    "details": "",
                    "run_id": "",
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    return frame[list(RESULT_COLUMNS)]


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"chdb://{Path(tmp) / 'store'}", "bench")
        frame = history(args.models, args.features, args.hours, end)
        started = time.perf_counter()
        for chunk in range(0, len(frame), 500_000):
            store.insert_df("ml_results", frame.iloc[chunk : chunk + 500_000])
        load_s = time.perf_counter() - started
        print(
            f"ml_results history: {len(frame):,} rows ({args.models} models × "
            f"{args.features} features, {args.hours} h at 1/min), loaded in {load_s:.1f}s"
        )
        # predictions so the loop finds the models active
        store.insert(
            "ml_predictions",
            [
                [f"model{m}", "1", end - timedelta(minutes=5), f"p{m}", 0.01, 1, 0]
                for m in range(args.models)
            ],
            [
                "model",
                "version",
                "timestamp",
                "prediction_id",
                "latency_s",
                "batch_size",
                "row_index",
            ],
        )
        now = end.timestamp()
        snap_s, snapshot = timed(lambda: read_snapshot(store, now=now), args.repeat)
        naive_s, naive = timed(
            lambda: read_results(store, latest_window_only=True, limit=10_000_000), args.repeat
        )
        publisher = MetricsPublisher(store, exporter=False, refresh_s=1e9)
        publisher.publish(snapshot)
        render_s, text = timed(publisher.prometheus_text, args.repeat)
        loop = AnalysisLoop(store, {}, every=60, publisher=publisher, runners={})
        cycle_s, report = timed(lambda: loop.run_once(now=now), max(1, args.repeat // 2))
        publisher.shutdown()
        series = len(latest_records(store, now=now))
        print(
            f"series published: {series:,}; gauge samples: {len(snapshot):,}; "
            f"/metrics body: {len(text) / 1024:.0f} KiB"
        )
        print(
            f"snapshot (SQL latest per series):   {snap_s * 1000:8.1f} ms  "
            f"(median of {args.repeat})"
        )
        print(
            f"naive read_results + pandas:        {naive_s * 1000:8.1f} ms  "
            f"({len(naive):,} rows; "
            f"{naive_s / snap_s:.1f}x the snapshot)"
        )
        print(f"render Prometheus text:             {render_s * 1000:8.1f} ms")
        print(
            f"loop bookkeeping ({len(report.analyzed)} models, health + retrain + refresh): "
            f"{cycle_s * 1000:.0f} ms = {cycle_s / len(report.analyzed) * 1000:.1f} ms per model"
        )
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
