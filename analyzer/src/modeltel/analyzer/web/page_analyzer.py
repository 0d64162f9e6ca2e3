"""The :class:`Analyzer` the page computes with (a range's drift, histograms), kept across
requests so its caches (a reference's counts, a production window's profile) serve the next
request and the next self-refresh instead of being rebuilt each time.

One per store object and configuration, the :data:`KEPT` most recently used; each comes with
a lock: its caches are plain dicts, so one computation uses it at a time.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from modeltel.analyzer.base.store import Store

if TYPE_CHECKING:
    from modeltel.analyzer.orchestration.analyzer import Analyzer

KEPT = 8

_KEPT: OrderedDict[tuple[int, str], tuple[Store, Analyzer, threading.Lock]] = OrderedDict()
_LOCK = threading.Lock()


def page_analyzer(store: Store) -> tuple[Analyzer, threading.Lock]:
    """The kept Analyzer of ``store`` with the current configuration (``load_config()``,
    re-read each call: a changed file makes a new one), and the lock to hold while using it."""
    from modeltel.analyzer.base.config import load_config
    from modeltel.analyzer.orchestration.analyzer import Analyzer

    config = load_config()
    key = (id(store), json.dumps(config, sort_keys=True, default=str))
    with _LOCK:
        kept = _KEPT.get(key)
        if kept is not None and kept[0] is store:
            _KEPT.move_to_end(key)
            return kept[1], kept[2]
    analyzer = Analyzer(store, config)  # outside the lock: it validates the configuration
    with _LOCK:
        _KEPT[key] = (store, analyzer, threading.Lock())
        _KEPT.move_to_end(key)
        while len(_KEPT) > KEPT:
            _KEPT.popitem(last=False)
        return analyzer, _KEPT[key][2]


class Kept:
    """Answers of the page's computations, each kept ``ttl_s`` seconds (a self-refreshing
    page asks again every 30 s); thread-safe, expired entries dropped on each :meth:`put`."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._answers: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any | None:
        """The answer kept for ``key``, None when there is none or it expired."""
        with self._lock:
            kept = self._answers.get(key)
        if kept is None or time.monotonic() - kept[0] >= self.ttl_s:
            return None
        return kept[1]

    def put(self, key: Any, answer: Any) -> None:
        now = time.monotonic()
        with self._lock:
            for old in [k for k, (at, _) in self._answers.items() if now - at >= self.ttl_s]:
                del self._answers[old]
            self._answers[key] = (now, answer)
