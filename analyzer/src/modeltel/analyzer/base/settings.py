"""Environment variables read by the analyzer, and how a store URL is resolved.

Precedence everywhere: explicit argument > environment variable > default.
Nothing is read at import time; call the functions.
"""

from __future__ import annotations

import os
from pathlib import Path

MODELTEL_CLICKHOUSE_URL = "MODELTEL_CLICKHOUSE_URL"
"""Store URL: ``chdb:///abs/dir`` (embedded) or ``http(s)://user:pass@host:8123/db``."""

MODELTEL_DATABASE = "MODELTEL_DATABASE"
"""Database holding the otel_* and ml_* tables (default :data:`DEFAULT_DATABASE`)."""

MODELTEL_OTEL_SCHEMA = "MODELTEL_OTEL_SCHEMA"
"""Schema of the ``otel_*`` tables: ``auto`` (default: what the tables have; a new store gets
``map``), ``map`` or ``json`` (the exporter's JSON tables; see docs/tables.md)."""

MODELTEL_CONFIG = "MODELTEL_CONFIG"
"""Path of the YAML configuration file (drift methods, thresholds, retrain policy)."""

MODELTEL_API_TOKEN = "MODELTEL_API_TOKEN"
"""When set, OTLP and API endpoints require ``Authorization: Bearer <token>``."""

MODELTEL_PROTECT_PAGE = "MODELTEL_PROTECT_PAGE"
"""``1``/``true``: the web page (``/``, ``/models/…``, ``/static/…``) needs the token too."""

MODELTEL_PROTECT_METRICS = "MODELTEL_PROTECT_METRICS"
"""``1``/``true``: ``GET /metrics`` needs the token too (Prometheus ``authorization:``)."""

MODELTEL_TLS_CERT = "MODELTEL_TLS_CERT"
"""PEM certificate (chain) ``modeltel serve`` presents on HTTP and gRPC; needs the key."""

MODELTEL_TLS_KEY = "MODELTEL_TLS_KEY"
"""PEM private key of :data:`MODELTEL_TLS_CERT`."""

MODELTEL_MAX_BODY_BYTES = "MODELTEL_MAX_BODY_BYTES"
"""Largest accepted OTLP body in bytes, before and after decompression (default 20 MiB)."""

MODELTEL_MAX_SPAN_ROWS = "MODELTEL_MAX_SPAN_ROWS"
"""Predictions one span may carry (default 100,000); a prediction span with more is stored in
``otel_traces`` but not projected."""

MODELTEL_MAX_PROJECTED_ROWS = "MODELTEL_MAX_PROJECTED_ROWS"
"""Rows one span, and one OTLP request, may write into the ml tables (default 2,000,000)."""

MODELTEL_MAX_SPAN_ATTRIBUTES = "MODELTEL_MAX_SPAN_ATTRIBUTES"
"""Attributes of one span, resource, event, link, log record or data point (default 4,096)."""

MODELTEL_MAX_ATTRIBUTE_KEY_BYTES = "MODELTEL_MAX_ATTRIBUTE_KEY_BYTES"
"""UTF-8 bytes of one attribute key (default 1,024)."""

MODELTEL_MAX_ATTRIBUTE_VALUE_BYTES = "MODELTEL_MAX_ATTRIBUTE_VALUE_BYTES"
"""Bytes of one string attribute value, array element or kvlist text (default 1 MiB)."""

MODELTEL_MAX_VALUE_DEPTH = "MODELTEL_MAX_VALUE_DEPTH"
"""Arrays/kvlists nested inside one attribute value (default 16)."""

MODELTEL_SERVER = "MODELTEL_SERVER"
"""URL of a running ``modeltel serve`` that CLI commands talk to instead of opening the store."""

MODELTEL_MAX_UPLOAD_BYTES = "MODELTEL_MAX_UPLOAD_BYTES"
"""Largest reference upload (``POST /api/references``) in bytes (default 512 MiB)."""

MODELTEL_RETRAIN_WEBHOOK_URL = "MODELTEL_RETRAIN_WEBHOOK_URL"
"""Webhook the retrain trigger POSTs to when ``retrain.webhook.url`` is not in the config."""

