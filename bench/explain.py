"""``explain`` benchmark: which slice explains an accuracy drop, over 1M labelled predictions
per hour with 20 features, against the ≤ 5 s target.

Generates the data inside ClickHouse (``numbers()`` + hash-based random functions, straight
into ``ml_predictions``/``ml_features``/``ml_labels``/``ml_reference`` of an embedded store):
one binary classifier, two consecutive hours of ``--predictions`` predictions each, 20 features
per prediction — 5 categorical (``region`` 6 values, ``channel`` 4, ``plan`` 3, ``device`` 5,
``segment`` 8) and 15 numeric (random floats, cut at the deciles of a 100k-row reference) —
and a label for ~70 % of them. In the second hour the labels of ``region=east`` agree with
the prediction far less often (the planted cause). Then, in a fresh process so that peak RSS
is the computation's own, ``Analyzer.explain`` of accuracy (the second hour against the first)
``--repeats`` times after one warm-up: prints the median and spread of wall and CPU seconds,
peak RSS, and the top slice with its share of the fall (it must be ``region=east``).

    python bench/explain.py                          # 1M predictions per hour, 5 rounds
    python bench/explain.py --predictions 200000     # quick run
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
HOUR_NS = 3_600_000_000_000
REFERENCE_ROWS = 100_000
TARGET_S = 5.0
CATEGORIES = {
    "region": ["north", "south", "east", "west", "central", "islands"],
    "channel": ["web", "app", "phone", "branch"],
    "plan": ["basic", "plus", "pro"],
    "device": ["ios", "android", "desktop", "tablet", "tv"],
    "segment": [f"s{i}" for i in range(8)],
}
NUMERIC = [f"num_{i:02d}" for i in range(15)]


def _u(seed: int, row: str = "number") -> str:
    """A uniform draw in [0, 1) per row."""
    return f"(cityHash64({row}, {seed}) / 18446744073709551616.0)"


def _feature_sql(row: str) -> tuple[str, str, str, str]:
    """(name, value_num, value, categorical) SQL of feature ``f`` of row ``row``."""
    names = [*CATEGORIES, *NUMERIC]
    arrays = ", ".join(str(values) for values in CATEGORIES.values())
    u = f"(cityHash64({row}, 100 + f) / 18446744073709551616.0)"
    k = len(CATEGORIES)
    name = f"{names}[f + 1]"
    text = (
        f"if(f < {k}, [{arrays}][f + 1][1 + toUInt32(floor({u} * length([{arrays}][f + 1])))], "
        "NULL)"
    )
    num = f"if(f < {k}, NULL, {u} * (f - {k - 1}))"
    return name, num, text, f"f < {k}"


def generate(url: str, predictions: int) -> dict[str, float]:
    from modeltel.analyzer.base.store import Store

    store = Store(url)
    started = time.perf_counter()
    total = 2 * predictions
    step = 2 * HOUR_NS // total
    ts = f"fromUnixTimestamp64Nano(toInt64({START_NS} + number * {step}))"
    pid = "lower(hex(sipHash128(number)))"
    score = _u(1)
    store.command(
        "INSERT INTO ml_predictions (model, version, timestamp, prediction_id, task, "
        "prediction_label, prediction_score, latency_s, batch_size, row_index, is_error, "
        f"service_name) SELECT '{MODEL}', '{VERSION}', {ts}, {pid}, 'classification', "
        f"if({score} >= 0.5, 'yes', 'no'), {score}, 0.002, 1, 0, 0, 'bench' "
        f"FROM numbers({total})",
        settings={"max_insert_threads": 2},
    )
    name, num, text, categorical = _feature_sql("number")
    store.command(
        "INSERT INTO ml_features (model, version, feature, timestamp, prediction_id, value_num, "
        f"value, categorical) SELECT '{MODEL}', '{VERSION}', {name}, {ts}, {pid}, {num}, "
        f"{text}, {categorical} FROM numbers({total}) ARRAY JOIN range(20) AS f",
        settings={"max_insert_threads": 2},
    )
    # region is feature 0: its value is drawn with seed 100 + 0, as in _feature_sql.
    regions = CATEGORIES["region"]
    region = f"{regions}[1 + toUInt32(floor({_u(100)} * {len(regions)}))]"
    east_after = f"(number >= {predictions} AND {region} = 'east')"
    agree = f"{_u(2)} < if({east_after}, 0.35, 0.9)"
    store.command(
        "INSERT INTO ml_labels (model, prediction_id, label, label_value, timestamp, source) "
        f"SELECT '{MODEL}', {pid}, if({agree}, if({score} >= 0.5, 'yes', 'no'), "
        f"if({score} >= 0.5, 'no', 'yes')), NULL, {ts} + toIntervalSecond(60), 'bench' "
        f"FROM numbers({total}) WHERE {_u(8)} < 0.7",
        settings={"max_insert_threads": 2},
    )
    name, num, text, categorical = _feature_sql("(number + 1000000000)")
    store.command(
        "INSERT INTO ml_reference (model, version, reference, feature, row_id, value, "
        f"value_num, categorical) SELECT '{MODEL}', '{VERSION}', 'default', {name}, number, "
        f"{text}, {num}, {categorical} FROM numbers({REFERENCE_ROWS}) ARRAY JOIN range(20) AS f",
    )
    generated = time.perf_counter() - started
    for table in ("ml_predictions", "ml_features", "ml_labels", "ml_reference"):
        store.command(f"OPTIMIZE TABLE {table} FINAL")
    counts = store.query_rows(
        "SELECT (SELECT count() FROM ml_predictions), (SELECT count() FROM ml_features), "
        "(SELECT count() FROM ml_labels)"
    )[0]
    store.close()
    return {"generated_s": generated, "predictions": counts[0], "features": counts[1]}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(url: str, repeats: int) -> dict[str, object]:
    from datetime import UTC, datetime

    from modeltel.analyzer.base.store import Store
    from modeltel.analyzer.orchestration.analyzer import Analyzer

    store = Store(url)
    analyzer = Analyzer(store)
    end = datetime.fromtimestamp((START_NS + 2 * HOUR_NS) / 1e9, UTC)
    walls, cpus = [], []
    result = None
    for i in range(repeats + 1):
        cpu, wall = _cpu(), time.perf_counter()
        result = analyzer.explain(MODEL, VERSION, metric="accuracy", window="1h", end=end)
        if i:  # the first round warms up
            walls.append(time.perf_counter() - wall)
            cpus.append(_cpu() - cpu)
    assert result is not None
    top = result.slices[0]
    return {
        "wall_s": walls,
        "cpu_s": cpus,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "summary": result.summary(),
        "top": top.name,
        "top_explained": top.part.contribution / result.change,
        "slices": len(result.slices),
        "pairs": len(result.pairs),
        "dimensions": len(result.dimensions),
    }


def _child(task: str, url: str, predictions: int, repeats: int) -> dict:
    """Run ``task`` in a fresh process (one process opens an embedded store at a time)."""
    out = subprocess.run(
        [
            *(sys.executable, __file__, "--child", task, "--url", url),
            *("--predictions", str(predictions), "--repeats", str(repeats)),
        ],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", type=int, default=1_000_000, help="per hour")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        done = (
            generate(args.url, args.predictions)
            if args.child == "generate"
            else measure(args.url, args.repeats)
        )
        print(json.dumps(done))
        return
    tmp = Path(tempfile.mkdtemp(prefix="modeltel-bench-explain-"))
    try:
        url = f"chdb://{tmp / 'store'}"
        made = _child("generate", url, args.predictions, args.repeats)
        print(
            f"generated {made['predictions']:,} predictions, {made['features']:,} feature rows "
            f"in {made['generated_s']:.1f} s"
        )
        figures = _child("measure", url, args.predictions, args.repeats)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    walls, cpus = figures["wall_s"], figures["cpu_s"]
    print(
        f"explain accuracy, {args.predictions:,} predictions per hour, 20 features "
        f"({figures['dimensions']} dimensions, {figures['slices']} slices shown, "
        f"{figures['pairs']} pairs), {args.repeats} rounds after a warm-up:"
    )
    print(
        f"  wall median {statistics.median(walls):.2f} s (min {min(walls):.2f}, max "
        f"{max(walls):.2f}); CPU median {statistics.median(cpus):.2f} s; peak RSS "
        f"{figures['peak_rss_mib']:.0f} MiB; target ≤ {TARGET_S:.0f} s: "
        f"{'met' if statistics.median(walls) <= TARGET_S else 'MISSED'}"
    )
    print(f"  top slice {figures['top']} explains {100 * figures['top_explained']:.0f} %")
    print(f"  {figures['summary']}")


if __name__ == "__main__":
    main()
