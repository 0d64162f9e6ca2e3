"""``modeltel outliers``: the predictions whose inputs are furthest from the reference."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.cli import common
from modeltel.analyzer.cli.backend import OutlierQuery, add_backend_options, open_backend

EPILOG = """\
examples:
  modeltel outliers churn                         # worst 20 predictions of the last hour
  modeltel outliers churn --window 1d --limit 50 --format json
  modeltel outliers churn --version 3 --start 2026-03-01 --end 2026-03-02
  modeltel outliers churn --method multivariate   # unusual combinations of values

--method range (default): score = number of features outside the reference's central range
(quality.outliers.quantiles, default 0.5%-99.5%) or holding a category the reference never
had; severity adds how far outside (in widths of the central range).
--method multivariate: score = the prediction's PCA reconstruction error (a model of how the
reference's numerical features move together); severity = score / the reference's per-row
outlier threshold (above 1: an outlier); features = those contributing most to the error.
Both need a reference (modeltel reference upload).
Exit codes: 0 listed, 2 bad options, 3 store unavailable or locked, 4 unknown model.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "outliers",
        help="list the predictions with the most out-of-distribution inputs",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("--version", default=None, help="model version (default: all active)")
    parser.add_argument("--window", default=None, help="trailing window (default 1h)")
    parser.add_argument("--start", default=None, help="window start (ISO time, UTC)")
    parser.add_argument("--end", default=None, help="window end (ISO time, UTC)")
    parser.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    parser.add_argument(
        "--method",
        choices=("range", "multivariate"),
        default="range",
        help="range: features outside the reference's range; multivariate: PCA reconstruction",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--config", default=None, help="YAML configuration file")
    add_backend_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.limit <= 0:
        raise ConfigError("--limit must be a positive number")
    start = common.parse_time(args.start, "--start") if args.start is not None else None
    end = common.parse_time(args.end, "--end") if args.end is not None else None
    if (start is None) != (end is None):
        raise ConfigError("give both --start and --end, or --window")
    if start is not None and end is not None and end <= start:
        raise ConfigError("--end must be after --start")
    query = OutlierQuery(
        args.model, args.version, args.window, start, end, limit=args.limit, method=args.method
    )
    rows = open_backend(args).outliers(query)
    _print(rows, args.format, args.method)
    return 0


def _print(rows: list[dict[str, Any]], fmt: str, method: str = "range") -> None:
    if fmt == "json":
        print(json.dumps(rows, indent=1))
        return
    if not rows:
        common.info(
            "no prediction has inputs outside the reference's central range"
            if method == "range"
            else "no prediction in the window has numerical features to score"
        )
        return
    from modeltel.analyzer.sql.console import format_table

    columns = ["version", "prediction_id", "timestamp", "score", "severity", "features"]
    table = [
        [
            r.get("version"),
            r.get("prediction_id"),
            r.get("timestamp"),
            r.get("score") if method == "range" else round(float(r.get("score") or 0.0), 4),
            round(float(r.get("severity") or 0.0), 3),
            ",".join(r.get("features") or []),
        ]
        for r in rows
    ]
    sys.stdout.write(format_table(columns, table) + "\n")
