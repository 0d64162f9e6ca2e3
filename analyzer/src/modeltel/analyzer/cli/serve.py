"""``modeltel serve``: OTLP receiver, API, web page and /metrics in one process."""

from __future__ import annotations

import argparse

from modeltel.analyzer.cli import common
from modeltel.analyzer.durations import parse_duration

EPILOG = """\
examples:
  modeltel serve                              # embedded store in ./modeltel-data
  modeltel serve --port 4318 --grpc-port 0    # OTLP/HTTP only
  modeltel serve --clickhouse-url http://clickhouse:8123 --host 0.0.0.0

Point an OpenTelemetry SDK at it with OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the OTLP receiver, API, web page and /metrics",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common.add_store_options(parser)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=4318, help="HTTP port: OTLP/HTTP, API, page (default 4318)"
    )
    parser.add_argument(
        "--grpc-port", type=int, default=4317, help="OTLP/gRPC port, 0 disables (default 4317)"
    )
    parser.add_argument(
        "--analyze-every",
        default="60s",
        metavar="DURATION",
        help="run the analyses this often, 0 disables (default 60s)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from modeltel.analyzer.server.serve import serve

    every = parse_duration(args.analyze_every, name="--analyze-every")
    store = common.open_store(args)
    return serve(
        store, host=args.host, port=args.port, grpc_port=args.grpc_port, analyze_every=every
    )
