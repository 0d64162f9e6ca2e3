"""``modeltel analyzer``: the analysis loop alone, with /metrics, for production."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from modeltel.analyzer.base.durations import parse_duration
from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.cli import common

if TYPE_CHECKING:
    from modeltel.analyzer.base.store import Store
    from modeltel.analyzer.export.publisher import MetricsPublisher
    from modeltel.analyzer.orchestration.loop import AnalysisLoop

EPILOG = """\
examples:
  modeltel analyzer --clickhouse-url http://clickhouse:8123 --every 60s --host 0.0.0.0
  modeltel analyzer --every 5m --window 1h --config modeltel.yaml --port 9464
  modeltel analyzer --once                    # one cycle, print it, exit (cron, CI)

Prometheus scrapes http://HOST:9464/metrics (ml_drift_score, ml_performance, ml_latency_seconds,
ml_health_score, ml_retrain_recommended, modeltel_analyzer_cycle_duration_seconds …).
Set OTEL_EXPORTER_OTLP_ENDPOINT to also push them over OTLP (OTEL_EXPORTER_OTLP_PROTOCOL
grpc or http/protobuf; OTEL_METRIC_EXPORT_INTERVAL in ms).
The retention: section of --config is applied at start (see modeltel retention).
Exit codes: 0 ok; 1 (--once) an analysis failed; 2 bad option or config; 3 store unavailable.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyzer",
        help="run the analysis loop and serve /metrics (production)",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common.add_store_options(parser)
    parser.add_argument(
        "--every", default="60s", metavar="DURATION", help="time between cycles (default 60s)"
    )
    parser.add_argument(
        "--window",
        default=None,
        metavar="DURATION",
        help="trailing window each cycle analyses (default: config loop.window, else 1h)",
    )
    parser.add_argument("--config", default=None, metavar="FILE", help="YAML configuration")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address of /metrics and /healthz (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=9464, help="port of /metrics and /healthz (default 9464)"
    )
    parser.add_argument(
        "--once", action="store_true", help="run one cycle, print what it did and exit"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from modeltel.analyzer.base.config import load_config
    from modeltel.analyzer.base.retention import Retention
    from modeltel.analyzer.base.retention import apply as apply_retention
    from modeltel.analyzer.export.publisher import MetricsPublisher
    from modeltel.analyzer.orchestration.loop import AnalysisLoop, LoopSettings
    from modeltel.analyzer.orchestration.retrain import RetrainPolicy

    every = parse_duration(args.every, name="--every")
    if every <= 0:
        raise ConfigError("--every must be positive, e.g. 60s")
    window = parse_duration(args.window, name="--window") if args.window else None
    if window is not None and window <= 0:
        raise ConfigError("--window must be positive, e.g. 1h")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a TCP port")
    config = load_config(args.config)
    LoopSettings.from_config(config)  # fail on a bad config before touching the store
    RetrainPolicy.from_config(config)
    kept = Retention.from_config(config)
    store = common.open_store(args)
    publisher = MetricsPublisher(store)
    try:
        apply_retention(store, kept)
        loop = AnalysisLoop(store, config, every=every, window_s=window, publisher=publisher)
        if args.once:
            report = loop.run_once()
            publisher.force_flush()
            print(
                f"analyzed {len(report.analyzed)} model versions over "
                f"{report.window.start:%Y-%m-%d %H:%M:%S} – {report.window.end:%H:%M:%S} UTC "
                f"in {report.duration_s:.2f}s; {len(report.failures)} failures"
            )
            for (model, version), traffic in report.shifted.items():
                print(
                    f"  {model}/{version}: no prediction in the window; its latest traffic, "
                    f"{traffic.start:%Y-%m-%d %H:%M} – {traffic.end:%H:%M} UTC, was analysed"
                )
            for model, version in report.waiting:
                print(
                    f"  {model}/{version}: nothing new since its latest analysis (staleness only)"
                )
            for failure in report.failures:
                where = f"{failure.model}/{failure.version}" if failure.model else "cycle"
                print(f"  {where} {failure.analysis}: {failure.error}", file=sys.stderr)
            return 0 if report.ok else 1
        return _serve(store, publisher, loop, args.host, args.port)
    finally:
        publisher.shutdown()
        store.close()


def _serve(
    store: Store, publisher: MetricsPublisher, loop: AnalysisLoop, host: str, port: int
) -> int:
    import uvicorn

    from modeltel.analyzer.server.metrics_endpoint import metrics_app

    app = metrics_app(store, publisher, loop)
    common.info(
        f"modeltel analyzer: every {loop.every:g}s over {loop.settings.window_s:g}s windows; "
        f"/metrics on http://{host}:{port}"
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")  # starts and stops the loop
    return 0
