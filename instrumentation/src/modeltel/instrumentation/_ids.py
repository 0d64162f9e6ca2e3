"""Prediction ids: generation (UUIDv7, time-ordered), ids supplied for a call, and the ids of
the call just made.

Generated ids follow RFC 9562's UUIDv7 layout: 48 bits of Unix milliseconds, 12 bits of
sub-millisecond fraction (so ids of one process sort by creation time to ~250 ns), 62 random
bits. The rows of one batch share a random base and count up in the low bits, which keeps
them ordered and makes a 1,000-row batch cost one formatting pass instead of 1,000 random
draws. Randomness comes from a private generator seeded from ``os.urandom`` and re-seeded in
forked children, so an application calling ``random.seed()`` cannot make ids repeat.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from modeltel.instrumentation.attributes import text

_rng = random.Random(os.urandom(32))


def _reseed() -> None:
    _rng.seed(os.urandom(32))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed)

_VERSION_VARIANT_HIGH = 0x7 << 12  # version nibble in the third group
_VARIANT = 0b10 << 14  # variant bits in the fourth group
_LOW_BITS = 48
_LOW_SPAN = 1 << _LOW_BITS


def new_id() -> str:
    """One UUIDv7 string, e.g. ``0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b``."""
    ns = time.time_ns()
    ms, sub = divmod(ns, 1_000_000)
    rand = _rng.getrandbits(62)
    value = (
        (ms << 80) | ((0x7000 | (sub * 4096 // 1_000_000)) << 64) | (0x8000_0000_0000_0000 | rand)
    )
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_ids(count: int) -> list[str]:
    """``count`` UUIDv7 strings sharing one timestamp, in increasing order."""
    if count <= 1:
        return [new_id()] if count == 1 else []
    ns = time.time_ns()
    ms, sub = divmod(ns, 1_000_000)
    group3 = 0x7000 | (sub * 4096 // 1_000_000)
    group4 = _VARIANT | _rng.getrandbits(14)
    # Random start low enough that counting up never carries into the fourth group.
    start = _rng.randrange(0, _LOW_SPAN - count)
    prefix = f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-{group3:04x}-{group4:04x}-"
    return [f"{prefix}{low:012x}" for low in range(start, start + count)]


def id_text(value: Any) -> str | None:
    """A user-supplied id as text (:func:`~modeltel.instrumentation.attributes.text`);
    ``None`` for missing values and the empty string."""
    if type(value) is str:
        return value or None
    return text(value) or None


# -- ids supplied for the calls of a block, and the ids of the last call --------------------

_supplied: ContextVar[tuple[str | None, ...] | None] = ContextVar(
    "modeltel_supplied_prediction_ids", default=None
)


# (rows, ids or None when no row has an id): the list is built only when asked for.
_last: ContextVar[tuple[int, Sequence[str | None] | None]] = ContextVar(
    "modeltel_last_prediction_ids", default=(0, ())
)


def set_last(rows: int, ids: Sequence[str | None] | None) -> None:
    _last.set((rows, ids))


def last_prediction_ids() -> list[str | None]:
    """The prediction ids of the last monitored call made in this thread or asyncio task.

    One entry per row of that call, in row order: the ids sent with the prediction span, to
    return to the client (for example in the HTTP response) and to pass back to
    :func:`~modeltel.instrumentation.log_labels` when the ground truth arrives. An entry is
    ``None`` when its row was not recorded (the call was left out by ``sample_rate`` or
    the row by batch sampling) and no id came from the caller (:func:`prediction_ids`, an
    id column, an id function): generated ids exist only for recorded rows. Empty before
    any call.

    The value lives in a :class:`contextvars.ContextVar`: read it in the thread or task that
    made the call. Code that runs the model in a worker thread (``run_in_executor``) can
    supply its own ids with :func:`prediction_ids` instead.
    """
    rows, ids = _last.get()
    return [None] * rows if ids is None else list(ids)


def supplied_ids() -> tuple[str | None, ...] | None:
    return _supplied.get()


@contextmanager
def prediction_ids(ids: Any) -> Iterator[None]:
    """Use ``ids`` as the prediction ids of the monitored calls made inside the block.

    ``ids`` is one id (for a single-row call) or a sequence with one id per row; values are
    turned into strings. Ids given this way win over an id column and over generated ids.
    Rows left without an id (``None``) get a generated one::

        with prediction_ids(request.headers["x-request-id"]):
            label = model.predict(features)
    """
    if ids is None or isinstance(ids, (str, bytes, int, float)):
        values: tuple[str | None, ...] = (id_text(ids),)
    else:
        values = tuple(id_text(v) for v in _iterable(ids))
    token = _supplied.set(values)
    try:
        yield
    finally:
        _supplied.reset(token)


def _iterable(ids: Any) -> Iterator[Any]:
    tolist = getattr(ids, "tolist", None)
    if tolist is not None:
        ids = tolist()
    return iter(ids)


def complete_ids(given: Sequence[str | None] | None, rows: int) -> list[str]:
    """``rows`` ids: the given ones where present, generated ones elsewhere."""
    if given is None or len(given) != rows:
        return new_ids(rows)
    if all(given):
        return list(given)  # type: ignore[arg-type]
    fresh = iter(new_ids(rows))
    return [g if g else next(fresh) for g in given]
