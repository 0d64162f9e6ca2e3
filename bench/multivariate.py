"""Multivariate drift benchmark: 1,000,000 current predictions × 20 numerical features.

Generates the data inside ClickHouse (``numbers()`` + hash-seeded normals, straight into
``ml_reference``, ``ml_features`` and ``ml_predictions`` of an embedded store): 20 features
driven by 5 latent factors plus noise; the current hour flips the sign of one factor's
loadings on half of the features (marginals unchanged, correlations changed). Then measures
in this process, ``--repeat`` times each, median wall time and the CPU time of the process:

- ``Analyzer.multivariate`` cold: PCA fitted on a ~20,000-row reference sample in Python,
  every reference row scored in ClickHouse (threshold and per-row outlier threshold), then
  the window's mean reconstruction error, outlier ratio and worst ids;
- the same warm (the fitted reference cached, as in the analysis loop);
- ``Analyzer.outliers(method="multivariate")``: the window's 20 worst predictions with the
  features contributing to their error.

Python only ever holds the reference sample (~20,000 × 20) and the components (20 × k).

    python bench/multivariate.py                 # 1M current rows, 100k reference rows
    python bench/multivariate.py --rows 200000   # quick run
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

MODEL, VERSION = "bench", "1"
START = datetime(2026, 1, 1, tzinfo=UTC)
FEATURES = 20
FACTORS = 5


def _normal(row: str, salt: str) -> str:
    """A standard normal that depends only on (row, salt): Box–Muller on two hashes."""
    u1 = f"((cityHash64({row}, {salt}, 1) % 9007199254740992) + 0.5) / 9007199254740992"
    u2 = f"((cityHash64({row}, {salt}, 2) % 9007199254740992) + 0.5) / 9007199254740992"
    return f"(sqrt(-2 * ln({u1})) * cos(2 * pi() * {u2}))"


def _feature(row: str, flipped: bool) -> str:
    """Feature f of row: Σ_l loading(f, l)·factor_l + noise; factor 0 flips sign on odd f."""
    terms = []
    for factor in range(FACTORS):
        loading = f"(((f * 7 + {factor} * 13) % 11) / 10.0 - 0.5)"
        if flipped and factor == 0:
            loading = f"({loading} * if(f % 2 = 1, -1, 1))"
        terms.append(f"{loading} * {_normal(row, str(100 + factor))}")
    noise = f"0.5 * {_normal(row, 'f')}"
    return f"(10 + f + {' + '.join(terms)} + {noise})"


def generate(store, reference_rows: int, current_rows: int) -> None:  # type: ignore[no-untyped-def]
    for table in ("ml_reference", "ml_features", "ml_predictions", "ml_results"):
        store.command(f"TRUNCATE TABLE {table}")
    started = time.perf_counter()
    store.command(
        "INSERT INTO ml_reference (model, version, reference, feature, row_id, value, "
        "value_num, categorical) "
        f"SELECT '{MODEL}', '{VERSION}', 'default', concat('f', leftPad(toString(f), 2, '0')), "
        f"number, NULL, {_feature('number', False)}, 0 "
        f"FROM numbers({reference_rows}) ARRAY JOIN range({FEATURES}) AS f"
    )
    start_ns = int(START.timestamp()) * 10**9
    step_ns = 3_600 * 10**9 // current_rows
    row = f"number + {reference_rows}"
    store.command(
        "INSERT INTO ml_features (model, version, feature, timestamp, prediction_id, value_num, "
        f"value, categorical) SELECT '{MODEL}', '{VERSION}', "
        "concat('f', leftPad(toString(f), 2, '0')), "
        f"fromUnixTimestamp64Nano(toInt64({start_ns} + number * {step_ns})), "
        f"concat('p-', toString(number)), {_feature(row, True)}, NULL, 0 "
        f"FROM numbers({current_rows}) ARRAY JOIN range({FEATURES}) AS f"
    )
    store.command(
        "INSERT INTO ml_predictions (model, version, timestamp, prediction_id, task, "
        "prediction_value, latency_s, batch_size, row_index, is_error, service_name) "
        f"SELECT '{MODEL}', '{VERSION}', "
        f"fromUnixTimestamp64Nano(toInt64({start_ns} + number * {step_ns})), "
        "concat('p-', toString(number)), 'regression', 0, 0.01, 1, 0, 0, 'bench' "
        f"FROM numbers({current_rows})"
    )
    store.command("OPTIMIZE TABLE ml_features FINAL")
    print(
        f"generated {reference_rows:,} reference and {current_rows:,} current rows × "
        f"{FEATURES} features in {time.perf_counter() - started:.1f} s",
        flush=True,
    )


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(label: str, repeat: int, run) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    walls, cpus = [], []
    for _ in range(repeat):
        cpu, wall = _cpu(), time.perf_counter()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(_cpu() - cpu)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    runs = ", ".join(f"{w:.2f}" for w in walls)
    print(f"{label:<44} median {wall:6.2f} s wall  {cpu:6.2f} s CPU   (runs: {runs})", flush=True)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="current predictions")
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--store", default=None, help="embedded store folder (default: a temp one)")
    args = parser.parse_args()

    from modeltel.analyzer.base.store import Store
    from modeltel.analyzer.orchestration.analyzer import Analyzer

    folder = Path(args.store or tempfile.mkdtemp(prefix="modeltel-mv-bench-"))
    store = Store(f"chdb://{folder.resolve()}", "bench")
    existing = store.query_rows(
        "SELECT (SELECT count() FROM ml_features), (SELECT count() FROM ml_reference)"
    )[0]
    wanted = (args.rows * FEATURES, args.reference_rows * FEATURES)
    if tuple(int(x) for x in existing) != wanted:
        generate(store, args.reference_rows, args.rows)
    window = {"start": START, "end": START + timedelta(hours=1)}

    def cold() -> None:
        Analyzer(store, {}).multivariate(MODEL, VERSION, write=False, **window)

    analyzer = Analyzer(store, {})
    result = analyzer.multivariate(MODEL, VERSION, write=False, **window)

    def warm() -> None:
        analyzer.multivariate(MODEL, VERSION, write=False, **window)

    def worst() -> None:
        analyzer.outliers(MODEL, VERSION, method="multivariate", limit=20, **window)

    print(f"{args.rows:,} current rows × {FEATURES} features, reference {args.reference_rows:,}")
    measure("multivariate drift, cold (fit + reference)", args.repeat, cold)
    measure("multivariate drift + outlier ratio, warm", args.repeat, warm)
    measure("worst 20 predictions (per-row scores)", args.repeat, worst)
    for record in result.to_dict("records"):
        print(
            f"  {record['metric']:<22} {record['value']:.4f}  threshold "
            f"{record['threshold']:.4f}  {record['status']:<6} n={record['current_size']:,}"
        )
    details = result.iloc[0]["details"]
    print(f"  model: {details}")
    top = analyzer.outliers(MODEL, VERSION, method="multivariate", limit=3, **window)
    print(top.to_string(index=False))
    store.close()


if __name__ == "__main__":
    main()
