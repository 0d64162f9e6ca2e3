"""Fleet benchmark: what one full analysis cycle costs per model version, as the analysis loop
runs it, for fleets of ``--models`` model versions (default 50 and 200).

For each fleet size the data is generated inside ClickHouse (``numbers()`` + hash-based random
functions, a few ``INSERT … SELECT`` for the whole fleet, straight into
``ml_predictions``/``ml_features``/``ml_labels``/``ml_reference`` of a fresh embedded store,
parts merged with ``OPTIMIZE TABLE … FINAL``). Per model (``fleet-0000`` …, version ``1``):
10 features (numeric ``num_0``…``num_7``, categorical ``cat_0`` (4 values) and ``cat_1``
(6 values); ``num_0`` drifted in every tenth model), a 5,000-row reference (profiled with
``store_reference_profiles`` as an upload does), and 2,000 classification predictions per hour
(``prediction_label`` approve/deny with its ``prediction_score``, ``latency_s``, 1 % errors),
~70 % of them labelled. The last hour (the measured window) ends at the hour the run starts
in; the hours before it hold the same traffic.

Then, in a fresh process so that peak RSS is the computation's own, the analysis loop as
``modeltel serve``/``modeltel analyzer`` build it (``AnalysisLoop(store, {}, every=60,
window_s=3600, publisher=MetricsPublisher(store))``, default configuration, no OTLP push):

1. a warm-up cycle over the hour before the measured ones (imports, caches, the loop's shared
   Analyzer), then ``--cycles`` measured cycles, each over the next hour. Each measured window
   is one the loop has not analysed and holds new predictions, so every version gets the full
   cycle (every registered analysis, then its health score and retrain verdict) — a second
   cycle over an analysed window would only move staleness on
   (:mod:`modeltel.analyzer.orchestration.coverage`). Prints wall, wall per model version, CPU
   (``getrusage`` user + sys of the process, chDB's threads included), peak RSS and the ratio
   to the ≤ 60 ms per model version target;
2. ``/metrics`` after the cycle, rendered as its endpoint does (the publisher's, ingest and
   store-size expositions concatenated): bytes, series lines, render time. The first render
   re-reads the results snapshot (the cycle's is stamped with the window's end, older than
   the publisher's ten seconds) and the store's ingest and size tables; the next are cached;
3. ``list_models`` (``GET /api/models``, ``modeltel models``): first call and median of three;
4. where the cycle's time goes: the loop's runners (each analysis over the fleet), health
   score, retrain verdict, the result inserts, the listing and coverage queries and the
   publisher's refresh are wrapped with timers for the measured cycles (wrapping costs
   microseconds per call), summed across the fleet.

``--profile FILE`` runs the measured cycles of the first size under cProfile (their timings
are then inflated) and writes the top 40 functions by cumulative time and the top 30 by own
time to ``FILE``.
The machine may be shared: the load average is printed with the figures.

    python bench/fleet.py                          # 50 and 200 model versions
    python bench/fleet.py --models 50,200,1000     # 1000 takes a while
    python bench/fleet.py --models 50 --profile /tmp/fleet_profile.txt
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

VERSION = "1"
HOUR_NS = 3_600_000_000_000
PER_HOUR = 2_000
REFERENCE_ROWS = 5_000
LABELLED = 0.7
TARGET_S = 0.060
FEATURES = 10  # num_0 … num_7, cat_0, cat_1
U = "(cityHash64({row}, {seed}) / 18446744073709551616.0)"  # uniform in [0, 1), per row


def _u(seed: int | str, row: str = "number") -> str:
    return U.format(row=row, seed=seed)


def _normal(row: str, a: int | str, b: int | str) -> str:
    return f"(sqrt(-2 * log({_u(a, row)} + 1e-300)) * cos(6.283185307179586 * {_u(b, row)}))"


def _model(index: str) -> str:
    return f"concat('fleet-', leftPad(toString({index}), 4, '0'))"


def _feature_name(f: str) -> str:
    return f"multiIf({f} < 8, concat('num_', toString({f})), {f} = 8, 'cat_0', 'cat_1')"


def _feature_values(row: str, f: str, model: str, drifted: bool) -> tuple[str, str]:
    """(value_num, value) SQL of feature number ``f`` of row ``row`` of model index ``model``;
    ``drifted``: ``num_0`` of every tenth model is shifted by one standard deviation."""
    shift = f" + if({f} = 0 AND {model} % 10 = 0, 1.0, 0.0)" if drifted else ""
    normal = _normal(row, f"100 + {f}", f"200 + {f}")
    num = f"if({f} < 8, {normal} * (1 + {f} / 4) + {f}{shift}, NULL)"
    u = _u(f"300 + {f}", row)
    text = (
        f"multiIf({f} = 8, ['a', 'b', 'c', 'd'][1 + toUInt8(floor({u} * 4))], "
        f"{f} = 9, ['p', 'q', 'r', 's', 't', 'u'][1 + toUInt8(floor(pow({u}, 1.3) * 6))], NULL)"
    )
    return num, text


def generate(url: str, models: int, hours: int, end_ns: int) -> dict[str, float]:
    from modeltel.analyzer.analyses.drift.profiles import store_reference_profiles
    from modeltel.analyzer.base.sources import ReferenceSource
    from modeltel.analyzer.base.store import Store

    store = Store(url)
    started = time.perf_counter()
    per_model = hours * PER_HOUR
    rows = models * per_model
    start_ns = end_ns - hours * HOUR_NS
    index = f"intDiv(number, {per_model})"
    ts = (
        f"fromUnixTimestamp64Nano(toInt64({start_ns} + (number % {per_model}) * "
        f"{HOUR_NS // PER_HOUR} + toUInt64({_u(9)} * {HOUR_NS // PER_HOUR})))"
    )
    pid = "lower(hex(sipHash128(number)))"
    score = _u(1)
    insert = {"max_insert_threads": 2}
    store.command(
        "INSERT INTO ml_predictions (model, version, timestamp, prediction_id, task, "
        "prediction_label, prediction_score, latency_s, batch_size, row_index, is_error, "
        f"service_name) SELECT {_model(index)}, '{VERSION}', {ts}, {pid}, 'classification', "
        f"if({score} >= 0.5, 'approve', 'deny'), {score}, "
        f"0.002 * exp(0.8 * {_normal('number', 3, 4)}), 1, 0, {_u(5)} < 0.01, 'fleet' "
        f"FROM numbers({rows})",
        settings=insert,
    )
    num, text = _feature_values("number", "f", index, drifted=True)
    store.command(
        "INSERT INTO ml_features (model, version, feature, timestamp, prediction_id, value_num, "
        f"value, categorical) SELECT {_model(index)}, '{VERSION}', {_feature_name('f')}, {ts}, "
        f"{pid}, {num}, {text}, f >= 8 FROM numbers({rows}) ARRAY JOIN range({FEATURES}) AS f",
        settings=insert,
    )
    # ~70% labelled, within ten minutes; the true label agrees with a draw from the score.
    store.command(
        "INSERT INTO ml_labels (model, prediction_id, label, label_value, timestamp, source) "
        f"SELECT {_model(index)}, {pid}, if({_u(2)} < {score}, 'approve', 'deny'), "
        f"if({_u(2)} < {score}, 1, 0), {ts} + toIntervalSecond(toUInt32({_u(6)} * 600)), "
        f"'fleet' FROM numbers({rows}) WHERE {_u(8)} < {LABELLED}",
        settings=insert,
    )
    ref_row = "(number + 1000000000000)"
    ref_index = f"intDiv(number, {REFERENCE_ROWS})"
    ref_num, ref_text = _feature_values(ref_row, "f", ref_index, drifted=False)
    store.command(
        "INSERT INTO ml_reference (model, version, reference, feature, row_id, value, "
        f"value_num, categorical) SELECT {_model(ref_index)}, '{VERSION}', 'default', "
        f"{_feature_name('f')}, number % {REFERENCE_ROWS}, {ref_text}, {ref_num}, f >= 8 "
        f"FROM numbers({models * REFERENCE_ROWS}) ARRAY JOIN range({FEATURES}) AS f",
        settings=insert,
    )
    generated = time.perf_counter() - started
    # Merge the inserted parts now, as a stored hour of data is by the time it is analysed.
    started = time.perf_counter()
    for table in ("ml_predictions", "ml_features", "ml_labels", "ml_reference"):
        store.command(f"OPTIMIZE TABLE {table} FINAL")
    merged = time.perf_counter() - started
    started = time.perf_counter()
    for m in range(models):
        store_reference_profiles(store, ReferenceSource(f"fleet-{m:04d}", VERSION))
    profiled = time.perf_counter() - started
    counts = store.query_rows(
        "SELECT (SELECT count() FROM ml_predictions), (SELECT count() FROM ml_features), "
        "(SELECT count() FROM ml_labels), (SELECT count() FROM ml_reference)"
    )[0]
    store.close()
    return {
        "generated_s": generated,
        "merged_s": merged,
        "profiled_s": profiled,
        "predictions": counts[0],
        "features": counts[1],
        "labels": counts[2],
        "reference": counts[3],
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Phases:
    """Cumulative wall and CPU seconds per phase of the cycle, and analyses skipped."""

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = {}
        self.skipped: dict[str, int] = {}
        self.current = ""

    def timed(self, name: str | None, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` timed under ``name`` (None: the phase that called last, for shared helpers)."""
        from modeltel.analyzer.base.errors import NotFoundError

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            phase = self.current if name is None else name
            if name is not None:
                self.current = name
            wall, cpu = time.perf_counter(), _cpu()
            try:
                return fn(*args, **kwargs)
            except NotFoundError:
                self.skipped[phase] = self.skipped.get(phase, 0) + 1
                raise
            finally:
                total = self.totals.setdefault(phase, [0.0, 0.0])
                total[0] += time.perf_counter() - wall
                total[1] += _cpu() - cpu

        return wrapper

    def timed_results(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` (a runner's ``results``) timed under ``name``, the versions it skipped
        (NotFoundError) counted."""
        from modeltel.analyzer.base.errors import NotFoundError

        timed = self.timed(name, fn)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            results, errors = timed(*args, **kwargs)
            skipped = sum(isinstance(e, NotFoundError) for e in errors.values())
            if skipped:
                self.skipped[name] = self.skipped.get(name, 0) + skipped
            return results, errors

        return wrapper


def _instrument(loop: Any, publisher: Any, phases: Phases) -> None:
    """Wrap the loop's runners and the other steps of a cycle with ``phases`` timers."""
    from modeltel.analyzer.orchestration import loop as loop_module

    for kind, runner in list(loop.runners.items()):
        runner.results = phases.timed_results(kind, runner.results)
    loop_module.latest_records = phases.timed("health", loop_module.latest_records)
    loop_module.health_records = phases.timed("health", loop_module.health_records)
    loop_module.write_results = phases.timed("result inserts", loop_module.write_results)
    loop.retrain.record = phases.timed("retrain", loop.retrain.record)
    loop.retrain.evidence = phases.timed("retrain", loop.retrain.evidence)
    loop_module.coverage = phases.timed("listing + coverage", loop_module.coverage)
    listings = loop_module.listings
    listings.model_versions = phases.timed("listing + coverage", listings.model_versions)
    publisher.refresh = phases.timed("publisher refresh", publisher.refresh)


def _metrics_body(store: Any, publisher: Any) -> Callable[[], bytes]:
    """What ``GET /metrics`` answers (:func:`metrics_router`), as a function."""
    from modeltel.analyzer.server.metrics_endpoint import IngestMetrics, StoreMetrics

    ingest = IngestMetrics(store, None)
    storage = StoreMetrics(store)
    return lambda: (
        publisher.prometheus_text() + ingest.prometheus_text() + storage.prometheus_text()
    )


def measure(url: str, cycles: int, end_ns: int, profile: str | None) -> dict[str, object]:
    from modeltel.analyzer.base.store import Store
    from modeltel.analyzer.export.publisher import MetricsPublisher
    from modeltel.analyzer.orchestration.loop import AnalysisLoop
    from modeltel.analyzer.web.data import list_models

    store = Store(url)
    publisher = MetricsPublisher(store, exporter=False)
    loop = AnalysisLoop(store, {}, every=60, window_s=3600, publisher=publisher)
    end_s = end_ns / 1e9

    started = time.perf_counter()
    warm = loop.run_once(now=end_s - cycles * 3600)
    warm_s = time.perf_counter() - started

    phases = Phases()
    _instrument(loop, publisher, phases)
    profiler = cProfile.Profile() if profile else None
    walls: list[float] = []
    cpus: list[float] = []
    report = warm
    for c in range(cycles):
        now = end_s - (cycles - 1 - c) * 3600
        wall, cpu = time.perf_counter(), _cpu()
        if profiler is not None:
            profiler.enable()
        report = loop.run_once(now=now)
        if profiler is not None:
            profiler.disable()
        walls.append(time.perf_counter() - wall)
        cpus.append(_cpu() - cpu)

    render = _metrics_body(store, publisher)
    renders: list[float] = []
    for _ in range(6):
        t0 = time.perf_counter()
        body = render()
        renders.append(time.perf_counter() - t0)
    text = body.decode()
    series = [line for line in text.splitlines() if line and not line.startswith("#")]
    listed: list[float] = []
    for _ in range(4):
        t0 = time.perf_counter()
        entries = list_models(store)
        listed.append(time.perf_counter() - t0)

    if profiler is not None and profile:
        out = io.StringIO()
        out.write(
            f"cProfile of {cycles} measured analysis cycle(s) over {len(report.analyzed)} "
            "model versions (bench/fleet.py)\n\n"
        )
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(30)
        Path(profile).write_text(out.getvalue())
    store.close()
    return {
        "versions": len(report.analyzed),
        "warm_versions": len(warm.analyzed),
        "warm_s": warm_s,
        "walls": walls,
        "cpus": cpus,
        "waiting": len(report.waiting),
        "shifted": len(report.shifted),
        "failures": [f"{f.model}/{f.version} {f.analysis}: {f.error}" for f in report.failures],
        "warm_failures": len(warm.failures),
        "window": f"{report.window.start:%Y-%m-%d %H:%M} – {report.window.end:%H:%M} UTC",
        "phases": phases.totals,
        "skipped": phases.skipped,
        "metrics_bytes": len(body),
        "metrics_series": len(series),
        "metrics_families": sum(1 for line in text.splitlines() if line.startswith("# TYPE")),
        "render_first_s": renders[0],
        "render_s": statistics.median(renders[1:]),
        "list_first_s": listed[0],
        "list_s": statistics.median(listed[1:]),
        "list_entries": len(entries),
        "drifted": sum(1 for e in entries if e["drifted_features"]),
        "retrain": sum(1 for e in entries if e["retrain_recommended"]),
        "scored": sum(1 for e in entries if e["health_score"] is not None),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(mode: str, url: str, models: int, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        mode,
        "--url",
        url,
        "--models",
        str(models),
        "--cycles",
        str(args.cycles),
        "--end-ns",
        str(args.end_ns),
    ]
    if args.profile:
        command += ["--profile", args.profile]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"{mode} run failed")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _print(models: int, gen: dict[str, Any], out: dict[str, Any], profiled: bool) -> None:
    versions = int(out["versions"])
    wall = statistics.median(out["walls"])
    cpu = statistics.median(out["cpus"])
    per = wall / max(versions, 1)
    verdict = "meets" if per <= TARGET_S else "MISSES"
    cycles = len(out["walls"])
    how = "one measured cycle" if cycles == 1 else f"median of {cycles} measured cycles"
    print(
        f"\n{models} models: {gen['predictions']:,} predictions, {gen['features']:,} feature "
        f"values, {gen['labels']:,} labels, {gen['reference']:,} reference values "
        f"(generated {gen['generated_s']:.0f} s, merged {gen['merged_s']:.0f} s, "
        f"profiled {gen['profiled_s']:.0f} s)"
    )
    print(
        f"  cycle over {out['window']} ({how}{', under cProfile' if profiled else ''}; "
        f"warm-up cycle {out['warm_s']:.1f} s over {out['warm_versions']} versions, "
        f"{out['warm_failures']} failures)"
    )
    print(
        f"    {versions - out['waiting']} of {versions} model versions analysed in full "
        f"({out['waiting']} with nothing new, {out['shifted']} on shifted windows), "
        f"{len(out['failures'])} failures"
    )
    for failure in out["failures"][:5]:
        print(f"      failure: {failure}")
    print(
        f"    wall {wall:.2f} s, {1000 * per:.1f} ms per model version, cpu {cpu:.2f} s "
        f"({1000 * cpu / max(versions, 1):.1f} ms per version), peak RSS "
        f"{out['peak_rss_mib']:.0f} MB"
    )
    print(
        f"    {per / TARGET_S:.2f}× the ≤ {1000 * TARGET_S:.0f} ms per model version target: "
        f"{verdict}"
    )
    print(
        f"  /metrics: {out['metrics_bytes']:,} bytes, {out['metrics_series']:,} series lines "
        f"({out['metrics_families']} families); render {1000 * out['render_first_s']:.0f} ms "
        f"(snapshot re-read), {1000 * out['render_s']:.0f} ms cached"
    )
    print(
        f"  list_models (GET /api/models): {out['list_entries']} entries, "
        f"first {1000 * out['list_first_s']:.0f} ms, then {1000 * out['list_s']:.0f} ms; "
        f"{out['scored']} with a health score, {out['drifted']} with drifted features, "
        f"{out['retrain']} with retraining recommended"
    )
    phases: dict[str, list[float]] = out["phases"]
    total_wall = sum(out["walls"])
    accounted = sum(p[0] for p in phases.values())
    print(f"  where the cycle goes (summed over the fleet{', all cycles' if cycles > 1 else ''}):")
    for name, (p_wall, p_cpu) in sorted(phases.items(), key=lambda kv: -kv[1][0]):
        skipped = out["skipped"].get(name, 0)
        note = f", {skipped} skipped (nothing to compute)" if skipped else ""
        print(
            f"    {name:<20} wall {p_wall:7.2f} s {100 * p_wall / total_wall:5.1f}%  "
            f"{1000 * p_wall / max(versions * cycles, 1):6.1f} ms/version  cpu {p_cpu:7.2f} s{note}"
        )
    rest = total_wall - accounted
    print(
        f"    {'rest of the loop':<20} wall {rest:7.2f} s {100 * rest / total_wall:5.1f}%  "
        f"{1000 * rest / max(versions * cycles, 1):6.1f} ms/version"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="50,200", help="fleet sizes, comma-separated")
    parser.add_argument("--cycles", type=int, default=1, help="measured cycles per size")
    parser.add_argument("--profile", default=None, help="write a cProfile of the cycles here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--end-ns", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.end_ns is None:  # the measured window ends at the hour the run starts in
        args.end_ns = int(time.time()) // 3600 * 3600 * 1_000_000_000
    if args.child:
        models = int(args.models)
        result = (
            generate(args.url, models, 1 + args.cycles, args.end_ns)
            if args.child == "generate"
            else measure(args.url, args.cycles, args.end_ns, args.profile)
        )
        print(json.dumps(result, default=float))
        return

    sizes = [int(s) for s in args.models.split(",") if s.strip()]
    load = os.getloadavg()
    print(
        f"fleet benchmark: {FEATURES} features, {PER_HOUR:,} predictions per model per hour, "
        f"{REFERENCE_ROWS:,}-row references, ~{100 * LABELLED:.0f}% labelled; "
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    for models in sizes:
        folder = Path(tempfile.mkdtemp(prefix="modeltel-fleet-"))
        url = f"chdb://{folder.resolve() / 'store'}"
        try:
            gen = _child("generate", url, models, args)
            out = _child("measure", url, models, args)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        _print(models, gen, out, profiled=bool(args.profile))
        if args.profile:
            print(f"  profile written to {args.profile}")
            args.profile = None  # the first size only
    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
