"""``modeltel reference``: upload, capture from production, or list reference data."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modeltel.analyzer.cli import common, remote
from modeltel.analyzer.errors import ConfigError, InputError

EPILOG = """\
examples:
  modeltel reference upload churn train.csv --version 3
  modeltel reference upload churn train.parquet --version 3 --categorical plan,region \\
      --exclude customer_id,target --prediction-column predicted --score-column proba
  modeltel reference capture churn --version 3 --start 2026-01-01 --end 2026-01-08
  modeltel reference list churn

The file has one column per feature. Numbers are numerical features, text and booleans are
categorical (override with --categorical/--numerical). Prediction columns make the reference
carry the model's outputs too, for prediction drift. Uploading the same model, version and
name again replaces the reference.
Exit codes: 0 stored, 2 bad file or options, 3 store unavailable or locked, 4 nothing to capture.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reference",
        help="upload, capture or list the reference (training) data drift compares with",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    upload = actions.add_parser(
        "upload",
        help="store a CSV or Parquet file as a reference",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    upload.add_argument("model", metavar="MODEL")
    upload.add_argument("file", metavar="FILE", help="CSV or Parquet, one column per feature")
    upload.add_argument("--version", default=None, help="model version (default unversioned)")
    upload.add_argument("--name", default="default", help="reference name (default: default)")
    upload.add_argument("--categorical", default=None, metavar="A,B", help="categorical columns")
    upload.add_argument("--numerical", default=None, metavar="A,B", help="numerical columns")
    upload.add_argument("--exclude", default=None, metavar="A,B", help="columns to leave out")
    upload.add_argument("--prediction-column", default=None, help="column of predicted classes")
    upload.add_argument("--score-column", default=None, help="column of predicted scores")
    upload.add_argument("--value-column", default=None, help="column of regression outputs")
    upload.add_argument("--format", choices=("csv", "parquet"), default=None)
    _common(upload)
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


def _common(parser: argparse.ArgumentParser) -> None:
    common.add_store_options(parser)
    common.add_server_option(parser)


def parse_time(text: str, option: str) -> datetime:
    """An ISO 8601 time (naive = UTC); ConfigError naming ``option`` otherwise."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r} is not a time; write e.g. 2026-01-31T12:00") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _print_summary(summary: dict[str, Any]) -> None:
    features = summary["features"]
    kinds = {k: sum(1 for v in features.values() if v == k) for k in ("numerical", "categorical")}
    print(
        f"stored reference {summary['name']!r} of {summary['model']} version "
        f"{summary['version']}: {summary['rows']} rows, {kinds['numerical']} numerical and "
        f"{kinds['categorical']} categorical columns"
    )
    for message in summary.get("warnings") or []:
        common.info(f"warning: {message}")


def run_upload(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise InputError(f"{path} is not a file")
    options = {
        "version": args.version,
        "name": args.name,
        "categorical": args.categorical,
        "numerical": args.numerical,
        "exclude": args.exclude,
        "prediction_column": args.prediction_column,
        "score_column": args.score_column,
        "value_column": args.value_column,
        "format": args.format,
    }
    if args.server:
        answer = _post_file(args.server, args.model, path, options)
        _print_summary(answer)
        return 0
    from modeltel.analyzer.reference import upload_reference

    store = common.open_store(args)
    try:
        summary = upload_reference(store, args.model, path, **options)
    finally:
        store.close()
    _print_summary(summary.as_dict())
    return 0


def _post_file(server: str, model: str, path: Path, options: dict[str, Any]) -> dict[str, Any]:
    """POST the file's bytes to ``/api/references`` (raw body, options as query)."""
    import os
    import urllib.error
    import urllib.request

    from modeltel.analyzer import settings

    fmt = options.get("format") or ("parquet" if path.suffix.lower() == ".parquet" else "csv")
    query = {k: v for k, v in options.items() if v is not None}
    query["model"], query["format"] = model, fmt
    url = remote.url_for(server, "/api/references", query)
    request = urllib.request.Request(url, data=path.read_bytes(), method="POST")
    request.add_header(
        "Content-Type", "application/vnd.apache.parquet" if fmt == "parquet" else "text/csv"
    )
    token = os.environ.get(settings.MODELTEL_API_TOKEN)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        raise remote.http_error(exc, "/api/references") from exc
    except (urllib.error.URLError, OSError) as exc:
        from modeltel.analyzer.errors import StoreUnavailableError

        raise StoreUnavailableError(
            f"cannot reach the modeltel server at {server} ({exc})"
        ) from exc


def run_capture(args: argparse.Namespace) -> int:
    from modeltel.analyzer.reference import reference_from_window

    start, end = parse_time(args.start, "--start"), parse_time(args.end, "--end")
    if end <= start:
        raise ConfigError("--end must be after --start")
    store = common.open_store(args)
    try:
        summary = reference_from_window(
            store,
            args.model,
            args.version,
            start,
            end,
            name=args.name,
            target_version=args.as_version,
        )
    finally:
        store.close()
    _print_summary(summary.as_dict())
    return 0


def run_list(args: argparse.Namespace) -> int:
    from modeltel.analyzer.reference import list_references
    from modeltel.analyzer.sql import format_table, jsonable

    store = common.open_store(args)
    try:
        frame = list_references(store, args.model)
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps(jsonable(frame.to_dict("records")), indent=1))
        return 0
    if frame.empty:
        common.info("no references stored" + (f" for {args.model}" if args.model else ""))
        return 0
    sys.stdout.write(format_table(list(frame.columns), frame.values.tolist()) + "\n")
    return 0
