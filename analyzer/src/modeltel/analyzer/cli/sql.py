"""``modeltel sql``: read-only SQL over the store, printed as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import sys

from modeltel.analyzer.cli import common
from modeltel.analyzer.cli.backend import add_backend_options, open_backend

EPILOG = """\
examples:
  modeltel sql "SELECT model, version, count() AS predictions, max(timestamp) AS last_seen
                FROM ml_predictions GROUP BY model, version"
  modeltel sql "SELECT toStartOfHour(timestamp) AS hour, quantileExact(0.95)(latency_s) AS p95
                FROM ml_predictions WHERE model = 'churn' AND row_index = 0
                GROUP BY hour ORDER BY hour" --format csv > latency.csv
  modeltel sql "SELECT window_start, feature, method, value, status FROM ml_results FINAL
                WHERE kind = 'drift' AND status = 'drift' ORDER BY window_start DESC LIMIT 20"
  modeltel sql "SELECT p.prediction_label, l.label, count() FROM ml_predictions p
                JOIN (SELECT * FROM ml_labels FINAL) l USING (model, prediction_id)
                GROUP BY ALL" --format json
  echo "SHOW TABLES" | modeltel sql -
  modeltel sql --server http://127.0.0.1:4318 "SELECT count() FROM otel_traces"

Queries run read-only (ClickHouse readonly=1): INSERT, CREATE, ALTER, DROP and SET are
refused. Results longer than --max-rows are cut (a note says so on stderr); queries longer
than --timeout are stopped. Tables: ml_predictions, ml_features, ml_labels, ml_reference,
ml_results, otel_traces, otel_logs, otel_metrics_* (see the README for their columns).
While `modeltel serve` owns the embedded store, pass --server (or set MODELTEL_SERVER).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from modeltel.analyzer.sql import console as sql

    parser = subparsers.add_parser(
        "sql",
        help="run a read-only SQL query over the store",
        description="Run one read-only SQL statement (ClickHouse dialect) over the "
        "modeltel tables and print the rows.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("query", metavar="QUERY", help='the SQL statement, or "-" to read stdin')
    parser.add_argument(
        "--format",
        choices=sql.FORMATS,
        default="table",
        help="table for people (default), csv or json (a list of row objects) for scripts",
    )
    parser.add_argument(
        "--max-rows",
        type=int,
        default=sql.DEFAULT_MAX_ROWS,
        metavar="N",
        help=f"cut the result after N rows (default {sql.DEFAULT_MAX_ROWS})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=sql.DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"stop the query after this many seconds (default {sql.DEFAULT_TIMEOUT_S:g})",
    )
    add_backend_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from modeltel.analyzer.sql import console as sql

    query = sys.stdin.read() if args.query == "-" else args.query
    sql.check_limits(args.max_rows, args.timeout)
    result = open_backend(args).sql(query, max_rows=args.max_rows, timeout_s=args.timeout)
    columns, rows = result.columns, result.rows
    truncated, max_rows = result.truncated, result.max_rows
    text = sql.render(columns, rows, args.format)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if args.format == "table":
        common.info(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    if truncated:
        common.info(f"note: the result was cut at {max_rows} rows (raise it with --max-rows)")
    return 0
