"""The analyzer's exceptions. Foreign errors (clickhouse-connect, protobuf, pydantic) are
translated at the boundary into one of these, keeping the original as ``__cause__``::

    ModeltelError
    ├── ConfigError          bad setting, config file or CLI argument
    ├── StoreError           the store cannot be reached or refused a statement
    │   ├── StoreLockedError     the embedded store is held by another process
    │   └── StoreUnavailableError  server down / saturated: retry later
    ├── QueryError           user SQL refused (read-only, syntax, limits)
    ├── InputError           a payload or file is malformed (names the problem)
    │   └── PayloadTooLargeError
    └── NotFoundError        unknown model, reference or window
"""

from __future__ import annotations


class ModeltelError(Exception):
    """Base class of every error modeltel raises on purpose."""


class ConfigError(ModeltelError):
    """A setting, configuration file or command-line argument is invalid."""


class StoreError(ModeltelError):
    """The store could not execute a statement."""


class StoreLockedError(StoreError):
    """The embedded chDB store is open in another process."""


class StoreUnavailableError(StoreError):
    """The store is unreachable or saturated; the caller should retry later."""


class QueryError(ModeltelError):
    """A user query was refused (write attempted, syntax error, limit exceeded)."""


class InputError(ModeltelError):
    """A payload, file or argument is malformed; the message names the problem."""


class PayloadTooLargeError(InputError):
    """A request body exceeds the configured limit."""


class NotFoundError(ModeltelError):
    """The requested model, reference or result does not exist."""
