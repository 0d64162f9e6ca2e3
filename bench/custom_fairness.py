"""Custom metrics + fairness benchmark: what 10 custom SQL metrics and fairness over 2 protected
attributes add to an analysis cycle over 1M predictions in one hour window.

Generates the data inside ClickHouse (``numbers()`` + hash-based random functions, straight
into ``ml_predictions``/``ml_features``/``ml_labels``/``ml_reference`` of an embedded store):
one model, 1M predictions in one hour, 20 features per prediction (categorical ``gender``
(3 values) and ``region`` (5 values), numeric ``age`` and ``amount``, 16 random floats),
``prediction_label`` approve/deny with its ``prediction_score``, a label for ~70% of the
predictions, and a 100k-row reference (profiled as an upload does) so that drift, quality and
multivariate have something to compare against. Then, in a fresh process so that peak RSS is
the computation's own, interleaved for ``--repeats`` rounds (after one warm-up round):

- the baseline cycle: ``Analyzer.run`` of every registered kind but ``custom`` and
  ``fairness`` (as :meth:`Analyzer.analyze` does; a kind with nothing to analyze is skipped),
  with neither configured;
- ``run("custom")`` with 10 custom metrics (two with ``needs_labels``), alone in its
  configuration;
- ``run("fairness")`` over ``protected: [gender, age]`` (age cut by bins), favorable approve,
  alone in its configuration;
- both configured, ``run("custom")`` then ``run("fairness")`` as a cycle runs them (one scan
  of the prediction rows serves both): the figure against the ≤ 1 s target.

All runs use ``write=False``. Prints medians of wall and CPU seconds (CPU = the process's
``getrusage`` user + sys, which counts chDB's threads; the machine is shared, so CPU time is the
steadier figure), and peak RSS.

    python bench/custom_fairness.py                        # 1M predictions, 5 rounds
    python bench/custom_fairness.py --predictions 200000   # quick run
"""

from __future__ import annotations

import argparse
import json
import math
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
TARGET_S = 1.0
U = "(cityHash64(number, {seed}) / 18446744073709551616.0)"  # uniform in [0, 1), per row
OTHER = [f"num_{i:02d}" for i in range(16)]

CUSTOM_METRICS = {
    "approval_rate": {"sql": "avg(prediction_label = 'approve')"},
    "high_risk_share": {"sql": "avg(prediction_score > 0.9)", "max": 0.2},
    "mean_amount": {"sql": "avg(feature('amount'))"},
    "amount_p90": {"sql": "quantile(0.9)(feature('amount'))"},
    "north_share": {"sql": "avg(feature('region') = 'north')"},
    "error_cost": {
        "sql": "sum(if(label != prediction_label, feature('amount'), 0))",
        "needs_labels": True,
    },
    "seniors": {"sql": "countIf(feature('age') > 60)"},
    "mean_latency": {"sql": "avg(latency_s)"},
    "max_score": {"sql": "max(prediction_score)"},
    "accuracy": {"sql": "avg(label = prediction_label)", "needs_labels": True, "min": 0.5},
}
FAIRNESS = {
    "protected": ["gender", "age"],
    "bins": {"age": [18, 30, 45, 60, 100]},
    "favorable": "approve",
}


def _u(seed: int, row: str = "number") -> str:
    return U.format(seed=seed).replace("number", row)


def _feature_values(row: str, f: str) -> tuple[str, str]:
    """(value_num, value) SQL of feature number ``f`` (0 gender, 1 region, 2 age, 3 amount,
    4… random floats) of prediction ``row``."""
    u = f"(cityHash64({row}, 100 + {f}) / 18446744073709551616.0)"
    num = (
        f"multiIf({f} < 2, NULL, {f} = 2, floor(18 + 80 * {u}), "
        f"{f} = 3, round(exp(5 + 1.2 * sqrt(-2 * log({u} + 1e-300)) * "
        f"cos(6.283185307179586 * {_u(7, row)})), 2), {u} * (1 + {f}))"
    )
    text = (
        f"multiIf({f} = 0, ['f', 'm', 'x'][1 + toUInt8(floor({u} * 2.1))], "
        f"{f} = 1, ['north', 'south', 'east', 'west', 'central'][1 + toUInt8(floor({u} * 5))], "
        "NULL)"
    )
    return num, text


