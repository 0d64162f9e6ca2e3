"""Performance benchmark: 10M predictions joined with 10M labels, and latency over 10M spans.

Generates the data inside ClickHouse (``numbers()`` + hash-based random functions, straight
into ``ml_predictions``/``ml_labels`` of an embedded store): a calibrated binary classifier
(labels drawn from the scores), full-precision scores (every score distinct: the worst case
for ROC AUC), one span per prediction with a log-normal latency. Then, each in a fresh process
so that peak RSS is the computation's own:

- modeltel: the realized classification metrics (accuracy, precision, recall, F1, ROC AUC,
  log loss, confusion matrix, label coverage, exact delay p50/p95/p99) of the whole range as
  one window — ``compute_performance`` with and without the CBPE estimates — and the exact
  latency p50/p95/p99 query of the service analysis;
- pandas/scikit-learn: the same work on DataFrames (loaded from the store first, loading
  timed apart): ``merge`` on the id, ``accuracy_score`` … ``roc_auc_score``, ``log_loss``,
  ``confusion_matrix``, ``np.percentile``.

Prints medians of ``--repeat`` runs (wall and CPU seconds; the machine is shared, so CPU time
is the steadier figure), peak RSS, and the pandas/modeltel ratios.

With ``--segments`` it gives each prediction a categorical feature of 20 values of uneven
volume (``ml_features``, written once) and compares ``compute_performance`` with and without
``segment_by`` on it (realized metrics and CBPE estimates, overall and per segment, in one
statement): the wall medians and their ratio.

    python bench/performance.py                  # 10M rows (generation takes a few minutes)
    python bench/performance.py --rows 1000000   # quick run
    python bench/performance.py --segments       # … and performance per segment
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODEL, VERSION = "bench", "1"
START_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
SPAN_NS = 10 * 86_400_000_000_000  # ten days of predictions
U = "(cityHash64(number, {seed}) / 18446744073709551616.0)"  # uniform in [0, 1), per row


def _u(seed: int) -> str:
    return U.format(seed=seed)


def generate(url: str, rows: int) -> dict[str, float]:
    from modeltel.analyzer.base.store import Store

    store = Store(url)
    started = time.perf_counter()
    score = _u(1)
    ts = f"fromUnixTimestamp64Nano(toInt64({START_NS} + number * {SPAN_NS // rows}))"
    store.command(
        "INSERT INTO ml_predictions (model, version, timestamp, prediction_id, task, "
        "prediction_label, prediction_score, latency_s, batch_size, row_index, is_error, "
        f"service_name) SELECT '{MODEL}', '{VERSION}', {ts}, lower(hex(sipHash128(number))), "
        f"'classification', if({score} >= 0.5, '1', '0'), {score}, "
        f"0.002 * exp(0.8 * sqrt(-2 * log({_u(3)} + 1e-300)) * cos(6.283185307179586 * {_u(4)})), "
        f"1, 0, {_u(5)} < 0.01, 'bench' FROM numbers({rows})",
        settings={"max_insert_threads": 2},
    )
    store.command(
        "INSERT INTO ml_labels (model, prediction_id, label, label_value, timestamp, source) "
        f"SELECT '{MODEL}', lower(hex(sipHash128(number))), if({_u(2)} < {score}, '1', '0'), "
        f"if({_u(2)} < {score}, 1, 0), {ts} + toIntervalSecond(toUInt32({_u(6)} * 86400)), "
        f"'bench' FROM numbers({rows})",
        settings={"max_insert_threads": 2},
    )
    for table in ("ml_predictions", "ml_labels"):
        store.command(f"OPTIMIZE TABLE {table} FINAL")
    counts = store.query_rows(
        "SELECT (SELECT count() FROM ml_predictions), (SELECT count() FROM ml_labels)"
    )[0]
    store.close()
    return {
        "seconds": time.perf_counter() - started,
        "predictions": counts[0],
        "labels": counts[1],
    }


SEGMENT_FEATURE, SEGMENTS = "segment", 20


def generate_segments(url: str, rows: int) -> dict[str, float]:
    """A categorical feature of :data:`SEGMENTS` values per prediction (value k with
    probability ∝ about 1/(k + 1)), unless the store has it already."""
    from modeltel.analyzer.base.store import Store

    store = Store(url)
    started = time.perf_counter()
    have = store.query_rows(f"SELECT count() FROM ml_features WHERE feature = '{SEGMENT_FEATURE}'")[
        0
    ][0]
    if not have:
        ts = f"fromUnixTimestamp64Nano(toInt64({START_NS} + number * {SPAN_NS // rows}))"
        value = f"concat('s', toString(toUInt8(floor(exp({_u(7)} * log({SEGMENTS + 1})) - 1))))"
        store.command(
            "INSERT INTO ml_features (model, version, feature, timestamp, prediction_id, value, "
            f"categorical) SELECT '{MODEL}', '{VERSION}', '{SEGMENT_FEATURE}', {ts}, "
            f"lower(hex(sipHash128(number))), {value}, 1 FROM numbers({rows})",
            settings={"max_insert_threads": 2},
        )
        store.command("OPTIMIZE TABLE ml_features FINAL")
    store.close()
    return {"seconds": time.perf_counter() - started, "written": int(not have)}


def run_segments(url: str, rows: int, repeat: int) -> dict[str, object]:
    """``compute_performance`` of the whole range without and with ``segment_by``."""
    from modeltel.analyzer.analyses.performance import compute_performance
    from modeltel.analyzer.analyses.performance.config import PerformanceConfig
    from modeltel.analyzer.base.query import TimeWindows
    from modeltel.analyzer.base.store import Store

    store = Store(url)
    windows = TimeWindows(START_NS, SPAN_NS + 1, (0,))
    plain = PerformanceConfig()
    split = PerformanceConfig(segment_by=(SEGMENT_FEATURE,))
    out: dict[str, object] = {}
    for name, config in (("unsegmented", plain), ("segmented", split)):
        compute_performance(store, MODEL, VERSION, windows, config)  # warm caches once
        walls, cpus, records = _timed(
            lambda config=config: compute_performance(store, MODEL, VERSION, windows, config),
            repeat,
        )
        segments = {r["segment"] for r in records if r["segment"]}  # type: ignore[union-attr]
        out[name] = {"wall": walls, "cpu": cpus, "segments": len(segments)}
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    store.close()
    return out


def _timed(fn, repeat: int) -> tuple[list[float], list[float], object]:
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus, result


def run_modeltel(url: str, rows: int, repeat: int) -> dict[str, object]:
    from modeltel.analyzer.analyses.performance import compute_performance
    from modeltel.analyzer.analyses.performance.config import PerformanceConfig
    from modeltel.analyzer.base.query import TimeWindows
    from modeltel.analyzer.base.store import Store

    store = Store(url)
    end = START_NS + SPAN_NS + 1
    windows = TimeWindows(START_NS, end - START_NS, (0,))
    realized = PerformanceConfig(estimated=False)
    full = PerformanceConfig()
    compute_performance(store, MODEL, VERSION, windows, realized)  # warm caches once
    out: dict[str, object] = {}
    walls, cpus, records = _timed(
        lambda: compute_performance(store, MODEL, VERSION, windows, realized), repeat
    )
    out["realized"] = {"wall": walls, "cpu": cpus}
    values = {
        r["metric"]: r["value"]
        for r in records  # type: ignore[union-attr]
        if r["source"] == "realized"
    }
    walls, cpus, _ = _timed(
        lambda: compute_performance(store, MODEL, VERSION, windows, full), repeat
    )
    out["with_estimates"] = {"wall": walls, "cpu": cpus}
    latency_sql = (
        "SELECT quantilesExactInclusive(0.5, 0.95, 0.99)(latency_s) FROM ml_predictions "
        "WHERE model = {m:String} AND version = {v:String} AND row_index = 0 "
        "AND timestamp >= fromUnixTimestamp64Nano({s:Int64}) "
        "AND timestamp < fromUnixTimestamp64Nano({e:Int64})"
    )
    params = {"m": MODEL, "v": VERSION, "s": START_NS, "e": end}
    walls, cpus, latency = _timed(lambda: store.query_rows(latency_sql, params), repeat)
    out["latency"] = {"wall": walls, "cpu": cpus}
    values["latency"] = list(latency[0][0])  # type: ignore[index]
    out["values"] = values
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    store.close()
    return out


def run_pandas(url: str, rows: int, repeat: int) -> dict[str, object]:
    import numpy as np
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        log_loss,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    from modeltel.analyzer.base.store import Store

    store = Store(url)
    started = time.perf_counter()
    predictions = store.query_df(
        "SELECT prediction_id, prediction_label, prediction_score, "
        "toUnixTimestamp64Nano(timestamp) AS ts, latency_s, row_index "
        "FROM ml_predictions WHERE model = {m:String}",
        parameters={"m": MODEL},
    )
    labels = store.query_df(
        "SELECT prediction_id, label, toUnixTimestamp64Nano(timestamp) AS lts, "
        "toUnixTimestamp64Nano(received_at) AS rcv FROM ml_labels WHERE model = {m:String}",
        parameters={"m": MODEL},
    )
    load = time.perf_counter() - started
    store.close()

    def metrics() -> dict[str, object]:
        latest = labels.sort_values("rcv").drop_duplicates("prediction_id", keep="last")
        joined = predictions.merge(latest, on="prediction_id", how="left")
        has = joined["label"].notna().to_numpy()
        y = (joined["label"].to_numpy()[has] == "1").astype(np.int8)
        p = (joined["prediction_label"].to_numpy()[has] == "1").astype(np.int8)
        s = joined["prediction_score"].to_numpy()[has]
        delays = (joined["lts"].to_numpy()[has] - joined["ts"].to_numpy()[has]) / 1e9
        return {
            "accuracy": accuracy_score(y, p),
            "precision": precision_score(y, p),
            "recall": recall_score(y, p),
            "f1": f1_score(y, p),
            "roc_auc": roc_auc_score(y, s),
            "log_loss": log_loss(y, y_proba=s, labels=[0, 1]),
            "confusion": confusion_matrix(y, p).tolist(),
            "label_coverage": has.mean(),
            "delays": np.percentile(delays, [50, 95, 99]).tolist(),
        }

    out: dict[str, object] = {"load_seconds": load}
    walls, cpus, values = _timed(metrics, repeat)
    out["realized"] = {"wall": walls, "cpu": cpus}

    def latency() -> list[float]:
        calls = predictions["latency_s"].to_numpy()[predictions["row_index"].to_numpy() == 0]
        return np.percentile(calls, [50, 95, 99]).tolist()

    walls, cpus, lat = _timed(latency, repeat)
    out["latency"] = {"wall": walls, "cpu": cpus}
    out["values"] = {**values, "latency": lat}  # type: ignore[dict-item]
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _child(mode: str, url: str, rows: int, repeat: int) -> dict[str, object]:
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--url",
            url,
            "--rows",
            str(rows),
            "--repeat",
            str(repeat),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"{mode} run failed")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _med(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pandas-repeat", type=int, default=1)
    parser.add_argument("--keep", default=None, help="reuse/keep the store in this directory")
    parser.add_argument(
        "--segments",
        action="store_true",
        help=f"also performance per segment of a feature of {SEGMENTS} values",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        fn = {
            "generate": generate,
            "generate_segments": generate_segments,
            "modeltel": run_modeltel,
            "pandas": run_pandas,
            "segments": run_segments,
        }[args.child]
        result = (
            fn(args.url, args.rows)  # type: ignore[operator]
            if args.child.startswith("generate")
            else fn(args.url, args.rows, args.repeat)  # type: ignore[operator]
        )
        print(json.dumps(result, default=float))
        return

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="modeltel-perf-"))
    url = f"chdb://{folder.resolve() / 'store'}"
    try:
        if not (folder / "store").exists():
            gen = _child("generate", url, args.rows, 1)
            print(
                f"generated {gen['predictions']:,} predictions and {gen['labels']:,} labels "
                f"in {gen['seconds']:.1f}s"
            )
        ours = _child("modeltel", url, args.rows, args.repeat)
        theirs = _child("pandas", url, args.rows, args.pandas_repeat)
        split = None
        if args.segments:
            _child("generate_segments", url, args.rows, 1)
            split = _child("segments", url, args.rows, args.repeat)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    n = f"{args.rows:,}"
    print(f"\n{n} predictions joined with {n} labels (medians of {args.repeat} runs)")
    for key, title in (
        ("realized", "classification metrics incl. ROC AUC, coverage, delays"),
        ("with_estimates", "  … plus CBPE estimates"),
        ("latency", "exact latency p50/p95/p99 over the spans"),
    ):
        timing = ours[key]
        print(
            f"  modeltel  {title:<55} wall {_med(timing['wall']):6.2f}s  "  # type: ignore[index]
            f"cpu {_med(timing['cpu']):6.2f}s"  # type: ignore[index]
        )
    for key, title in (
        ("realized", "pandas merge + scikit-learn metrics"),
        ("latency", "numpy percentiles of the latencies"),
    ):
        timing = theirs[key]
        print(
            f"  pandas    {title:<55} wall {_med(timing['wall']):6.2f}s  "  # type: ignore[index]
            f"cpu {_med(timing['cpu']):6.2f}s"  # type: ignore[index]
        )
    print(
        f"  pandas: loading the rows from the store took {theirs['load_seconds']:.1f}s "
        "(not counted)"
    )
    for key in ("realized", "latency"):
        ratio = _med(theirs[key]["wall"]) / _med(ours[key]["wall"])  # type: ignore[index]
        print(f"  ratio pandas/modeltel ({key}): {ratio:.1f}x wall")
    print(
        f"  peak RSS: modeltel {ours['peak_rss_mb']:.0f} MB, pandas {theirs['peak_rss_mb']:.0f} MB"
    )
    a, b = ours["values"], theirs["values"]
    worst = max(
        abs(a[m] - b[m])  # type: ignore[index]
        for m in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "label_coverage")
    )
    print(f"  largest difference modeltel vs scikit-learn over the metrics: {worst:.2e}")
    lat = max(abs(x - y) for x, y in zip(a["latency"], b["latency"], strict=True))  # type: ignore[index]
    print(f"  largest difference of the latency percentiles: {lat:.2e} s")
    if split is not None:
        _print_segments(split, n, args.repeat)


def _print_segments(split: dict[str, object], n: str, repeat: int) -> None:
    print(f"\nperformance per segment, {n} predictions (medians of {repeat} runs)")
    for key in ("unsegmented", "segmented"):
        timing = split[key]
        title = (
            "overall only" if key == "unsegmented" else f"overall + {timing['segments']} segments"  # type: ignore[index]
        )
        print(
            f"  modeltel  {title:<55} wall {_med(timing['wall']):6.2f}s  "  # type: ignore[index]
            f"cpu {_med(timing['cpu']):6.2f}s"  # type: ignore[index]
        )
    ratio = _med(split["segmented"]["wall"]) / _med(split["unsegmented"]["wall"])  # type: ignore[index]
    print(f"  ratio segmented/unsegmented: {ratio:.2f}x wall")


if __name__ == "__main__":
    main()
