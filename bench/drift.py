"""Drift benchmark: 20 numeric + 5 categorical features, reference 1M rows vs current 5M rows.

Generates the data inside ClickHouse (``numbers()`` + random functions, straight into
``ml_reference``/``ml_features``/``ml_predictions`` of an embedded store), then measures, each
in a fresh process so that peak RSS is the computation's own:

- modeltel: ``Analyzer.drift(methods=["all"])`` — every method on every feature, results
  written to ``ml_results``; cold (a fresh process: the reference is counted too, its profile
  read back as an upload stored it — the profiling is timed apart after generation) and warm
  (the reference's counts cached in the process, as in the serving loop);
- scipy on pandas: the same methods hand-written with scipy/numpy on DataFrames (the data
  loaded from the store first, loading timed apart);
- Evidently's ``DataDriftPreset`` when an interpreter with Evidently is given
  (``--evidently-python``; Evidently needs pandas < 3, so it lives in its own virtualenv),
  on ``--evidently-current-rows`` current rows (default 1M: its memory grows past the machine
  otherwise).

Prints medians of ``--repeat`` runs, the ratios, and the largest difference between modeltel's
and scipy's KS statistic and normed Wasserstein distance (binned features: within the bound).

    python bench/drift.py                      # full size (generation takes a few minutes)
    python bench/drift.py --rows 500000        # quick run
"""

from __future__ import annotations

import argparse
import json
import os
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
DAY_NS = 86_400_000_000_000
NUMERIC = [f"num_{i:02d}" for i in range(20)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]


def _numeric_sql(shifted: bool) -> str:
    """One value per (number, f): five families, the first five features drift in current."""
    k = "if(f < 5, 1, 0)" if shifted else "0"
    u = "randUniform(0, 1, number * 64 + f)"
    z = "randNormal(0, 1, number * 64 + f)"
    return f"""multiIf(
        f % 5 = 0, f + (1 + f / 10) * ({z} + 0.2 * {k}),
        f % 5 = 1, exp({z}) * (1 + f) * (1 + 0.1 * {k}),
        f % 5 = 2, {u} * (10 + f) * (1 + 0.05 * {k}),
        f % 5 = 3, -log(1 - {u}) * (1 + f) * (1 + 0.1 * {k}),
        floor({u} * (30 + 2 * {k})))"""


def _category_sql(shifted: bool) -> str:
    power = "if(f = 0, 1.3, 1.5)" if shifted else "1.5"
    u = "randUniform(0, 1, number * 64 + 32 + f)"
    return f"concat('c', toString(toUInt32(floor(pow({u}, {power}) * (3 + 10 * f)))))"


