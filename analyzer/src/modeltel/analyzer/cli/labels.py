"""``modeltel labels upload``: bulk-load ground truth (CSV or Parquet) for a model."""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from modeltel.analyzer import settings
from modeltel.analyzer.cli import common, remote
from modeltel.analyzer.errors import InputError, StoreUnavailableError

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
    parser = subparsers.add_parser(
        "labels",
        help="upload ground-truth labels for a model's predictions",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    upload = actions.add_parser(
        "upload",
        help="store labels from a CSV or Parquet file",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    upload.add_argument("model", metavar="MODEL")
    upload.add_argument("file", metavar="FILE", help="CSV or Parquet with an id and a label column")
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
    common.add_store_options(upload)
    common.add_server_option(upload)
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


def run_upload(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise InputError(f"{path} is not a file")
    options = {
        "id_column": args.id_column,
        "label_column": args.label_column,
        "value_column": args.value_column,
        "timestamp_column": args.timestamp_column,
        "format": args.format,
    }
    if args.server:
        _print(_post(args.server, args.model, path, options), args.json)
        return 0
    from modeltel.analyzer.labels import upload_labels

    store = common.open_store(args)
    try:
        summary = upload_labels(store, args.model, path, **options)
    finally:
        store.close()
    _print(summary.as_dict(), args.json)
    return 0


def _post(server: str, model: str, path: Path, options: dict[str, Any]) -> dict[str, Any]:
    """POST the file to ``/api/labels`` (raw body, options as query parameters)."""
    suffix = path.suffix.lower()
    fmt = options.get("format") or ("parquet" if suffix in (".parquet", ".pq") else "csv")
    query = {k: v for k, v in options.items() if v is not None}
    query["model"], query["format"] = model, fmt
    request = urllib.request.Request(
        remote.url_for(server, "/api/labels", query), data=path.read_bytes(), method="POST"
    )
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
        raise remote.http_error(exc, "/api/labels") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise StoreUnavailableError(
            f"cannot reach the modeltel server at {server} ({getattr(exc, 'reason', exc)})"
        ) from exc
