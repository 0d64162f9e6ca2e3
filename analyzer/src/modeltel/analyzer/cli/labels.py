"""``modeltel labels upload``: bulk-load ground truth (CSV or Parquet) for a model."""

from __future__ import annotations

import argparse
import json
from typing import Any

from modeltel.analyzer.cli import common, uploads
from modeltel.analyzer.cli.backend import add_backend_options

EPILOG = """\
examples:
  modeltel labels upload churn labels.csv
  modeltel labels upload churn truth.parquet --id-column request_id --label-column churned
  modeltel labels upload price sales.csv --value-column amount --timestamp-column sold_at
  modeltel labels upload churn labels.csv --server http://127.0.0.1:4318

The file holds one row per prediction: its id (the ml.prediction.id the model sent) and the
true class (--label-column) or true number (--value-column). Uploading the same ids again
replaces their labels (the latest upload wins). Labels whose id matches no prediction are
kept and reported. Exit codes: 0 stored, 2 bad file or options, 3 store unavailable or locked.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    _, upload = uploads.add_upload_command(
        subparsers,
        "labels",
        help="upload ground-truth labels for a model's predictions",
        description=__doc__,
        epilog=EPILOG,
        upload_help="store labels from a CSV or Parquet file",
        file_help="CSV or Parquet with an id and a label column",
    )
    upload.add_argument(
        "--id-column", default="prediction_id", help="column of prediction ids (prediction_id)"
    )
    upload.add_argument(
        "--label-column", default="label", help="column of true classes (default label)"
    )
    upload.add_argument("--value-column", default=None, help="column of true numbers (regression)")
    upload.add_argument(
        "--timestamp-column",
        default=None,
        help="when each label became known (default: the upload time)",
    )
    upload.add_argument("--format", choices=("csv", "parquet"), default=None)
    upload.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_backend_options(upload)
    upload.set_defaults(func=run_upload)


def _print(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, indent=1, default=str))
        return
    print(
        f"stored {summary['stored']} label(s) for {summary['model']} "
        f"({summary['rows']} row(s) read, {summary['duplicates']} repeated id(s), "
        f"{summary['unknown_ids']} unknown id(s))"
    )
    for message in summary.get("warnings") or []:
        common.info(f"warning: {message}")


UPLOAD_OPTIONS = ("id_column", "label_column", "value_column", "timestamp_column", "format")


def run_upload(args: argparse.Namespace) -> int:
    _print(uploads.send(args, "labels", UPLOAD_OPTIONS), args.json)
    return 0
