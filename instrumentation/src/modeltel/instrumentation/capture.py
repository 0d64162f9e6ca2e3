"""What of a model's features is recorded: an allowlist, a denylist and per-feature treatments.

One :class:`Capture` is resolved per monitor (and per reference upload in the analyzer, which
applies the same settings to the training data so that both sides compare like with like):

- ``include`` (allowlist): only these features are recorded; ``None`` records every feature;
- ``exclude`` (denylist): these features are never recorded;
- ``treatments``: feature name → ``"drop"`` (never recorded) or ``"hash"`` (recorded as the
  salted hash of its text, always categorical);
- ``salt``: the key of the hash (``MODELTEL_HASH_SALT``).

A hashed value is ``h:`` followed by the first 16 hex digits of HMAC-SHA256(salt, text), where
text is the value written by the attribute contract's rule
(:func:`~modeltel.instrumentation.attributes.text`: ``12345`` and ``12345.0`` are both
``"12345"``). The same value and salt always give the same
hash, so counts per category, drift and segments are unchanged; the values themselves are not
recoverable without the salt. A missing value stays missing.

Precedence of each setting: argument > ``MODELTEL_*`` variable > default (everything recorded,
nothing hashed). Unlike the other settings, a bad value here raises :class:`CaptureError`
naming the option or variable, also for a variable: recording everything because a denylist
was mistyped would defeat its purpose.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from modeltel.instrumentation import environment_variables as env
from modeltel.instrumentation.attributes import text

HASH = "hash"
DROP = "drop"
TREATMENTS = (HASH, DROP)
HASH_PREFIX = "h:"
HASH_DIGITS = 16

UNSALTED_WARNING = (
    "feature(s) {features} are hashed without a salt: set MODELTEL_HASH_SALT (the same secret "
    "where the model runs and where references are uploaded), since unsalted hashes of a small "
    "set of values can be reversed by hashing every candidate"
)


class CaptureError(ValueError):
    """A capture setting that makes no sense; the message names the option or variable."""


def hash_value(value: Any, salt: str | None = None) -> str | None:
    """``h:`` + 16 hex digits of HMAC-SHA256(``salt``, the value's text); ``None`` when the
    value is missing. No salt means an empty key (stable, but see :data:`UNSALTED_WARNING`)."""
    value_text = text(value)
    if value_text is None:
        return None
    return _hash_text(value_text, _key(salt))


def _key(salt: str | None) -> bytes:
    return salt.encode("utf-8") if salt else b""


def _hash_text(value_text: str, key: bytes) -> str:
    digest = hmac.new(key, value_text.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return HASH_PREFIX + digest.hexdigest()[:HASH_DIGITS]


@dataclass(frozen=True)
class Capture:
    """Resolved capture settings; the default records every feature as it is."""

    include: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()
    treatments: Mapping[str, str] = field(default_factory=dict)
    salt: str | None = None

    def __post_init__(self) -> None:
        key = _key(self.salt)
        cached = lru_cache(maxsize=65_536)(lambda t: _hash_text(t, key))
        object.__setattr__(self, "_hashed_text", cached)

    @property
    def is_default(self) -> bool:
        """True when every feature is recorded unchanged."""
        return self.include is None and not self.exclude and not self.treatments

    def records(self, feature: str) -> bool:
        """Whether ``feature`` is recorded at all (included, not excluded, not dropped)."""
        if self.include is not None and feature not in self.include:
            return False
        return feature not in self.exclude and self.treatments.get(feature) != DROP

    def hashes(self, feature: str) -> bool:
        """Whether ``feature`` is recorded hashed."""
        return self.treatments.get(feature) == HASH and self.records(feature)

    def hash(self, value: Any) -> str | None:
        """:func:`hash_value` of ``value`` with this salt (cached per text)."""
        value_text = text(value)
        return None if value_text is None else self._hashed_text(value_text)  # type: ignore[attr-defined]

    def hash_all(self, values: Iterable[Any]) -> list[str | None]:
        """:meth:`hash` of each value, missing values staying ``None``."""
        return [self.hash(v) for v in values]

    def unsalted_warning(self) -> str | None:
        """The sentence to warn with when features are hashed without a salt, else None."""
        hashed = sorted(f for f, t in self.treatments.items() if t == HASH)
        if not hashed or self.salt:
            return None
        return UNSALTED_WARNING.format(features=", ".join(hashed))


def resolve_capture(
    include: Sequence[str] | str | None = None,
    exclude: Sequence[str] | str | None = None,
    treatments: Mapping[str, str] | str | None = None,
    salt: str | None = None,
    *,
    names: tuple[str, str, str, str] = (
        "features_include",
        "features_exclude",
        "feature_treatments",
        "hash_salt",
    ),
) -> Capture:
    """The :class:`Capture` of the arguments, each falling back to its ``MODELTEL_*`` variable.

    A string argument is read like the variable (``"a,b"``; ``"postcode:hash,name:drop"``).
    ``names`` are the argument names the errors use. CaptureError for an unknown treatment, a
    feature both included and excluded, an empty name or a malformed variable.
    """
    include_name, exclude_name, treatments_name, salt_name = names
    chosen_include, include_from = _names(include, include_name, env.MODELTEL_FEATURES_INCLUDE)
    chosen_exclude, exclude_from = _names(exclude, exclude_name, env.MODELTEL_FEATURES_EXCLUDE)
    chosen_treatments = _treatments(treatments, treatments_name)
    both = sorted(set(chosen_include or ()) & set(chosen_exclude or ()))
    if both:
        raise CaptureError(
            f"feature(s) {', '.join(both)} are both in {include_from} and {exclude_from}; "
            "name each feature in one of them only"
        )
    return Capture(
        include=frozenset(chosen_include) if chosen_include is not None else None,
        exclude=frozenset(chosen_exclude or ()),
        treatments=chosen_treatments,
        salt=_salt(salt, salt_name),
    )


def _env(name: str) -> str | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    return raw.strip()


def _split(raw: str, source: str) -> list[str]:
    parts = [p.strip() for p in raw.split(",")]
    if any(not p for p in parts):
        raise CaptureError(f"{source}={raw!r} has an empty feature name; separate names by commas")
    return parts


def _names(
    value: Sequence[str] | str | None, option: str, variable: str
) -> tuple[list[str] | None, str]:
    """The names given by ``option`` (else ``variable``), and which of the two gave them."""
    if value is not None:
        if isinstance(value, str):
            return _split(value, option), option
        if not isinstance(value, Iterable) or isinstance(value, Mapping | bytes):
            raise CaptureError(f"{option} must be a list of feature names, got {value!r}")
        names = [str(v).strip() for v in value]
        if any(not n for n in names):
            raise CaptureError(f"{option} has an empty feature name: {list(value)!r}")
        return names, option
    raw = _env(variable)
    if raw is None:
        return None, variable
    return _split(raw, variable), variable


def _treatments(value: Mapping[str, str] | str | None, option: str) -> dict[str, str]:
    if value is None:
        raw = _env(env.MODELTEL_FEATURE_TREATMENTS)
        if raw is None:
            return {}
        return _parse_treatments(raw, env.MODELTEL_FEATURE_TREATMENTS)
    if isinstance(value, str):
        return _parse_treatments(value, option)
    if not isinstance(value, Mapping):
        raise CaptureError(
            f"{option} must map feature names to {' or '.join(map(repr, TREATMENTS))}, "
            f"got {value!r}"
        )
    out: dict[str, str] = {}
    for feature, treatment in value.items():
        out[_feature(str(feature), option)] = _treatment(treatment, feature, option)
    return out


def _parse_treatments(raw: str, source: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in raw.split(","):
        feature, sep, treatment = part.strip().rpartition(":")
        if not sep or not feature.strip():
            raise CaptureError(
                f"{source}={raw!r} is not a list of feature:treatment "
                f"(for example postcode:hash,name:drop); {part.strip()!r} is not"
            )
        out[feature.strip()] = _treatment(treatment.strip(), feature.strip(), source)
    return out


def _feature(name: str, option: str) -> str:
    if not name.strip():
        raise CaptureError(f"{option} has an empty feature name")
    return name.strip()


def _treatment(treatment: Any, feature: Any, source: str) -> str:
    if treatment not in TREATMENTS:
        raise CaptureError(
            f"{source}: the treatment of {feature!r} must be "
            f"{' or '.join(map(repr, TREATMENTS))}, got {treatment!r}"
        )
    return str(treatment)


def _salt(value: str | None, option: str) -> str | None:
    if value is not None:
        if not isinstance(value, str) or not value:
            raise CaptureError(f"{option} must be a non-empty string")
        return value
    return _env(env.MODELTEL_HASH_SALT)
