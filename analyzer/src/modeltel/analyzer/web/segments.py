"""The segments of a model's results (``segment = "dimension=value"``, from ``segment_by``) and
the records one segment's page is drawn from.

:func:`segments_of` lists the segments of a view's latest windows (from the records already
read: no query); :func:`segment_records` picks the records a page of one segment shows.
Fairness records are left out of both: their segments are the groups of a protected
attribute, drawn by the fairness section itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from modeltel.analyzer.base.errors import InputError

OWN_GROUPS = frozenset({"fairness"})
"""Kinds whose ``segment`` holds groups of their own, not segments of the traffic."""
DRAWS_SEGMENTS = frozenset({"custom"})
"""Kinds whose section draws their segments itself (a table per segment) on the all-traffic
page."""


@dataclass(frozen=True)
class Segment:
    """One segment of the latest windows: ``name`` (``dimension=value``), its ``dimension``,
    the ``predictions`` it holds (the largest record size) and the ``kinds`` split by it."""

    name: str
    dimension: str
    predictions: int
    kinds: tuple[str, ...]


def check_segment(text: str | None) -> str:
    """``text`` as a segment name (``""`` for all traffic); InputError naming a malformed one."""
    text = (text or "").strip()
    if not text:
        return ""
    dimension, equals, value = text.partition("=")
    if not equals or not dimension or not value:
        raise InputError(
            f"segment={text!r} is not a segment; write dimension=value, e.g. segment=plan=gold"
        )
    return text


def segments_of(latest: Iterable[dict[str, Any]]) -> list[Segment]:
    """The segments of ``latest`` records, by dimension, then largest first, then name."""
    sizes: dict[str, int] = {}
    kinds: dict[str, set[str]] = {}
    for r in latest:
        name = r.get("segment")
        if not name or r["kind"] in OWN_GROUPS:
            continue
        sizes[name] = max(sizes.get(name, 0), int(r.get("current_size") or 0))
        kinds.setdefault(name, set()).add(str(r["kind"]))
    found = [
        Segment(name, name.partition("=")[0], sizes[name], tuple(sorted(kinds[name])))
        for name in sizes
    ]
    return sorted(found, key=lambda s: (s.dimension, -s.predictions, s.name))


def segment_records(
    records: list[dict[str, Any]], segment: str
) -> tuple[list[dict[str, Any]], set[str]]:
    """The records a page of ``segment`` draws, and the kinds it draws over all traffic.

    All traffic (``""``): the unsegmented records, plus every record of the
    :data:`OWN_GROUPS` and :data:`DRAWS_SEGMENTS` kinds. A segment: per kind split by it, its
    records with ``segment`` cleared (the sections draw them as the whole); per other kind,
    what the all-traffic page draws (those kinds are returned)."""
    if not segment:
        keep = OWN_GROUPS | DRAWS_SEGMENTS
        return [r for r in records if not r.get("segment") or r["kind"] in keep], set()
    split = {
        r["kind"] for r in records if r.get("segment") == segment and r["kind"] not in OWN_GROUPS
    }
    overall, _ = segment_records([r for r in records if r["kind"] not in split], "")
    mine = [
        {**r, "segment": ""} for r in records if r["kind"] in split and r.get("segment") == segment
    ]
    chosen = sorted(
        overall + mine,
        key=lambda r: (r.get("window_start") is not None, r.get("window_start")),
    )
    return chosen, {r["kind"] for r in overall}
