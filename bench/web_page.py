"""Model page benchmark: the server time of ``GET /models/{model}`` with and without a range.

Builds an embedded chDB store holding one model version with 31 features (25 numeric,
6 categorical), ``--per-hour`` predictions an hour over 8 days (generated inside ClickHouse:
``numbers()`` + random functions into ``ml_features``/``ml_predictions``), an uploaded
reference of ``--reference-rows`` rows, and 7 days of hourly result windows written with
``make_results``/``write_results`` (drift of every feature and the share, service,
performance and health records). Then times the route handler through FastAPI's TestClient
(no network) for the default page, ``range=7d`` and ``range=24h&compare=previous``: the first
run apart (nothing cached: the range's drift and histograms are computed), then the median
and spread of ``--repeat`` more (the page's cache answers, as for its 30 s self-refresh).

    python bench/web_page.py                  # default size
    python bench/web_page.py --per-hour 2000  # heavier traffic
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

MODEL, VERSION = "bench", "1"
NUMERIC = [f"num_{i:02d}" for i in range(25)]
CATEGORICAL = [f"cat_{i}" for i in range(6)]
DAYS = 8
END = datetime(2026, 12, 1, tzinfo=UTC)
START = END - timedelta(days=DAYS)
HOUR = timedelta(hours=1)
TARGET_S = 1.0


def _numeric_sql(shift: str) -> str:
    z = "randNormal(0, 1, number * 64 + f)"
    return f"f + (1 + f / 10) * ({z} + 0.3 * {shift} * if(f < 5, 1, 0))"


def _category_sql() -> str:
    u = "randUniform(0, 1, number * 64 + 32 + f)"
    return f"concat('c', toString(toUInt32(floor(pow({u}, 1.5) * (3 + 4 * f)))))"


def generate(store, per_hour: int, reference_rows: int) -> None:  # type: ignore[no-untyped-def]
    """Production data, a reference and 7 days of hourly result records."""
    from modeltel.analyzer.base.results import make_results, write_results
    from modeltel.analyzer.inputs.reference import upload_reference

    rows = per_hour * 24 * DAYS
    step = int(3600e9) // per_hour
    start_ns = int(START.timestamp()) * 10**9
    ts = f"fromUnixTimestamp64Nano(toInt64({start_ns} + number * {step}))"
    shift = f"if(number >= {rows - per_hour * 24}, 1, 0)"  # the last day drifts
    store.command(
        "INSERT INTO ml_features (model, version, feature, timestamp, prediction_id, value_num, "
        "value, categorical) "
        f"SELECT '{MODEL}', '{VERSION}', concat('num_', leftPad(toString(f), 2, '0')), {ts}, "
        f"toString(number), {_numeric_sql(shift)}, NULL, 0 "
        f"FROM numbers({rows}) ARRAY JOIN range({len(NUMERIC)}) AS f"
    )
    store.command(
        "INSERT INTO ml_features (model, version, feature, timestamp, prediction_id, value_num, "
        "value, categorical) "
        f"SELECT '{MODEL}', '{VERSION}', concat('cat_', toString(f)), {ts}, toString(number), "
        f"NULL, {_category_sql()}, 1 FROM numbers({rows}) ARRAY JOIN range({len(CATEGORICAL)}) AS f"
    )
    store.command(
        "INSERT INTO ml_predictions (model, version, timestamp, prediction_id, task, "
        "prediction_label, prediction_score, latency_s, batch_size, row_index, is_error, "
        "service_name) "
        f"SELECT '{MODEL}', '{VERSION}', {ts}, toString(number), 'classification', "
        "toString(rand() % 2), randUniform(0, 1), 0.01, 1, 0, 0, 'bench' "
        f"FROM numbers({rows})"
    )
    for table in ("ml_features", "ml_predictions"):
        store.command(f"OPTIMIZE TABLE {table} FINAL")
    rng = np.random.default_rng(1)
    reference = pd.DataFrame(
        {
            **{
                name: f + (1 + f / 10) * rng.normal(size=reference_rows)
                for f, name in enumerate(NUMERIC)
            },
            **{
                name: [
                    f"c{int(v)}"
                    for v in np.floor(rng.uniform(size=reference_rows) ** 1.5 * (3 + 4 * f))
                ]
                for f, name in enumerate(CATEGORICAL)
            },
        }
    )
    upload_reference(store, MODEL, reference, version=VERSION, categorical=CATEGORICAL)
    records = []
    for k in range(7 * 24):
        begin = END - (7 * 24 - k) * HOUR
        base = {
            "model": MODEL,
            "version": VERSION,
            "window_start": begin,
            "window_end": begin + HOUR,
        }
        for name in (*NUMERIC, *CATEGORICAL):
            value = float(rng.uniform(0, 0.3))
            records.append(
                {
                    **base,
                    "kind": "drift",
                    "feature": name,
                    "method": "psi",
                    "value": value,
                    "threshold": 0.2,
                    "status": "drift" if value >= 0.2 else "ok",
                    "reference_size": reference_rows,
                    "current_size": per_hour,
                }
            )
        records.append(
            {
                **base,
                "kind": "drift",
                "method": "share",
                "value": 0.1,
                "threshold": 0.5,
                "status": "ok",
            }
        )
        for metric, value in (
            ("latency_p50", 0.01),
            ("latency_p95", 0.02),
            ("throughput", per_hour / 3600),
            ("error_rate", 0.0),
            ("staleness", 1.0),
        ):
            records.append(
                {**base, "kind": "service", "metric": metric, "value": value, "status": "ok"}
            )
        records.append(
            {
                **base,
                "kind": "performance",
                "metric": "accuracy",
                "source": "realized",
                "value": float(rng.uniform(0.8, 0.9)),
                "status": "ok",
            }
        )
        records.append(
            {**base, "kind": "health", "metric": "health_score", "value": 90.0, "status": "ok"}
        )
    write_results(store, make_results(records))


def _time(client, url: str, repeat: int) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    """The first (uncached) server time of ``url`` and ``repeat`` more."""

    def once() -> float:
        started = time.perf_counter()
        answer = client.get(url)
        elapsed = time.perf_counter() - started
        if answer.status_code != 200:
            raise SystemExit(f"{url}: HTTP {answer.status_code}: {answer.text[:300]}")
        return elapsed

    first = once()
    return first, [once() for _ in range(repeat)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-hour", type=int, default=500, help="predictions an hour")
    parser.add_argument("--reference-rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7, help="cached runs after the first")
    args = parser.parse_args()

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from modeltel.analyzer.base.store import Store
    from modeltel.analyzer.web.routes import web_router

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"chdb://{Path(tmp) / 'store'}")
        started = time.perf_counter()
        generate(store, args.per_hour, args.reference_rows)
        rows = args.per_hour * 24 * DAYS
        print(
            f"store: {rows:,} predictions × {len(NUMERIC) + len(CATEGORICAL)} features over "
            f"{DAYS} days, reference {args.reference_rows:,} rows, 7 days of hourly results; "
            f"built in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        app = FastAPI()
        app.state.store = store
        app.include_router(web_router())
        client = TestClient(app)
        page = f"/models/{MODEL}?version={VERSION}"
        cases = {
            "default": page,
            "range=7d": page + "&range=7d",
            "range=24h&compare=previous": page + "&range=24h&compare=previous",
        }
        print(f"{'page':<28} {'first (s)':>10} {'median (s)':>11} {'min–max (s)':>14}")
        worst = 0.0
        for name, url in cases.items():
            first, runs = _time(client, url, args.repeat)
            median = statistics.median(runs)
            worst = max(worst, median)
            print(
                f"{name:<28} {first:>10.3f} {median:>11.3f} {min(runs):>6.3f}–{max(runs):.3f}",
                flush=True,
            )
        verdict = "within" if worst <= TARGET_S else "over"
        print(f"cached medians {verdict} the {TARGET_S:.0f} s target (worst {worst:.3f} s)")
        store.close()


if __name__ == "__main__":
    main()