def _feature_name(f: str) -> str:
    return (
        f"multiIf({f} = 0, 'gender', {f} = 1, 'region', {f} = 2, 'age', {f} = 3, 'amount', "
        f"concat('num_', leftPad(toString({f} - 4), 2, '0')))"
    )


def generate(url: str, predictions: int) -> dict[str, float]:
    from modeltel.analyzer.analyses.drift.profiles import store_reference_profiles
    from modeltel.analyzer.base.sources import ReferenceSource
    from modeltel.analyzer.base.store import Store

    store = Store(url)
    started = time.perf_counter()
    step = HOUR_NS // predictions
    ts = f"fromUnixTimestamp64Nano(toInt64({START_NS} + number * {step}))"
    pid = "lower(hex(sipHash128(number)))"
    score = _u(1)
    store.command(
        "INSERT INTO ml_predictions (model, version, timestamp, prediction_id, task, "
        "prediction_label, prediction_score, latency_s, batch_size, row_index, is_error, "
        f"service_name) SELECT '{MODEL}', '{VERSION}', {ts}, {pid}, 'classification', "
        f"if({score} >= 0.5, 'approve', 'deny'), {score}, "
        f"0.002 * exp(0.8 * sqrt(-2 * log({_u(3)} + 1e-300)) * cos(6.283185307179586 * {_u(4)})), "
        f"1, 0, {_u(5)} < 0.01, 'bench' FROM numbers({predictions})",
        settings={"max_insert_threads": 2},
    )
    num, text = _feature_values("number", "f")
    store.command(
        "INSERT INTO ml_features (model, version, feature, timestamp, prediction_id, value_num, "
        f"value, categorical) SELECT '{MODEL}', '{VERSION}', {_feature_name('f')}, {ts}, {pid}, "
        f"{num}, {text}, f < 2 FROM numbers({predictions}) ARRAY JOIN range(20) AS f",
        settings={"max_insert_threads": 2},
    )
    # ~70% labelled; the true label agrees with a calibrated draw from the score.
    store.command(
        "INSERT INTO ml_labels (model, prediction_id, label, label_value, timestamp, source) "
        f"SELECT '{MODEL}', {pid}, if({_u(2)} < {score}, 'approve', 'deny'), "
        f"if({_u(2)} < {score}, 1, 0), {ts} + toIntervalSecond(toUInt32({_u(6)} * 3600)), "
        f"'bench' FROM numbers({predictions}) WHERE {_u(8)} < 0.7",
        settings={"max_insert_threads": 2},
    )
    ref_num, ref_text = _feature_values("(number + 1000000000)", "f")
    store.command(
        "INSERT INTO ml_reference (model, version, reference, feature, row_id, value, "
        f"value_num, categorical) SELECT '{MODEL}', '{VERSION}', 'default', "
        f"{_feature_name('f')}, number, {ref_text}, {ref_num}, f < 2 "
        f"FROM numbers({REFERENCE_ROWS}) ARRAY JOIN range(20) AS f",
    )
    generated = time.perf_counter() - started
    # Merge the inserted parts now, as a stored hour of data is by the time it is analysed.
    started = time.perf_counter()
    for table in ("ml_predictions", "ml_features", "ml_labels", "ml_reference"):
        store.command(f"OPTIMIZE TABLE {table} FINAL")
    merged = time.perf_counter() - started
    store_reference_profiles(store, ReferenceSource(MODEL, VERSION))
    counts = store.query_rows(
        "SELECT (SELECT count() FROM ml_predictions), (SELECT count() FROM ml_features), "
        "(SELECT count() FROM ml_labels)"
    )[0]
    store.close()
    return {
        "generated_s": generated,
        "merged_s": merged,
        "predictions": counts[0],
        "features": counts[1],
        "labels": counts[2],
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(fn) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    cpu, wall = _cpu(), time.perf_counter()
    result = fn()
    return time.perf_counter() - wall, _cpu() - cpu, result


def measure(url: str, repeats: int) -> dict[str, object]:
    from datetime import UTC, datetime

    from modeltel.analyzer.analyses import ANALYSES
    from modeltel.analyzer.base.errors import ModeltelError, NotFoundError
    from modeltel.analyzer.base.store import Store
    from modeltel.analyzer.base.windows import Window
    from modeltel.analyzer.orchestration.analyzer import Analyzer

    store = Store(url)
    window = Window(
        datetime.fromtimestamp(START_NS / 1e9, UTC),
        datetime.fromtimestamp((START_NS + HOUR_NS) / 1e9, UTC),
    )
    plain = Analyzer(store)
    only_custom = Analyzer(store, {"custom_metrics": CUSTOM_METRICS})
    only_fairness = Analyzer(store, {"fairness": FAIRNESS})
    configured = Analyzer(store, {"custom_metrics": CUSTOM_METRICS, "fairness": FAIRNESS})
    baseline_kinds = [k for k in ANALYSES if k not in ("custom", "fairness")]
    ran: dict[str, int] = {}
    skipped: dict[str, str] = {}

    def baseline() -> int:
        records = 0
        for kind in baseline_kinds:
            try:
                records += len(plain.run(kind, MODEL, VERSION, window=window, write=False))
                ran[kind] = ran.get(kind, 0) + 1
            except NotFoundError as exc:
                skipped[kind] = f"skipped: {exc}"
            except ModeltelError as exc:
                skipped[kind] = f"failed: {exc}"
        return records

    def custom() -> object:
        return only_custom.run("custom", MODEL, VERSION, window=window, write=False)

    def fairness() -> object:
        return only_fairness.run("fairness", MODEL, VERSION, window=window, write=False)

    def both() -> object:
        return tuple(
            configured.run(kind, MODEL, VERSION, window=window, write=False)
            for kind in ("custom", "fairness")
        )

    steps = {"baseline": baseline, "custom": custom, "fairness": fairness, "both": both}
    for fn in steps.values():  # warm-up round: caches, parsed expressions, reference profiles
        fn()
    timings: dict[str, dict[str, list[float]]] = {k: {"wall": [], "cpu": []} for k in steps}
    last: dict[str, object] = {}
    per_kind: dict[str, list[float]] = {k: [] for k in baseline_kinds}
    for _ in range(repeats):  # interleaved: one of each per round
        for name, fn in steps.items():
            wall, cpu, last[name] = _timed(fn)
            timings[name]["wall"].append(wall)
            timings[name]["cpu"].append(cpu)
        for kind in baseline_kinds:  # the baseline's share per kind (wall), for the record
            if kind in skipped:
                continue
            t0 = time.perf_counter()
            plain.run(kind, MODEL, VERSION, window=window, write=False)
            per_kind[kind].append(time.perf_counter() - t0)
    custom_frame = last["custom"]
    fairness_frame = last["fairness"]
    together = last["both"]

    def numbers(frame: object) -> dict[tuple[object, ...], float]:  # quantile() is approximate
        rows = frame[frame["metric"] != "amount_p90"]  # type: ignore[index]
        keys = zip(rows["metric"], rows["segment"], rows["feature"], strict=True)
        return dict(zip(keys, rows["value"], strict=True))

    def same_numbers(a: object, b: object) -> bool:  # sums in another order: 1e-9 relative
        x, y = numbers(a), numbers(b)
        return x.keys() == y.keys() and all(
            math.isclose(x[k], y[k], rel_tol=1e-9) or (math.isnan(x[k]) and math.isnan(y[k]))
            for k in x
        )

    same = all(
        same_numbers(a, b)
        for a, b in zip(together, (custom_frame, fairness_frame), strict=True)  # type: ignore[call-overload]
    )
    values = {
        str(r.metric): r.value
        for r in custom_frame.itertuples()  # type: ignore[attr-defined]
    }
    store.close()
    return {
        "timings": timings,
        "per_kind": {k: v for k, v in per_kind.items() if v},
        "skipped": skipped,
        "custom_records": len(custom_frame),  # type: ignore[arg-type]
        "fairness_records": len(fairness_frame),  # type: ignore[arg-type]
        "custom_values": values,
        "together_same": same,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(mode: str, url: str, predictions: int, repeats: int) -> dict[str, object]:
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--url",
            url,
            "--predictions",
            str(predictions),
            "--repeats",
            str(repeats),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"{mode} run failed")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep", default=None, help="reuse/keep the store in this directory")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = (
            generate(args.url, args.predictions)
            if args.child == "generate"
            else measure(args.url, args.repeats)
        )
        print(json.dumps(result, default=float))
        return

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="modeltel-cf-"))
    url = f"chdb://{folder.resolve() / 'store'}"
    try:
        if not (folder / "store").exists():
            gen = _child("generate", url, args.predictions, 1)
            print(
                f"generated {gen['predictions']:,} predictions, {gen['features']:,} feature "
                f"values, {gen['labels']:,} labels in {gen['generated_s']:.0f} s "
                f"(parts merged in {gen['merged_s']:.0f} s)",
                flush=True,
            )
        out = _child("measure", url, args.predictions, args.repeats)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    t = out["timings"]
    med = {k: (statistics.median(v["wall"]), statistics.median(v["cpu"])) for k, v in t.items()}  # type: ignore[union-attr]
    print(
        f"\n{args.predictions:,} predictions in one hour window, 20 features, ~70% labelled "
        f"(medians of {args.repeats} interleaved rounds after a warm-up)"
    )
    for key, title in (
        ("custom", 'run("custom"): 10 custom metrics'),
        ("fairness", 'run("fairness"): protected gender, age (binned)'),
        ("both", "custom + fairness together"),
        ("baseline", "baseline cycle: " + ", ".join(out["per_kind"])),  # type: ignore[arg-type]
    ):
        wall, cpu = med[key]
        walls = t[key]["wall"]  # type: ignore[index]
        spread = f"({min(walls):.2f}–{max(walls):.2f})"
        print(f"  {title:<58} wall {wall:6.2f}s {spread:<13} cpu {cpu:6.2f}s")
    for kind, walls in out["per_kind"].items():  # type: ignore[union-attr]
        print(f"      {kind:<66} wall {statistics.median(walls):6.2f}s")
    for kind, why in out["skipped"].items():  # type: ignore[union-attr]
        print(f"      {kind}: {why}")
    wall, cpu = med["both"]
    verdict = "meets" if wall <= TARGET_S else "MISSES"
    print(
        f"  added to the cycle by custom + fairness: wall {wall:.2f}s, cpu {cpu:.2f}s — "
        f"{verdict} the ≤ {TARGET_S:g} s target (+{100 * wall / med['baseline'][0]:.0f}% "
        "of the baseline's wall)"
    )
    print(
        f"  records: custom {out['custom_records']}, fairness {out['fairness_records']}; "
        f"peak RSS {out['peak_rss_mib']:.0f} MB; together equal to alone: "
        f"{out['together_same']}"
    )
    values = out["custom_values"]
    print("  custom values: " + ", ".join(f"{k}={v:.4g}" for k, v in values.items()))  # type: ignore[union-attr]


if __name__ == "__main__":
    main()
