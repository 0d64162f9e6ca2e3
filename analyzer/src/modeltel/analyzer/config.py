"""The YAML configuration file (``--config`` / ``$MODELTEL_CONFIG``).

The file is a mapping of sections (``drift``, ``quality``, ``performance``, ``retrain``,
``models`` …); each section is validated by the module that uses it, which raises
:class:`ConfigError` naming the key path (``drift.features.age.threshold``) and the problem.
An absent file means every default.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from modeltel.analyzer import settings
from modeltel.analyzer.errors import ConfigError


def load_config(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Read the configuration: ``path``, else ``$MODELTEL_CONFIG``, else ``{}``."""
    chosen = path or os.environ.get(settings.MODELTEL_CONFIG)
    if not chosen:
        return {}
    file = Path(chosen)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {file} is not UTF-8 text (byte {exc.start} cannot be decoded)"
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"config file {file} is not valid YAML{where}: {problem}") from exc
    except RecursionError as exc:
        raise ConfigError(f"config file {file} is nested too deeply to be a configuration") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {file} must be a mapping of sections, not {type(data).__name__}"
        )
    return data


def section(config: dict[str, Any], name: str) -> dict[str, Any]:
    """The mapping under ``name`` (empty when absent); ConfigError when it is not a mapping."""
    value = config.get(name, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"config key {name!r} must be a mapping, not {type(value).__name__}")
    return value


def expect(value: Any, types: type | tuple[type, ...], path: str, what: str) -> Any:
    """Return ``value`` if it is of ``types``; else raise ConfigError naming ``path``."""
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise ConfigError(f"config key {path} must be {what}, got {value!r}")
    if not isinstance(value, types):
        raise ConfigError(f"config key {path} must be {what}, got {value!r}")
    return value


def check_keys(raw: Mapping[str, Any], known: Iterable[str], path: str) -> None:
    """ConfigError naming the first (sorted) key of ``raw`` not in ``known``."""
    known = sorted(known)
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(
            f"config key {path}.{unknown[0]} is not known; expected one of {', '.join(known)}"
        )
