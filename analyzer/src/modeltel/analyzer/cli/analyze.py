"""``modeltel analyze``: run the analyses now and print the results."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from modeltel.analyzer.analyses import ANALYSES
from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.cli import common
from modeltel.analyzer.cli.backend import (
    AnalysisQuery,
    DriftQuery,
    add_backend_options,
    open_backend,
)

EPILOG = """\
examples:
  modeltel analyze                                # every model active in the last hour
  modeltel analyze --model churn --window 1d --format json
  modeltel analyze --model churn --only drift --start 2026-01-01 --end 2026-01-02 --window 1h
  modeltel analyze --model churn --only drift --last-n 5000
  modeltel analyze --model churn --only drift --version 4 --baseline-version 3
  modeltel analyze --model churn --only drift --segment-by region --methods psi,ks
  modeltel analyze --model churn --only performance --segment-by region,service.name
  modeltel analyze --model loans --only custom --window 1d   # your custom SQL metrics
  modeltel analyze --model loans --only fairness --start 2026-01-01 --end 2026-01-08 --window 1d

JSON is a list of tidy records, one per number: model, version, window_start, window_end,
kind, segment, feature, method or metric, value, threshold, status, source, reference_size,
current_size, details. Results are also stored in ml_results (unless --no-write).
Exit codes: 0 done, 1 --fail-on-drift and something drifted, 2 bad options,
3 store unavailable or locked, 4 unknown model or no reference.
"""

TABLE_COLUMNS = (
    "model",
    "version",
    "window_end",
    "kind",
    "segment",
    "feature",
    "method",
    "value",
    "threshold",
    "status",
    "reference_size",
    "current_size",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="run drift and the other analyses now and print the results",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", default=None, help="one model (default: every active one)")
    parser.add_argument("--version", default=None, help="one version (with --only)")
    parser.add_argument("--window", default=None, help="window length, e.g. 1h or 1d (1h)")
    parser.add_argument("--start", default=None, help="range start (ISO time, UTC)")
    parser.add_argument("--end", default=None, help="range or window end (default now)")
    parser.add_argument(
        "--only",
        choices=tuple(ANALYSES),
        default=None,
        help="run one analysis (drift with its options below)",
    )
    parser.add_argument(
        "--last-n", type=int, default=None, help="drift of the latest N predictions"
    )
    parser.add_argument("--reference", default=None, help="reference name (default: default)")
    parser.add_argument("--baseline-version", default=None, help="compare with this version")
    parser.add_argument(
        "--segment-by",
        default=None,
        metavar="DIM",
        help="drift: a categorical feature to split by; performance, quality, service: dimensions, "
        "comma-separated (features or service.name)",
    )
    parser.add_argument("--methods", default=None, metavar="A,B", help="drift methods (or all)")
    parser.add_argument(
        "--config", default=None, help="YAML configuration (default $MODELTEL_CONFIG)"
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--no-write", action="store_true", help="do not store the results")
    parser.add_argument(
        "--fail-on-drift", action="store_true", help="exit 1 when a result's status is drift/alert"
    )
    add_backend_options(parser)
    parser.set_defaults(func=run)


def _records(args: argparse.Namespace) -> list[dict[str, Any]]:
    start = common.parse_time(args.start, "--start") if args.start else None
    end = common.parse_time(args.end, "--end") if args.end else None
    drift_only = [args.last_n, args.baseline_version, args.methods]
    if args.only is None and (args.version is not None or start is not None):
        raise ConfigError("--version and --start need --only KIND (and --model)")
    if args.only != "drift" and any(v is not None for v in drift_only):
        raise ConfigError(
            "--last-n, --baseline-version and --methods need --only drift (and --model)"
        )
    if args.segment_by is not None:
        if args.only not in ("drift", "performance", "quality", "service"):
            raise ConfigError(
                "--segment-by needs --only drift, performance, quality or service (and --model)"
            )
        if not args.segment_by.strip() or not all(
            name.strip() for name in args.segment_by.split(",")
        ):
            raise ConfigError(f"--segment-by {args.segment_by!r} names no dimension")
    if args.only and not args.model:
        raise ConfigError(f"--only {args.only} needs --model")
    backend = open_backend(args)
    if args.only is not None and args.only != "drift":
        query = AnalysisQuery(
            args.only,
            args.model,
            args.version,
            window=args.window,
            start=start,
            end=end,
            write=not args.no_write,
            segment_by=args.segment_by,
        )
        return backend.run(query)
    if args.only == "drift":
        query = DriftQuery(
            args.model,
            args.version,
            window=args.window,
            start=start,
            end=end,
            last_n=args.last_n,
            reference=args.reference,
            baseline_version=args.baseline_version,
            segment_by=args.segment_by,
            methods=args.methods.split(",") if args.methods else None,
            write=not args.no_write,
        )
        return backend.drift(query)
    return backend.analyze(args.model, window=args.window or "1h", end=end, write=not args.no_write)


def run(args: argparse.Namespace) -> int:
    from modeltel.analyzer.sql.console import format_table, jsonable

    records = _records(args)
    if args.format == "json":
        sys.stdout.write(json.dumps(jsonable(records), indent=1) + "\n")
    elif not records:
        common.info("nothing to analyze: no model had predictions in the window")
    else:
        rows = []
        for r in records:
            row = dict(r)
            row["method"] = "/".join(x for x in (r.get("method"), r.get("metric")) if x)
            row["window_end"] = str(r.get("window_end") or "")[:19]
            rows.append([row.get(c) for c in TABLE_COLUMNS])
        sys.stdout.write(format_table(list(TABLE_COLUMNS), rows) + "\n")
    bad = [r for r in records if r.get("status") in ("drift", "alert")]
    return 1 if args.fail_on_drift and bad else 0