MODELTEL_ANALYZE_WINDOW = "MODELTEL_ANALYZE_WINDOW"
"""Trailing window each analysis cycle covers (default 1h), e.g. ``15m`` or ``1d``."""

MODELTEL_CHROMIUM = "MODELTEL_CHROMIUM"
"""Chrome/Chromium binary that prints reports to PDF (default: ``chromium`` on the PATH)."""

MODELTEL_NO_PROGRESS = "MODELTEL_NO_PROGRESS"
"""Set to any value to silence the progress bars of CLI commands (they go to stderr)."""

DEFAULT_DATA_DIR = "modeltel-data"
DEFAULT_DATABASE = "otel"
DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024


def resolve_clickhouse_url(url: str | None = None) -> str:
    """Return the store URL: ``url``, else ``$MODELTEL_CLICKHOUSE_URL``, else ``./modeltel-data``.

    Embedded paths are made absolute (``chdb:///abs/path``): clickhouse-connect would read
    ``chdb://./x`` as host ``.`` and database ``x``.
    """
    raw = url or os.environ.get(MODELTEL_CLICKHOUSE_URL) or ""
    if not raw:
        return "chdb://" + str(Path(DEFAULT_DATA_DIR).resolve())
    if raw.startswith("chdb:"):
        rest = raw[len("chdb:") :]
        rest = rest[2:] if rest.startswith("//") else rest
        if rest in ("memory", ":memory:") or rest.startswith("memory/"):
            return "chdb://" + rest
        return "chdb://" + str(Path(rest).expanduser().resolve())
    if "://" not in raw:
        # A bare path means an embedded store.
        return "chdb://" + str(Path(raw).expanduser().resolve())
    return raw


def resolve_database(database: str | None = None) -> str:
    """Return the database name: ``database``, else ``$MODELTEL_DATABASE``, else ``otel``."""
    return database or os.environ.get(MODELTEL_DATABASE) or DEFAULT_DATABASE


OTEL_SCHEMAS = ("auto", "map", "json")


def resolve_otel_schema(value: str | None = None, option: str = MODELTEL_OTEL_SCHEMA) -> str:
    """The ``otel_*`` schema asked for: ``value``, else ``$MODELTEL_OTEL_SCHEMA``, else
    ``auto``; ConfigError naming ``option`` for anything but auto, map or json."""
    raw = value if value is not None else os.environ.get(MODELTEL_OTEL_SCHEMA, "")
    schema = raw.strip().lower() or "auto"
    if schema not in OTEL_SCHEMAS:
        from modeltel.analyzer.base.errors import ConfigError

        raise ConfigError(f"{option}={raw!r} is not an otel schema; use auto, map or json")
    return schema


def max_body_bytes(value: int | None = None) -> int:
    """Largest accepted OTLP body: ``value``, else ``$MODELTEL_MAX_BODY_BYTES``, else 20 MiB."""
    if value is not None:
        return value
    raw = os.environ.get(MODELTEL_MAX_BODY_BYTES)
    if not raw:
        return DEFAULT_MAX_BODY_BYTES
    try:
        parsed = int(raw)
    except ValueError as exc:
        from modeltel.analyzer.base.errors import ConfigError

        raise ConfigError(
            f"{MODELTEL_MAX_BODY_BYTES}={raw!r} is not a whole number of bytes"
        ) from exc
    return parsed


def api_token(value: str | None = None) -> str | None:
    """The access token: ``value``, else ``$MODELTEL_API_TOKEN``, else None (no access control).

    Surrounding whitespace is dropped; an empty value means no token.
    """
    raw = value if value is not None else os.environ.get(MODELTEL_API_TOKEN)
    token = (raw or "").strip()
    return token or None


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def env_flag(name: str, value: bool | None = None) -> bool:
    """A boolean setting: ``value``, else ``$name`` (1/true/yes/on or 0/false/no/off)."""
    if value is not None:
        return value
    raw = os.environ.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    from modeltel.analyzer.base.errors import ConfigError

    raise ConfigError(f"{name}={raw!r} is not a boolean; use 1/true/yes/on or 0/false/no/off")
