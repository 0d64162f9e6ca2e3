"""``modeltel models``: the monitored model versions with their volume, labels and health."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from modeltel.analyzer.cli import common
from modeltel.analyzer.cli.backend import add_backend_options, open_backend

EPILOG = """\
examples:
  modeltel models                                   # a table for people
  modeltel models --format json | jq '.[] | select(.health_score < 80)'
  modeltel models --server http://127.0.0.1:4318    # ask a running modeltel serve

Health is 0–100 (ok from 80, warning from 50, alert below; see the README for the formula);
"drifted" counts input features drifted in the latest analysed window; "(stale)" after the
last prediction time means the latest staleness check warns, and a line below the table names
each version whose newest analysed window came after its last prediction.
Exit codes: 0 listed (even when empty), 2 bad options, 3 store unavailable or locked.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list monitored models with health, drift and volume",
        description="List every model version seen in predictions, references or results.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table for people (default) or json (a list of objects) for scripts",
    )
    add_backend_options(parser)
    parser.set_defaults(func=run)


def _moment(iso: str) -> datetime:
    """An ISO time of the listing as an aware UTC datetime (naive times are UTC)."""
    moment = datetime.fromisoformat(iso)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _ago(iso: str | None) -> str:
    from modeltel.analyzer.web.sections import ago

    return ago(_moment(iso)) if iso else "never"


def _when(iso: str) -> str:
    from modeltel.analyzer.web.sections import when

    return when(_moment(iso))


def run(args: argparse.Namespace) -> int:
    models = open_backend(args).models()
    if args.format == "json":
        sys.stdout.write(json.dumps(models, indent=1) + "\n")
        return 0
    if not models:
        common.info(
            "no models yet: instrument a serving app (see the README) or run `modeltel demo`"
        )
        return 0
    from modeltel.analyzer.sql.console import format_table

    rows = []
    paused = []
    for m in models:
        score = m.get("health_score")
        health = "—" if score is None else f"{score:.0f} {m.get('health_status')}"
        drifted = (
            f"{m['drifted_features']}/{m['features_checked']}" if m.get("features_checked") else "—"
        )
        since = m.get("no_predictions_since")
        if since:
            paused.append(
                f"{m['model']} {m['version']}: no predictions since {_when(since)} ({_ago(since)})"
            )
        flag = m.get("retrain_recommended")
        retrain = "—" if flag is None else "yes" if flag else "no"
        rows.append(
            (
                m["model"],
                m["version"],
                m.get("task") or "—",
                m.get("predictions", 0),
                m.get("labels", 0),
                _ago(m.get("last_seen")) + (" (stale)" if m.get("stale") else ""),
                health,
                drifted,
                retrain,
            )
        )
    headers = ["MODEL", "VERSION", "TASK", "PREDICTIONS", "LABELS", "LAST SEEN", "HEALTH"]
    print(format_table([*headers, "DRIFTED", "RETRAIN"], rows))
    for line in paused:
        print(line)
    return 0
