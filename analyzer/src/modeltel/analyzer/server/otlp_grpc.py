"""OTLP/gRPC receiver: the Trace, Logs and Metrics services over the same ingest path.

Overload and store outages answer ``UNAVAILABLE`` (which OTLP exporters retry); a request the
store could not take is never acknowledged.
"""

from __future__ import annotations

import logging
from concurrent import futures
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from modeltel.analyzer.base.errors import InputError, StoreError
from modeltel.analyzer.ingest.decode import Signal
from modeltel.analyzer.ingest.pipeline import IngestPipeline, Overloaded

logger = logging.getLogger(__name__)

_REJECTED_FIELD = {
    "traces": "rejected_spans",
    "logs": "rejected_log_records",
    "metrics": "rejected_data_points",
}


def _retry_metadata(seconds: float) -> tuple[tuple[str, str | bytes], ...]:
    """Trailing metadata asking the client to wait ``seconds``: ``google.rpc.RetryInfo`` (what
    OTLP exporters honour) and a plain ``retry-after``."""
    whole = max(1, int(seconds))
    info = RetryInfo(retry_delay=Duration(seconds=whole)).SerializeToString()
    return (("google.rpc.retryinfo-bin", info), ("retry-after", str(whole)))


class _Receiver:
    def __init__(self, pipeline: IngestPipeline, timeout: float, store_retry_after: float) -> None:
        self.pipeline = pipeline
        self.timeout = timeout
        self.store_retry_after = store_retry_after

    def export(self, signal: Signal, request: Any, context: grpc.ServicerContext, response: Any):
        try:
            result = self.pipeline.store_request(signal, request, timeout=self.timeout)
        except Overloaded as exc:
            context.set_trailing_metadata(_retry_metadata(exc.retry_after))
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        except InputError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except (StoreError, TimeoutError) as exc:
            context.set_trailing_metadata(_retry_metadata(self.store_retry_after))
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc) or "store timed out")
        if result.rejected:
            setattr(response.partial_success, _REJECTED_FIELD[signal], result.rejected)
            response.partial_success.error_message = result.message
        return response


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: _Receiver) -> None:
        self.receiver = receiver

    def Export(self, request, context):
        return self.receiver.export(
            "traces", request, context, trace_service_pb2.ExportTraceServiceResponse()
        )


class _Logs(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, receiver: _Receiver) -> None:
        self.receiver = receiver

    def Export(self, request, context):
        return self.receiver.export(
            "logs", request, context, logs_service_pb2.ExportLogsServiceResponse()
        )


class _Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: _Receiver) -> None:
        self.receiver = receiver

    def Export(self, request, context):
        return self.receiver.export(
            "metrics", request, context, metrics_service_pb2.ExportMetricsServiceResponse()
        )


def start_grpc_server(
    pipeline: IngestPipeline,
    host: str,
    port: int,
    *,
    max_message_bytes: int,
    workers: int = 8,
    timeout: float = 120.0,
    credentials: grpc.ServerCredentials | None = None,
    interceptors: tuple[grpc.ServerInterceptor, ...] = (),
    store_retry_after: float = 5.0,
) -> tuple[grpc.Server, int]:
    """Start the OTLP/gRPC server; return it and the bound port (``port=0`` picks one).

    ``credentials`` switch on TLS; ``interceptors`` run before every call (the token check of
    :class:`~modeltel.analyzer.server.auth.TokenInterceptor`)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="modeltel-grpc"),
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    receiver = _Receiver(pipeline, timeout, store_retry_after)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Traces(receiver), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_Logs(receiver), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(receiver), server)
    address = f"{host}:{port}"
    bound = (
        server.add_secure_port(address, credentials)
        if credentials
        else server.add_insecure_port(address)
    )
    server.start()
    return server, bound
