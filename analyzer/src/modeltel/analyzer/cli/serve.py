"""``modeltel serve``: OTLP receiver, API, web page and /metrics in one process."""

from __future__ import annotations

import argparse
import os

from modeltel.analyzer.base import settings
from modeltel.analyzer.base.durations import parse_duration
from modeltel.analyzer.cli import common

EPILOG = """\
examples:
  modeltel serve                              # embedded store in ./modeltel-data
  modeltel serve --port 4318 --grpc-port 0    # OTLP/HTTP only
  modeltel serve --clickhouse-url http://clickhouse:8123 --host 0.0.0.0
  MODELTEL_API_TOKEN=s3cret modeltel serve --host 0.0.0.0 \\
      --tls-cert server.pem --tls-key server.key --protect-page

Point an OpenTelemetry SDK at it with OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318
(and OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20s3cret when a token is set;
OTEL_EXPORTER_OTLP_CERTIFICATE=server.pem to trust a self-signed certificate).

With a token, OTLP and /api/ need "Authorization: Bearer <token>"; the page and /metrics stay
open unless --protect-page / --protect-metrics; /healthz is always open. A ClickHouse server
that is down at start-up is retried: OTLP requests get 503 with Retry-After until it answers.
The retention: section of $MODELTEL_CONFIG is applied at start (see modeltel retention).
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
    access = parser.add_argument_group("access and TLS")
    access.add_argument(
        "--api-token",
        default=None,
        metavar="TOKEN",
        help=f"require 'Authorization: Bearer TOKEN' (default ${settings.MODELTEL_API_TOKEN}; "
        "prefer the variable: arguments show in the process list)",
    )
    access.add_argument(
        "--protect-page",
        action="store_true",
        default=None,
        help=f"the web page needs the token too (default ${settings.MODELTEL_PROTECT_PAGE})",
    )
    access.add_argument(
        "--protect-metrics",
        action="store_true",
        default=None,
        help=f"/metrics needs the token too (default ${settings.MODELTEL_PROTECT_METRICS})",
    )
    access.add_argument(
        "--tls-cert",
        default=os.environ.get(settings.MODELTEL_TLS_CERT) or None,
        metavar="PEM",
        help=f"serve HTTPS and gRPC over TLS with this certificate (default "
        f"${settings.MODELTEL_TLS_CERT})",
    )
    access.add_argument(
        "--tls-key",
        default=os.environ.get(settings.MODELTEL_TLS_KEY) or None,
        metavar="PEM",
        help=f"private key of --tls-cert (default ${settings.MODELTEL_TLS_KEY})",
    )
    parser.add_argument(
        "--analyze-every",
        default="60s",
        metavar="DURATION",
        help="run the analyses this often, 0 disables (default 60s)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from modeltel.analyzer.base.config import load_config
    from modeltel.analyzer.base.retention import Retention
    from modeltel.analyzer.base.retention import apply as apply_retention
    from modeltel.analyzer.server.app import ServerConfig
    from modeltel.analyzer.server.auth import AccessPolicy
    from modeltel.analyzer.server.serve import read_tls_files, serve

    every = parse_duration(args.analyze_every, name="--analyze-every")
    access = AccessPolicy.from_settings(args.api_token, args.protect_page, args.protect_metrics)
    read_tls_files(args.tls_cert, args.tls_key)  # fail before opening the store
    kept = Retention.from_config(load_config())
    store = common.open_store(args, lazy=True)
    if store.ready:
        try:
            apply_retention(store, kept)
        except BaseException:
            store.close()
            raise
    else:
        common.info(
            f"modeltel: warning: the store is unavailable ({store.last_error}); "
            "serving anyway: OTLP requests get 503 with Retry-After until it answers "
            "(the retention section is applied at the next start)"
        )
    return serve(
        store,
        host=args.host,
        port=args.port,
        grpc_port=args.grpc_port,
        analyze_every=every,
        config=ServerConfig(access=access),
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )
