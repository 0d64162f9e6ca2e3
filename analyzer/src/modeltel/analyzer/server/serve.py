"""Run the whole embedded server: HTTP app under uvicorn, OTLP/gRPC beside it.

SIGTERM/SIGINT stop accepting, let in-flight requests finish, write every queued row, then
close the store: what was acknowledged is stored.
"""

from __future__ import annotations

import logging
import sys

import uvicorn

from modeltel.analyzer.ingest import IngestPipeline
from modeltel.analyzer.server.app import ServerConfig, create_app
from modeltel.analyzer.server.otlp_grpc import start_grpc_server
from modeltel.analyzer.store import Store

logger = logging.getLogger(__name__)


def serve(
    store: Store,
    *,
    host: str = "127.0.0.1",
    port: int = 4318,
    grpc_port: int = 4317,
    analyze_every: float = 60.0,
    config: ServerConfig | None = None,
) -> int:
    """Serve until interrupted; return the process exit code."""
    config = config or ServerConfig()
    pipeline = IngestPipeline(
        store, writers=config.writers, max_pending_rows=config.max_pending_rows
    )
    app = create_app(store, config, pipeline)
    loop = None
    if analyze_every > 0:
        from modeltel.analyzer.config import load_config
        from modeltel.analyzer.loop import AnalysisLoop

        loop = AnalysisLoop(
            store, load_config(), every=analyze_every, publisher=app.state.metrics
        )
        loop.start()
    grpc_server = None
    if grpc_port:
        grpc_server, grpc_port = start_grpc_server(
            pipeline, host, grpc_port, max_message_bytes=config.max_body_bytes
        )
    print(
        f"modeltel serving on http://{host}:{port} (OTLP/HTTP, API, web page, /metrics)"
        + (f" and OTLP/gRPC on {host}:{grpc_port}" if grpc_server else ""),
        file=sys.stderr,
        flush=True,
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=30)
    finally:
        if loop is not None:
            loop.stop()
        if grpc_server is not None:
            grpc_server.stop(grace=10).wait()
        pipeline.close()
        store.close()
    return 0
