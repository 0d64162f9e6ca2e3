"""The YAML configuration file (``--config`` / ``$MODELTEL_CONFIG``).

The file is a mapping of sections (``drift``, ``quality``, ``performance``, ``retrain`` …);
each section is validated by the module that uses it, which raises :class:`ConfigError`
naming the key path (``drift.features.age.threshold``) and the problem. An absent file means
every default. The section of an analysis is a :class:`Section`: its ``models.<model>``
mapping overrides any of its keys for one model, e.g.::

    quality:
      thresholds: {missing_ratio: 0.1}
      models:
        churn: {thresholds: {missing_ratio: 0.3}}
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Self

import yaml

from modeltel.analyzer.base import settings
from modeltel.analyzer.base.errors import ConfigError


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


def thresholds(
    value: Any, path: str, known: Iterable[str], current: Mapping[str, float]
) -> dict[str, float]:
    """``current`` with the thresholds of the mapping ``value`` (at config path ``path``)
    applied; ConfigError naming the key when a metric is not in ``known`` or a value is not
    a number."""
    given = expect(value, dict, path, "a mapping of metric: number")
    names = list(known)
    out = dict(current)
    for metric, raw in given.items():
        key = f"{path}.{metric}"
        if metric not in names:
            raise ConfigError(f"config key {key} is not known; expected one of {', '.join(names)}")
        number = float(expect(raw, (int, float), key, "a number"))
        if math.isnan(number):
            raise ConfigError(f"config key {key} must be a number, got {raw!r}")
        out[str(metric)] = number
    return out


@dataclass(frozen=True)
class Section:
    """A validated configuration section of an analysis, with per-model overrides.

    A subclass names its key in the file (``NAME``) and implements :meth:`parse`;
    :meth:`load` validates the whole section once, the ``models.<model>`` overrides included,
    and :meth:`for_model` gives the settings one model runs with.
    """

    NAME: ClassVar[str] = ""
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``models.<model>`` as written: keys of the section that apply to that model only."""

    def parse(self, raw: Mapping[str, Any], path: str) -> Self:
        """These settings with the keys of ``raw`` (the mapping at config path ``path``)
        applied; ConfigError naming the key when one is unknown or invalid."""
        raise NotImplementedError

    @classmethod
    def load(cls, config: Mapping[str, Any] | None) -> Self:
        """The section ``NAME`` of ``config`` (defaults when absent), overrides validated."""
        raw = section(dict(config or {}), cls.NAME)
        models = expect(
            raw.get("models") or {}, dict, f"{cls.NAME}.models", "a mapping of model: settings"
        )
        base = cls().parse({k: v for k, v in raw.items() if k != "models"}, cls.NAME)
        for name, override in models.items():
            path = f"{cls.NAME}.models.{name}"
            expect(override, dict, path, "a mapping")
            if "models" in override:
                raise ConfigError(f"config key {path}.models is not known: models do not nest")
            base.parse(override, path)
        return replace(base, models={str(k): dict(v) for k, v in models.items()})

    def for_model(self, model: str) -> Self:
        """These settings with ``models.<model>`` applied on top."""
        override = self.models.get(model)
        if not override:
            return self
        return replace(self.parse(override, f"{self.NAME}.models.{model}"), models={})
