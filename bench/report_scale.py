"""Reports, the web page and the model list stay small and quick whatever the data size.

For each size in ``--sizes`` (predictions over 7 days; 10 numeric + 1 categorical feature,
labels for 90 %, three features drifting on the last two days), the data is generated inside
ClickHouse straight into a fresh embedded store, a reference of 5,000 rows is uploaded, and
the analysis loop runs one cycle per day (7 windows, as ``modeltel serve`` would). Then, each
``--repeat`` times, it measures:

- ``report``: ``build_report`` + ``render_html`` of the weekly report (and its size);
- ``page``: ``model_view`` + ``model_page`` (the page of ``GET /models/{model}``; histograms
  cached after the first call, as between two refreshes);
- ``models``: ``list_models`` (``GET /api/models``).

Prints medians. The point: sizes do not grow with the predictions (aggregates only), times
grow far slower than the data.

    python bench/report_scale.py                         # 10k, 100k, 1M
    python bench/report_scale.py --sizes 10000,100000 --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from modeltel.analyzer.base.store import Store
from modeltel.analyzer.demo.analysis import analyse_history
from modeltel.analyzer.inputs.reference import upload_reference
from modeltel.analyzer.report import build_report, render_html
from modeltel.analyzer.web import data as web_data
from modeltel.analyzer.web.page import model_page

MODEL, VERSION = "bench", "1"
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 7
NUMERIC = [f"num_{i}" for i in range(10)]
DRIFTED = NUMERIC[:3]

# uniform(k) in [0, 1) and a standard normal, deterministic per prediction number
U = "(cityHash64(number, {k}) % 1000000007) / 1000000007.0"
NORMAL = f"sqrt(-2 * log({U.format(k='{a}')} + 1e-12)) * cos(2 * pi() * {U.format(k='{b}')})"


def generate(store: Store, rows: int) -> None:
    """Predictions, features and labels of ``rows`` predictions, made in ClickHouse."""
    span_ns = DAYS * 86_400 * 10**9
    start_ns = int(START.timestamp() * 10**9)
    ts = f"fromUnixTimestamp64Nano(toInt64({start_ns} + number * {span_ns // rows}))"
    late = f"(number >= {rows * (DAYS - 2) // DAYS})"
    params = {"m": MODEL, "v": VERSION}
    store.command(
        "INSERT INTO ml_predictions (model, version, timestamp, prediction_id, task, "
        "prediction_label, prediction_score, latency_s, batch_size, row_index, is_error, "
        "service_name) "
        f"SELECT {{m:String}}, {{v:String}}, {ts}, toString(number), 'classification', "
        f"if({U.format(k=1)} < 0.3, 'yes', 'no'), {U.format(k=1)}, "
        f"0.002 + 0.01 * {U.format(k=2)}, 1, 0, toUInt8({U.format(k=3)} < 0.005), 'bench' "
        f"FROM numbers({rows})",
        parameters=params,
    )
    for i, feature in enumerate(NUMERIC):
        shift = f" + 1.5 * {late}" if feature in DRIFTED else ""
        normal = NORMAL.format(a=10 + 2 * i, b=11 + 2 * i)
        store.command(
            "INSERT INTO ml_features (model, version, feature, timestamp, prediction_id, "
            "value_num, value, categorical) "
            f"SELECT {{m:String}}, {{v:String}}, {{f:String}}, {ts}, toString(number), "
            f"{normal}{shift}, NULL, 0 FROM numbers({rows})",
            parameters={**params, "f": feature},
        )
    store.command(
        "INSERT INTO ml_features (model, version, feature, timestamp, prediction_id, "
        "value_num, value, categorical) "
        f"SELECT {{m:String}}, {{v:String}}, 'plan', {ts}, toString(number), NULL, "
        f"['basic', 'plus', 'pro'][1 + cityHash64(number, 99) % 3], 1 FROM numbers({rows})",
        parameters=params,
    )
    store.command(
        "INSERT INTO ml_labels (model, prediction_id, label, timestamp, source) "
        f"SELECT {{m:String}}, toString(number), "
        f"if({U.format(k=4)} < 0.9, if({U.format(k=1)} < 0.3, 'yes', 'no'), "
        f"if({U.format(k=1)} < 0.3, 'no', 'yes')), {ts} + INTERVAL 1 HOUR, 'bench' "
        f"FROM numbers({rows}) WHERE {U.format(k=5)} < 0.9",
        parameters=params,
    )


def reference_frame(rows: int = 5000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f: rng.normal(size=rows) for f in NUMERIC})
    frame["plan"] = rng.choice(["basic", "plus", "pro"], size=rows)
    return frame


def timed(fn, repeat: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    config = {"performance": {"positive_class": "yes", "thresholds": {"accuracy": 0.85}}}
    print(
        f"{'predictions':>12} {'generate s':>10} {'analyse s':>9} {'report s':>8} "
        f"{'report kB':>9} {'page s':>7} {'page kB':>7} {'models s':>8}"
    )
    with tempfile.TemporaryDirectory(prefix="modeltel-bench-") as folder:
        for rows in sizes:
            store = Store(f"chdb://{folder}/store", f"bench_{rows}")
            started = time.perf_counter()
            generate(store, rows)
            upload_reference(store, MODEL, reference_frame(), version=VERSION)
            generated = time.perf_counter() - started
            started = time.perf_counter()
            failures = analyse_history(
                store,
                None,
                START,
                START + timedelta(days=DAYS),
                24,
                config=config,
                progress=False,
            )
            analysed = time.perf_counter() - started
            if failures:
                print("  analysis failures:", failures[:3])
            report_s, html = timed(
                lambda s=store: render_html(build_report(s, MODEL, VERSION, period="week")),
                args.repeat,
            )
            page_s, page = timed(
                lambda s=store: model_page(web_data.model_view(s, MODEL, VERSION)), args.repeat
            )
            models_s, _ = timed(lambda s=store: web_data.list_models(s), args.repeat)
            print(
                f"{rows:>12,} {generated:>10.1f} {analysed:>9.1f} {report_s:>8.2f} "
                f"{len(str(html)) / 1024:>9.0f} {page_s:>7.2f} {len(str(page)) / 1024:>7.0f} "
                f"{models_s:>8.2f}",
                flush=True,
            )
            store.close()


if __name__ == "__main__":
    main()
