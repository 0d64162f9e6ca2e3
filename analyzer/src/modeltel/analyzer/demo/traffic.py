"""Replay simulated days of requests against the serving app, and the labels that follow.

Each simulated hour gets a Poisson number of requests following a daily rhythm; a request
is one row (40 %) or a batch of 4–32 rows, posted over HTTP to ``/predict``. Before each
request the simulated clock is set to the request's time, so its span lands there. Every
prediction's biopsy result is scheduled 1–36 h later (or never) and sent with
``log_labels(timestamp=arrival)`` once the replay passes that moment; results due after
the end of the replay have not arrived yet, as in real life.
"""

from __future__ import annotations

import heapq
import http.client
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import numpy as np

from modeltel.analyzer.demo.clock import SimulatedClock
from modeltel.analyzer.demo.scenario import (
    BROKEN_FEATURE,
    MODEL_NAME,
    Dataset,
    Day,
    hourly_requests,
    label_delay,
    production_rows,
    schedule,
)
from modeltel.instrumentation import log_labels

logger = logging.getLogger(__name__)

REQUESTS_PER_HOUR = 8.0


@dataclass
class TrafficStats:
    requests: int = 0
    predictions: int = 0
    failed_requests: int = 0
    labels_sent: int = 0
    labels_pending: int = 0
    per_day: list[int] = field(default_factory=list)


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


class Replay:
    """Sends the traffic of ``days`` simulated days ending at ``end``."""

    def __init__(
        self,
        app_url: str,
        data: Dataset,
        clock: SimulatedClock,
        *,
        end: datetime,
        days: int,
        scale: float,
        seed: int,
        logger_provider: Any = None,
    ) -> None:
        parsed = urlparse(app_url)
        self.connection = http.client.HTTPConnection(
            parsed.hostname or "127.0.0.1", parsed.port, timeout=60
        )
        self.data = data
        self.clock = clock
        self.days = days
        self.start = end - timedelta(days=days)
        self.end = end
        self.scale = scale
        self.rng = np.random.default_rng(seed)
        self.pending: list[tuple[datetime, int, str, str]] = []
        self._order = 0
        self.stats = TrafficStats()
        self.logger_provider = logger_provider

    def _post(self, rows: list[dict[str, Any]], ids: list[str]) -> dict[str, Any] | None:
        body = json.dumps({"rows": rows, "ids": ids}).encode()
        for attempt in (1, 2):  # a keep-alive connection the server closed is reopened once
            try:
                self.connection.request(
                    "POST", "/predict", body=body, headers={"Content-Type": "application/json"}
                )
                response = self.connection.getresponse()
                answer = json.loads(response.read() or b"{}")
                break
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                if attempt == 2:
                    raise
        return answer if response.status == 200 else None

    def _request(self, day: Day, moment: datetime) -> None:
        single = self.rng.random() < 0.4
        count = 1 if single else int(self.rng.integers(4, 33))
        frame, truth = production_rows(self.data, day, count, self.rng)
        rows = [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]
        if day.broken and self.rng.random() < day.broken:
            for row in rows:
                row[BROKEN_FEATURE] = "n/a"
        ids = [f"bc-{moment:%m%d}-{self.stats.requests:05d}-{i:02d}" for i in range(count)]
        self.clock.set(moment)
        answer = self._post(rows, ids)
        self.stats.requests += 1
        self.stats.predictions += count  # failed calls are recorded too (as errors)
        if answer is None:
            self.stats.failed_requests += 1
            return
        for pid, label in zip(answer["prediction_ids"], truth, strict=True):
            delay = label_delay(self.rng)
            if delay is not None and pid:
                self._order += 1
                heapq.heappush(self.pending, (moment + delay, self._order, pid, str(label)))

    def _deliver_labels(self, until: datetime) -> None:
        """Send every label due by ``until``, grouped by 5-minute arrival slot."""
        groups: dict[datetime, tuple[list[str], list[str]]] = {}
        while self.pending and self.pending[0][0] <= until:
            arrival, _, pid, label = heapq.heappop(self.pending)
            slot = arrival.replace(minute=arrival.minute - arrival.minute % 5, second=0)
            ids, labels = groups.setdefault(slot, ([], []))
            ids.append(pid)
            labels.append(label)
        for slot, (ids, labels) in sorted(groups.items()):
            self.stats.labels_sent += log_labels(
                MODEL_NAME, ids, labels, timestamp=slot, logger_provider=self.logger_provider
            )

    def run(self, on_day: Callable[[int, TrafficStats], None] | None = None) -> TrafficStats:
        """Replay every day; ``on_day(index, stats)`` after each."""
        plan = schedule(self.days)
        for day in plan:
            before = self.stats.predictions
            for hour in range(24):
                hour_start = self.start + timedelta(days=day.index, hours=hour)
                expected = hourly_requests(hour_start.hour, REQUESTS_PER_HOUR * self.scale)
                count = int(self.rng.poisson(expected))
                offsets = np.sort(self.rng.uniform(0, 3600, size=count))
                for offset in offsets:
                    self._request(day, hour_start + timedelta(seconds=float(offset)))
                self._deliver_labels(hour_start + timedelta(hours=1))
            self.stats.per_day.append(self.stats.predictions - before)
            if on_day is not None:
                on_day(day.index, self.stats)
        self.stats.labels_pending = len(self.pending)
        return self.stats

    def live(self, stop: threading.Event, wake_s: float = 30.0) -> None:
        """Go on in real time until ``stop``: the last day's conditions at the story's rate,
        and the labels still on their way delivered as they fall due."""
        day = schedule(self.days)[-1]
        self.clock.set(datetime.now(UTC))
        due = time.monotonic() + self._gap()
        while not stop.is_set():
            if stop.wait(max(0.0, min(due - time.monotonic(), wake_s))):
                break
            now = datetime.now(UTC)
            self.clock.set(now)
            try:
                if time.monotonic() >= due:
                    self._request(day, now)
                    due = time.monotonic() + self._gap()
                self._deliver_labels(now)
            except (OSError, http.client.HTTPException, ValueError):
                logger.warning("live demo traffic: the model app did not answer", exc_info=True)
        self.connection.close()

    def _gap(self) -> float:
        """Seconds until the next live request (Poisson arrivals at the story's rate)."""
        rate = hourly_requests(datetime.now(UTC).hour, REQUESTS_PER_HOUR * self.scale)
        return float(self.rng.exponential(3600.0 / max(rate, 1e-6)))

    def close(self) -> None:
        self.connection.close()
