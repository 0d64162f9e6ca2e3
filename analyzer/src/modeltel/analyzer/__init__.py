"""modeltel analyzer: the store, the OTLP receiver, the analyses and everything that shows them.

Public surface::

    from modeltel.analyzer import Store

``Store`` opens the ClickHouse database (embedded chDB or a server) and applies migrations.
"""

from modeltel.analyzer.base.errors import (
    ConfigError,
    InputError,
    ModeltelError,
    NotFoundError,
    QueryError,
    StoreError,
    StoreLockedError,
    StoreUnavailableError,
)
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.orchestration.analyzer import Analyzer

__all__ = [
    "Analyzer",
    "ConfigError",
    "InputError",
    "ModeltelError",
    "NotFoundError",
    "QueryError",
    "Store",
    "StoreError",
    "StoreLockedError",
    "StoreUnavailableError",
]
