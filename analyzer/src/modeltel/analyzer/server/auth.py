"""Access control of ``modeltel serve``: one bearer token for OTLP (HTTP and gRPC) and the API.

When a token is configured (``--api-token`` / ``$MODELTEL_API_TOKEN``) every request must carry
``Authorization: Bearer <token>``, which is what the OTel SDK exporters send with
``OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>`` (gRPC metadata ``authorization``).
Browsers may send the token as the password of HTTP Basic credentials (any user name), so a
protected page can be opened from a browser's login prompt. Without a token nothing is checked.

What is protected::

    /healthz                          never (liveness probes)
    /, /models/…, /static/…           only with protect_page     ($MODELTEL_PROTECT_PAGE)
    /metrics                          only with protect_metrics  ($MODELTEL_PROTECT_METRICS)
    everything else (/v1/…, /api/…, /docs …)   always

Refusals are 401 with ``WWW-Authenticate`` (gRPC: ``UNAUTHENTICATED``). Tokens are compared in
constant time (``hmac.compare_digest`` over SHA-256 digests, so not even the length leaks) and
never logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import json_format
from google.rpc import status_pb2

from modeltel.analyzer.base import settings

REALM = "modeltel"
_OPEN_ALWAYS = ("/healthz",)
_PAGE_PREFIXES = ("/models/", "/static/")
_OTLP_PREFIX = "/v1/"
_HINT = (
    "send 'Authorization: Bearer <token>' (OTel exporters: "
    "OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>)"
)


def _digest(value: str | bytes) -> bytes:
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    return hashlib.sha256(raw).digest()


@dataclass(frozen=True)
class AccessPolicy:
    """Who may call what. ``token=None`` switches access control off."""

    token: str | None = None
    protect_page: bool = False
    protect_metrics: bool = False
    _expected: bytes = field(default=b"", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_expected", _digest(self.token) if self.token else b"")

    def __repr__(self) -> str:  # never print the token
        shown = "set" if self.token else None
        return (
            f"AccessPolicy(token={shown!r}, protect_page={self.protect_page}, "
            f"protect_metrics={self.protect_metrics})"
        )

    @classmethod
    def from_settings(
        cls,
        token: str | None = None,
        protect_page: bool | None = None,
        protect_metrics: bool | None = None,
    ) -> AccessPolicy:
        """Arguments, else ``$MODELTEL_API_TOKEN`` / ``$MODELTEL_PROTECT_PAGE`` /
        ``$MODELTEL_PROTECT_METRICS``."""
        return cls(
            token=settings.api_token(token),
            protect_page=settings.env_flag(settings.MODELTEL_PROTECT_PAGE, protect_page),
            protect_metrics=settings.env_flag(settings.MODELTEL_PROTECT_METRICS, protect_metrics),
        )

    @property
    def enabled(self) -> bool:
        return self.token is not None

    def protects(self, path: str) -> bool:
        """Whether a request for ``path`` needs the token."""
        if not self.enabled or path in _OPEN_ALWAYS:
            return False
        if path == "/" or path.startswith(_PAGE_PREFIXES):
            return self.protect_page
        if path == "/metrics":
            return self.protect_metrics
        return True

    def check(self, authorization: str | bytes | None) -> str | None:
        """None when ``authorization`` (the header's value) carries the token, else the reason."""
        if not self.enabled:
            return None
        if not authorization:
            return "this endpoint needs a token; " + _HINT
        if isinstance(authorization, bytes):
            authorization = authorization.decode("latin-1")
        scheme, _, credentials = authorization.strip().partition(" ")
        credentials = credentials.strip()
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return "the Basic credentials are not valid base64 'user:token'"
            credentials = decoded.partition(":")[2]
        elif scheme != "bearer":
            return f"unsupported authorization scheme {scheme[:20]!r}; " + _HINT
        if not hmac.compare_digest(_digest(credentials), self._expected):
            return "the token is not valid"
        return None


# -- HTTP ----------------------------------------------------------------------------------

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


def _challenge(path: str, invalid: bool) -> list[tuple[bytes, bytes]]:
    error = ', error="invalid_token"' if invalid else ""
    headers = [(b"www-authenticate", f'Bearer realm="{REALM}"{error}'.encode())]
    if not path.startswith(_OTLP_PREFIX):
        # Lets a browser show its login prompt (user: anything, password: the token).
        headers.append((b"www-authenticate", f'Basic realm="{REALM}", charset="UTF-8"'.encode()))
    return headers


def _refusal_body(path: str, content_type: str, reason: str) -> tuple[bytes, bytes]:
    """OTLP paths answer a ``google.rpc.Status`` in the request's encoding; others JSON."""
    if path.startswith(_OTLP_PREFIX):
        status = status_pb2.Status(code=16, message=reason)  # UNAUTHENTICATED
        if content_type.startswith("application/x-protobuf"):
            return status.SerializeToString(), b"application/x-protobuf"
        return json.dumps(json_format.MessageToDict(status)).encode(), b"application/json"
    return json.dumps({"detail": reason}).encode(), b"application/json"


class TokenMiddleware:
    """ASGI middleware answering 401 to requests of protected paths without the token."""

    def __init__(self, app: Callable[..., Any], policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.policy.protects(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        reason = self.policy.check(headers.get(b"authorization"))
        if reason is None:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        body, media = _refusal_body(path, content_type, reason)
        invalid = headers.get(b"authorization") is not None
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", media),
                    (b"content-length", str(len(body)).encode()),
                    *_challenge(path, invalid),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


# -- gRPC ----------------------------------------------------------------------------------


class TokenInterceptor(grpc.ServerInterceptor):
    """gRPC server interceptor: calls without the token end with ``UNAUTHENTICATED``."""

    def __init__(self, policy: AccessPolicy) -> None:
        self.policy = policy

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        metadata = dict(handler_call_details.invocation_metadata or ())
        reason = self.policy.check(metadata.get("authorization"))
        if reason is None:
            return continuation(handler_call_details)

        def deny(request: Any, context: grpc.ServicerContext) -> Any:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, reason)

        return grpc.unary_unary_rpc_method_handler(deny)