def generate(url: str, reference_rows: int, current_rows: int) -> None:
    from modeltel.analyzer.base.store import Store

    store = Store(url)
    for table in (
        "ml_reference",
        "ml_reference_profiles",
        "ml_features",
        "ml_predictions",
        "ml_results",
    ):
        store.command(f"TRUNCATE TABLE {table}")
    started = time.perf_counter()
    store.command(
        "INSERT INTO ml_reference (model, version, reference, feature, row_id, value, "
        "value_num, categorical) "
        f"SELECT '{MODEL}', '{VERSION}', 'default', concat('num_', leftPad(toString(f), 2, '0')), "
        f"number, NULL, {_numeric_sql(False)}, 0 "
        f"FROM numbers({reference_rows}) ARRAY JOIN range(20) AS f"
    )
    store.command(
        "INSERT INTO ml_reference (model, version, reference, feature, row_id, value, "
        "value_num, categorical) "
        f"SELECT '{MODEL}', '{VERSION}', 'default', concat('cat_', toString(f)), number, "
        f"{_category_sql(False)}, NULL, 1 FROM numbers({reference_rows}) ARRAY JOIN range(5) AS f"
    )
    step = DAY_NS // current_rows
    ts = f"fromUnixTimestamp64Nano(toInt64({START_NS} + number * {step}))"
    store.command(
        "INSERT INTO ml_features (model, version, feature, timestamp, prediction_id, value_num, "
        "value, categorical) "
        f"SELECT '{MODEL}', '{VERSION}', concat('num_', leftPad(toString(f), 2, '0')), {ts}, "
        f"toString(number), {_numeric_sql(True)}, NULL, 0 "
        f"FROM numbers({current_rows}) ARRAY JOIN range(20) AS f"
    )
    store.command(
        "INSERT INTO ml_features (model, version, feature, timestamp, prediction_id, value_num, "
        "value, categorical) "
        f"SELECT '{MODEL}', '{VERSION}', concat('cat_', toString(f)), {ts}, toString(number), "
        f"NULL, {_category_sql(True)}, 1 FROM numbers({current_rows}) ARRAY JOIN range(5) AS f"
    )
    store.command(
        "INSERT INTO ml_predictions (model, version, timestamp, prediction_id, task, "
        "prediction_label, prediction_score, latency_s, batch_size, row_index, is_error, "
        "service_name) "
        f"SELECT '{MODEL}', '{VERSION}', {ts}, toString(number), 'classification', "
        "toString(rand() % 2), randUniform(0, 1), 0.01, 1, 0, 0, 'bench' "
        f"FROM numbers({current_rows})"
    )
    generated = time.perf_counter() - started
    # Merge the inserted parts now, as a stored day of data is by the time it is analysed;
    # otherwise the measurement races the store's background merges of this fresh insert.
    started = time.perf_counter()
    for table in ("ml_reference", "ml_features", "ml_predictions"):
        store.command(f"OPTIMIZE TABLE {table} FINAL")
    merged = time.perf_counter() - started
    # What an upload does last: profile the reference once and keep the profile.
    from modeltel.analyzer.analyses.drift.profiles import store_reference_profiles
    from modeltel.analyzer.base.sources import ReferenceSource

    started = time.perf_counter()
    store_reference_profiles(store, ReferenceSource(MODEL, VERSION))
    print(
        f"generated reference {reference_rows:,} and current {current_rows:,} rows × 25 features "
        f"in {generated:.0f} s, parts merged in {merged:.0f} s; reference profiled at upload in "
        f"{time.perf_counter() - started:.2f} s",
        flush=True,
    )
    store.close()


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_modeltel(url: str) -> dict[str, float]:
    from datetime import UTC, datetime, timedelta

    from modeltel.analyzer.base.store import Store
    from modeltel.analyzer.orchestration.analyzer import Analyzer

    store = Store(url)
    analyzer = Analyzer(store)
    start = datetime.fromtimestamp(START_NS / 1e9, UTC)
    end = datetime.fromtimestamp((START_NS + DAY_NS) / 1e9, UTC)
    base_rss = _peak_rss_mib()
    cpu0, t0 = _cpu(), time.perf_counter()
    cold = analyzer.drift(MODEL, VERSION, start=start, end=end, methods=["all"])
    cold_s, cold_cpu = time.perf_counter() - t0, _cpu() - cpu0
    cold_rss = _peak_rss_mib()
    t1 = time.perf_counter()  # as the loop's next cycle: another window, the same reference
    analyzer.drift(
        MODEL, VERSION, start=start, end=end - timedelta(microseconds=1), methods=["all"]
    )
    warm_s = time.perf_counter() - t1
    values = {
        f"{r.feature}/{r.method}": (r.value, json.loads(r.details))
        for r in cold.itertuples()
        if r.feature
    }
    return {
        "wall_s": cold_s,
        "cpu_s": cold_cpu,
        "warm_s": warm_s,
        "peak_rss_mib": cold_rss,
        "base_rss_mib": base_rss,
        "records": len(cold),
        "values": values,  # type: ignore[dict-item]
    }


def _load_frames(url: str) -> tuple[object, object, float]:
    import numpy as np
    import pandas as pd

    from modeltel.analyzer.base.store import Store

    store = Store(url)
    t0 = time.perf_counter()
    ref, cur = {}, {}
    for feature in NUMERIC + CATEGORICAL:
        column = "value_num" if feature in NUMERIC else "value"
        ref[feature] = store.query_df(
            f"SELECT {column} AS v FROM ml_reference WHERE model = '{MODEL}' AND "
            f"feature = '{feature}' ORDER BY row_id"
        )["v"].to_numpy()
        cur[feature] = store.query_df(
            f"SELECT {column} AS v FROM ml_features WHERE model = '{MODEL}' AND "
            f"feature = '{feature}' ORDER BY timestamp"
        )["v"].to_numpy()
    frames = pd.DataFrame(ref), pd.DataFrame(cur)
    for frame in frames:
        for feature in NUMERIC:
            frame[feature] = frame[feature].astype(np.float64)
    store.close()
    return frames[0], frames[1], time.perf_counter() - t0


