"""``modeltel reference``: upload, capture from production, or list reference data."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.cli import common, uploads
from modeltel.analyzer.cli.backend import add_backend_options

EPILOG = """\
examples:
  modeltel reference upload churn train.csv --version 3
  modeltel reference upload churn train.parquet --version 3 --categorical plan,region \\
      --exclude customer_id,target --prediction-column predicted --score-column proba
  MODELTEL_HASH_SALT=… modeltel reference upload churn train.csv --version 3 \
      --treatments postcode:hash,name:drop
  modeltel reference capture churn --version 3 --start 2026-01-01 --end 2026-01-08
  modeltel reference list churn

The file has one column per feature. Numbers are numerical features, text and booleans are
categorical (override with --categorical/--numerical). Prediction columns make the reference
carry the model's outputs too, for prediction drift. Uploading the same model, version and
name again replaces the reference.
The reference is stored as the instrumentation records production: --features-include,
--features-exclude and --treatments (else $MODELTEL_FEATURES_INCLUDE, $MODELTEL_FEATURES_EXCLUDE
and $MODELTEL_FEATURE_TREATMENTS where the reference is stored) leave out or hash feature
columns, hashing with $MODELTEL_HASH_SALT of that process (see docs/capture.md).
Exit codes: 0 stored, 2 bad file or options, 3 store unavailable or locked, 4 nothing to capture.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    actions, upload = uploads.add_upload_command(
        subparsers,
        "reference",
        help="upload, capture or list the reference (training) data drift compares with",
        description=__doc__,
        epilog=EPILOG,
        upload_help="store a CSV or Parquet file as a reference",
        file_help="CSV or Parquet, one column per feature",
    )
    upload.add_argument("--version", default=None, help="model version (default unversioned)")
    upload.add_argument("--name", default="default", help="reference name (default: default)")
    upload.add_argument("--categorical", default=None, metavar="A,B", help="categorical columns")
    upload.add_argument("--numerical", default=None, metavar="A,B", help="numerical columns")
    upload.add_argument("--exclude", default=None, metavar="A,B", help="columns to leave out")
    upload.add_argument("--prediction-column", default=None, help="column of predicted classes")
    upload.add_argument("--score-column", default=None, help="column of predicted scores")
    upload.add_argument("--value-column", default=None, help="column of regression outputs")
    upload.add_argument("--format", choices=("csv", "parquet"), default=None)
    upload.add_argument(
        "--features-include",
        default=None,
        metavar="A,B",
        help="only these feature columns (default $MODELTEL_FEATURES_INCLUDE, else all)",
    )
    upload.add_argument(
        "--features-exclude",
        default=None,
        metavar="A,B",
        help="feature columns production never records (default $MODELTEL_FEATURES_EXCLUDE)",
    )
    upload.add_argument(
        "--treatments",
        default=None,
        metavar="F:hash,G:drop",
        help="hash or drop these features (default $MODELTEL_FEATURE_TREATMENTS); "
        "hashes use $MODELTEL_HASH_SALT",
    )
    add_backend_options(upload)
    upload.set_defaults(func=run_upload)

    capture = actions.add_parser(
        "capture",
        help="use a production time window as reference",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    capture.add_argument("model", metavar="MODEL")
    capture.add_argument("--version", required=True, help="version whose predictions to copy")
    capture.add_argument("--start", required=True, help="window start (ISO time, UTC)")
    capture.add_argument("--end", required=True, help="window end (ISO time, UTC)")
    capture.add_argument("--name", default="default", help="reference name (default: default)")
    capture.add_argument("--as-version", default=None, help="store it for this version instead")
    common.add_store_options(capture)
    capture.set_defaults(func=run_capture)

    listing = actions.add_parser(
        "list",
        help="list stored references",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listing.add_argument("model", nargs="?", default=None, metavar="MODEL")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    common.add_store_options(listing)
    listing.set_defaults(func=run_list)


def _print_summary(summary: dict[str, Any]) -> None:
    features = summary["features"]
    kinds = {k: sum(1 for v in features.values() if v == k) for k in ("numerical", "categorical")}
    print(
        f"stored reference {summary['name']!r} of {summary['model']} version "
        f"{summary['version']}: {summary['rows']} rows, {kinds['numerical']} numerical and "
        f"{kinds['categorical']} categorical columns"
    )
    if summary.get("hashed"):
        common.info(f"hashed: {', '.join(summary['hashed'])}")
    if summary.get("left_out"):
        common.info(f"left out by the capture settings: {', '.join(summary['left_out'])}")
    for message in summary.get("warnings") or []:
        common.info(f"warning: {message}")


UPLOAD_OPTIONS = (
    "version",
    "name",
    "categorical",
    "numerical",
    "exclude",
    "prediction_column",
    "score_column",
    "value_column",
    "format",
    "features_include",
    "features_exclude",
    "treatments",
)


def run_upload(args: argparse.Namespace) -> int:
    _print_summary(uploads.send(args, "reference", UPLOAD_OPTIONS))
    return 0


def run_capture(args: argparse.Namespace) -> int:
    from modeltel.analyzer.inputs.reference import reference_from_window

    start = common.parse_time(args.start, "--start")
    end = common.parse_time(args.end, "--end")
    if end <= start:
        raise ConfigError("--end must be after --start")
    with common.store(args) as store:
        summary = reference_from_window(
            store,
            args.model,
            args.version,
            start,
            end,
            name=args.name,
            target_version=args.as_version,
        )
    _print_summary(summary.as_dict())
    return 0


def run_list(args: argparse.Namespace) -> int:
    from modeltel.analyzer.inputs.reference import list_references
    from modeltel.analyzer.sql.console import format_table, jsonable

    with common.store(args) as store:
        frame = list_references(store, args.model)
    if args.format == "json":
        print(json.dumps(jsonable(frame.to_dict("records")), indent=1))
        return 0
    if frame.empty:
        common.info("no references stored" + (f" for {args.model}" if args.model else ""))
        return 0
    sys.stdout.write(format_table(list(frame.columns), frame.values.tolist()) + "\n")
    return 0
