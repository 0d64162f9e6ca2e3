"""OTLP/HTTP receiver: ``POST /v1/traces``, ``/v1/logs``, ``/v1/metrics``.

Answers follow the OTLP/HTTP specification: 200 with an export response (``partial_success``
when records were rejected: refused, or stored but not projected because a size limit of
``docs/limits.md`` was exceeded, with a message naming each limit) only after the rows are
stored; 400 for malformed bodies, 413 for
bodies over the limit (before and after decompression), 415 for other media types, 429 when
the write queue is full and 503 when the store is unavailable, both with ``Retry-After``.
Error bodies are ``google.rpc.Status`` messages in the request's encoding.
"""

from __future__ import annotations

import asyncio
import json
import math

from fastapi import APIRouter, Request
from fastapi.responses import Response
from google.protobuf import json_format
from google.rpc import status_pb2
from starlette.concurrency import run_in_threadpool

from modeltel.analyzer.base.errors import InputError, PayloadTooLargeError, StoreError
from modeltel.analyzer.ingest.decode import (
    JSON,
    PROTOBUF,
    Signal,
    decompress,
    encode_response,
    media_type,
    parse_request,
)
from modeltel.analyzer.ingest.pipeline import IngestPipeline, Overloaded, ShuttingDown
from modeltel.analyzer.server.uploads import read_body


def _status_body(content_type: str, code: int, message: str) -> bytes:
    status = status_pb2.Status(code=code, message=message)
    if content_type == JSON:
        return json.dumps(json_format.MessageToDict(status)).encode()
    return status.SerializeToString()


def _error(content_type: str, http_status: int, grpc_code: int, message: str, **headers: str):
    reply_type = content_type if content_type in (JSON, PROTOBUF) else JSON
    return Response(
        _status_body(reply_type, grpc_code, message),
        status_code=http_status,
        media_type=reply_type,
        headers=headers,
    )


def otlp_router(
    pipeline: IngestPipeline,
    max_body_bytes: int,
    timeout: float = 120.0,
    store_retry_after: float = 5.0,
    decode_slots: int = 2,
) -> APIRouter:
    """Routes that store OTLP/HTTP exports through ``pipeline``; ``store_retry_after`` is the
    ``Retry-After`` of 503 answers (store unavailable, shutting down). At most
    ``decode_slots`` requests are decoded and converted at once (the others wait their turn),
    which bounds the memory decoding takes (``docs/limits.md``)."""
    router = APIRouter()
    unavailable_retry = str(max(1, math.ceil(store_retry_after)))
    slots = asyncio.Semaphore(decode_slots)

    async def receive(signal: Signal, request: Request) -> Response:
        content_type = media_type(request.headers.get("content-type"))
        if content_type not in (PROTOBUF, JSON):
            return _error(
                JSON,
                415,
                3,
                f"unsupported Content-Type {content_type or '(none)'!r}; send {PROTOBUF} or {JSON}",
            )
        try:
            body = await read_body(request, max_body_bytes, "body")
            body = decompress(body, request.headers.get("content-encoding"), max_body_bytes)
            async with slots:
                message = await run_in_threadpool(
                    parse_request, signal, body, content_type, pipeline.limits
                )
                del body
                futures, result = await run_in_threadpool(pipeline.submit, signal, message)
                del message  # only the queued columns are kept while the store writes
            await asyncio.wait_for(
                asyncio.gather(*(asyncio.wrap_future(f) for f in futures)), timeout
            )
        except PayloadTooLargeError as exc:
            return _error(content_type, 413, 8, str(exc))
        except InputError as exc:
            return _error(content_type, 400, 3, str(exc))
        except ShuttingDown as exc:
            return _error(content_type, 503, 14, str(exc), **{"Retry-After": unavailable_retry})
        except Overloaded as exc:
            retry = str(max(1, math.ceil(exc.retry_after)))
            return _error(content_type, 429, 14, str(exc), **{"Retry-After": retry})
        except (StoreError, TimeoutError) as exc:
            message_text = str(exc) or "timed out waiting for the store"
            return _error(content_type, 503, 14, message_text, **{"Retry-After": unavailable_retry})
        body_out = encode_response(signal, content_type, result.rejected, result.message)
        return Response(body_out, status_code=200, media_type=content_type)

    @router.post("/v1/traces", include_in_schema=False)
    async def traces(request: Request) -> Response:
        return await receive("traces", request)

    @router.post("/v1/logs", include_in_schema=False)
    async def logs(request: Request) -> Response:
        return await receive("logs", request)

    @router.post("/v1/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        return await receive("metrics", request)

    return router