def scipy_drift(ref, cur) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Every method with scipy/numpy on pandas, the way a team would write it by hand."""
    import numpy as np
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    def shares(a: np.ndarray) -> np.ndarray:
        return a / a.sum()

    def smooth(a: np.ndarray) -> np.ndarray:
        s = np.where(a > 0, shares(a), 1e-4)
        return s / s.sum()

    out: dict[str, float] = {}
    for feature in NUMERIC + CATEGORICAL:
        r, c = ref[feature].dropna(), cur[feature].dropna()
        if feature in NUMERIC:
            out[f"{feature}/ks"] = stats.ks_2samp(r, c).statistic
            out[f"{feature}/wasserstein"] = stats.wasserstein_distance(r, c) / max(np.std(r), 1e-3)
            edges = np.unique(np.quantile(r, np.linspace(0.1, 0.9, 9), method="inverted_cdf"))
            rb = np.bincount(np.searchsorted(edges, r, side="left"), minlength=edges.size + 1)
            cb = np.bincount(np.searchsorted(edges, c, side="left"), minlength=edges.size + 1)
        else:
            keys = sorted(set(r.unique()) | set(c.unique()))
            rb = r.value_counts().reindex(keys, fill_value=0).to_numpy()
            cb = c.value_counts().reindex(keys, fill_value=0).to_numpy()
            out[f"{feature}/new_category_share"] = cb[rb == 0].sum() / cb.sum()
        rb, cb = rb.astype(float), cb.astype(float)
        out[f"{feature}/chi_squared"] = stats.chi2_contingency(
            np.vstack([rb, cb])[:, (rb + cb) > 0], correction=False
        ).pvalue
        p, q = smooth(rb), smooth(cb)
        out[f"{feature}/psi"] = float(np.sum((q - p) * np.log(q / p)))
        out[f"{feature}/kl_divergence"] = float(stats.entropy(p, q))
        out[f"{feature}/jensen_shannon"] = float(jensenshannon(shares(rb), shares(cb)))
        out[f"{feature}/hellinger"] = float(
            np.sqrt(0.5) * np.linalg.norm(np.sqrt(shares(rb)) - np.sqrt(shares(cb)))
        )
        out[f"{feature}/total_variation"] = float(0.5 * np.abs(shares(rb) - shares(cb)).sum())
    return out


def measure_scipy(url: str, export_dir: str | None) -> dict[str, object]:
    ref, cur, load_s = _load_frames(url)
    cpu0, t0 = _cpu(), time.perf_counter()
    values = scipy_drift(ref, cur)
    result: dict[str, object] = {
        "wall_s": time.perf_counter() - t0,
        "cpu_s": _cpu() - cpu0,
        "load_s": load_s,
        "peak_rss_mib": _peak_rss_mib(),
        "values": values,
    }
    if export_dir:
        ref.to_parquet(Path(export_dir) / "reference.parquet")  # type: ignore[attr-defined]
        cur.to_parquet(Path(export_dir) / "current.parquet")  # type: ignore[attr-defined]
    return result


EVIDENTLY_SCRIPT = """
import json, resource, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
folder, rows = sys.argv[1], int(sys.argv[2])
ref = pd.read_parquet(folder + "/reference.parquet")
cur = pd.read_parquet(folder + "/current.parquet").iloc[:rows]
num = [c for c in ref.columns if c.startswith("num_")]
cat = [c for c in ref.columns if c.startswith("cat_")]
definition = DataDefinition(numerical_columns=num, categorical_columns=cat)
t0 = time.perf_counter()
Report([DataDriftPreset()]).run(
    Dataset.from_pandas(cur, data_definition=definition),
    Dataset.from_pandas(ref, data_definition=definition),
)
print(json.dumps({"wall_s": time.perf_counter() - t0,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "current_rows": len(cur)}))
"""


def _child(args: list[str]) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{args[-1]} run failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(runs: list[dict[str, object]], key: str) -> float:
    return statistics.median(float(r[key]) for r in runs)  # type: ignore[arg-type]


def _agreement(ours: dict[str, object], theirs: dict[str, float]) -> str:
    worst: dict[str, float] = {}
    bounds: dict[str, float] = {}
    for key, (value, details) in ours.items():  # type: ignore[misc]
        method = key.split("/")[1]
        if key not in theirs or value is None:
            continue
        if method == "ks":
            mine, bound = details["statistic"], details.get("statistic_upper_bound", 0.0)
            bound = max(bound - mine, 0.0)
        elif method == "wasserstein":
            mine, bound = value, details.get("bound", 0.0)
        else:
            continue
        diff = abs(mine - theirs[key])
        if diff >= worst.get(method, -1):
            worst[method], bounds[method] = diff, bound
    return ", ".join(f"{m}: max |Δ| {worst[m]:.2e} (bound there {bounds[m]:.2e})" for m in worst)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="current rows (5M)")
    parser.add_argument("--reference-rows", type=int, default=None, help="(rows / 5)")
    parser.add_argument("--store", default=None, help="embedded store folder (a temp folder)")
    parser.add_argument("--reuse", action="store_true", help="keep the data already in --store")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-scipy", action="store_true")
    parser.add_argument("--evidently-python", default=os.environ.get("EVIDENTLY_PYTHON"))
    parser.add_argument("--evidently-current-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--child", choices=["generate", "modeltel", "scipy"], help=argparse.SUPPRESS
    )
    parser.add_argument("--export", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = Path(args.store or tempfile.mkdtemp(prefix="modeltel-bench-"))
    url = f"chdb://{folder.resolve()}"
    reference_rows = args.reference_rows or max(args.rows // 5, 1)
    if args.child == "generate":  # chDB: one store path per process, so each step is a child
        generate(url, reference_rows, args.rows)
        return
    if args.child == "modeltel":
        print(json.dumps(measure_modeltel(url), default=str))
        return
    if args.child == "scipy":
        print(json.dumps(measure_scipy(url, args.export), default=float))
        return
    common = ["--store", str(folder), "--rows", str(args.rows)]
    if args.reference_rows:
        common += ["--reference-rows", str(args.reference_rows)]
    if not args.reuse:
        subprocess.run([sys.executable, __file__, *common, "--child", "generate"], check=True)
    ours = [_child([*common, "--child", "modeltel"]) for _ in range(args.repeat)]
    runs = ", ".join(f"{float(r['wall_s']):.2f}" for r in ours)  # type: ignore[arg-type]
    print(
        f"modeltel  {reference_rows:,} vs {args.rows:,} rows, 25 features, all methods: "
        f"wall {_median(ours, 'wall_s'):.2f} s (runs {runs}), "
        f"cpu {_median(ours, 'cpu_s'):.2f} s, "
        f"warm (reference counts cached in the process) {_median(ours, 'warm_s'):.2f} s, "
        f"peak RSS {_median(ours, 'peak_rss_mib'):.0f} MiB "
        f"(of which {_median(ours, 'base_rss_mib'):.0f} MiB before the computation), "
        f"{ours[0]['records']} records",
        flush=True,
    )
    export = tempfile.mkdtemp(prefix="modeltel-bench-parquet-") if args.evidently_python else None
    if not args.no_scipy:
        scipy_args = [*common, "--child", "scipy"] + (["--export", export] if export else [])
        theirs = _child(scipy_args)
        print(
            f"scipy     same data on pandas: wall {theirs['wall_s']:.2f} s "
            f"(+ {theirs['load_s']:.1f} s to load it), cpu {theirs['cpu_s']:.2f} s, "
            f"peak RSS {theirs['peak_rss_mib']:.0f} MiB",
            flush=True,
        )
        wall_ratio = float(theirs["wall_s"]) / _median(ours, "wall_s")  # type: ignore[arg-type]
        rss_ratio = float(theirs["peak_rss_mib"]) / _median(ours, "peak_rss_mib")  # type: ignore[arg-type]
        print(
            f"ratio     scipy/modeltel: wall {wall_ratio:.1f}×, peak RSS {rss_ratio:.1f}×",
            flush=True,
        )
        print("agreement " + _agreement(ours[0]["values"], theirs["values"]), flush=True)  # type: ignore[arg-type]
    if export and args.evidently_python:
        run = subprocess.run(
            [
                args.evidently_python,
                "-c",
                EVIDENTLY_SCRIPT,
                export,
                str(args.evidently_current_rows),
            ],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            print(f"evidently failed: {run.stderr.strip().splitlines()[-1:]}", flush=True)
        else:
            ev = json.loads(run.stdout.strip().splitlines()[-1])
            print(
                f"evidently DataDriftPreset {reference_rows:,} vs {ev['current_rows']:,} rows: "
                f"wall {ev['wall_s']:.1f} s, peak RSS {ev['peak_rss_mib']:.0f} MiB; "
                f"ratio to modeltel ({args.rows:,} current rows): "
                f"wall {ev['wall_s'] / _median(ours, 'wall_s'):.1f}×, "
                f"peak RSS {ev['peak_rss_mib'] / _median(ours, 'peak_rss_mib'):.1f}×",
                flush=True,
            )
        shutil.rmtree(export, ignore_errors=True)
    if not args.store:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
