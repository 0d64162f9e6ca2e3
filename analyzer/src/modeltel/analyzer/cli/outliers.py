"""``modeltel outliers``: the predictions whose inputs are furthest from the reference."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from modeltel.analyzer.cli import common, remote
from modeltel.analyzer.errors import ConfigError

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
    common.add_store_options(parser)
    common.add_server_option(parser)
    parser.set_defaults(func=run)


def _time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r} is not a time; write e.g. 2026-01-31T12:00") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def run(args: argparse.Namespace) -> int:
    if args.limit <= 0:
        raise ConfigError("--limit must be a positive number")
    start, end = _time(args.start, "--start"), _time(args.end, "--end")
    if (start is None) != (end is None):
        raise ConfigError("give both --start and --end, or --window")
    if start is not None and end is not None and end <= start:
        raise ConfigError("--end must be after --start")
    if args.server:
        rows = remote.request_json(
            args.server,
            f"/api/models/{remote.quote(args.model)}/outliers",
            query={
                "version": args.version,
                "window": args.window,
                "start": start.isoformat() if start else None,
                "end": end.isoformat() if end else None,
                "limit": args.limit,
                "method": args.method,
            },
            timeout=600,
        )
    else:
        rows = _local(args, start, end)
    _print(rows, args.format, args.method)
    return 0


def _local(args: argparse.Namespace, start: datetime | None, end: datetime | None) -> Any:
    from modeltel.analyzer.analyzer import Analyzer
    from modeltel.analyzer.config import load_config
    from modeltel.analyzer.sql import jsonable

    config = load_config(args.config)
    store = common.open_store(args)
    try:
        frame = Analyzer(store, config).outliers(
            args.model,
            args.version,
            window=args.window,
            start=start,
            end=end,
            limit=args.limit,
            method=args.method,
        )
    finally:
        store.close()
    return jsonable(frame.to_dict("records"))


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
    from modeltel.analyzer.sql import format_table

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
