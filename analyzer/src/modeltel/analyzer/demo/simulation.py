"""The demo's story against any running modeltel server and its store.

:class:`Simulation` trains the model, uploads its reference, serves it from the instrumented
FastAPI app, replays the simulated days through it and analyses every window. ``modeltel
demo`` drives it against its own embedded server; tests drive it against theirs.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from modeltel.analyzer.base.store import Store
from modeltel.analyzer.cli.progress import Progress
from modeltel.analyzer.demo import scenario
from modeltel.analyzer.demo.clock import SimulatedClock
from modeltel.analyzer.demo.servers import ThreadedServer
from modeltel.analyzer.demo.telemetry import Telemetry, configure
from modeltel.analyzer.demo.traffic import Replay, TrafficStats


@dataclass
class SimulationSettings:
    days: int = 7
    scale: float = 1.0
    seed: int = 7
    window_hours: int = 6
    end: datetime | None = None  # default: now, floored to the hour


class Simulation:
    """One run of the story; ``out`` receives the narration (None: silent)."""

    def __init__(
        self,
        store: Store,
        server_url: str,
        settings: SimulationSettings,
        *,
        pipeline: Any = None,
        out: TextIO | None = None,
        progress: bool = True,
    ) -> None:
        self.store = store
        self.server_url = server_url
        self.settings = settings
        self.pipeline = pipeline
        self.out = out
        self.progress = progress and out is not None
        end = settings.end or datetime.fromtimestamp(time.time() // 3600 * 3600, UTC)
        self.end = end if end.tzinfo else end.replace(tzinfo=UTC)
        self.start = self.end - timedelta(days=settings.days)
        self.clock = SimulatedClock()
        self.telemetry: Telemetry | None = None
        self.serving: ThreadedServer | None = None
        self.stats = TrafficStats()
        self.failures: list[Any] = []
        self._replay: Replay | None = None
        self._live_stop = threading.Event()
        self._live: threading.Thread | None = None

    def say(self, text: str) -> None:
        if self.out is not None:
            print(text, file=self.out, flush=True)

    def prepare(self) -> None:
        """Train the model, upload the reference and start the instrumented app."""
        from modeltel.analyzer.demo.reference import upload_training_reference
        from modeltel.analyzer.demo.serving import create_serving_app

        seed = self.settings.seed
        self.data = scenario.load_dataset(seed)
        self.model = scenario.train_model(self.data, seed)
        accuracy = float((self.model.predict(self.data.pool) == self.data.pool_labels).mean())
        self.say(
            f"  logistic regression on {len(self.data.train)} rows, "
            f"{len(self.data.features)} features; held-out accuracy {accuracy:.3f}"
        )
        rows = upload_training_reference(self.store, self.data, self.model)
        self.say(f"  uploaded the training rows as the drift reference ({rows} rows)")
        self.telemetry = configure(self.server_url, self.clock)
        app = create_serving_app(self.model, self.data.features, self.telemetry)
        self.serving = ThreadedServer(app).start()

    def replay(self) -> TrafficStats:
        """Send the simulated days through the app and wait until everything is stored."""
        assert self.serving is not None and self.telemetry is not None
        for line in scenario.describe(self.settings.days, self.start):
            self.say(f"  · {line}")
        replay = self._replay = Replay(
            self.serving.url,
            self.data,
            self.clock,
            end=self.end,
            days=self.settings.days,
            scale=self.settings.scale,
            seed=self.settings.seed,
            logger_provider=self.telemetry.logger_provider,
        )
        with Progress(
            "  traffic", self.settings.days, unit="days", enabled=None if self.progress else False
        ) as bar:
            self.stats = replay.run(
                lambda _, s: bar.advance(
                    note=f"{s.predictions:,} predictions, {s.labels_sent:,} labels"
                )
            )
        if not self.telemetry.flush(120):
            self.say("  warning: some telemetry was not exported in time")
        self._wait_for_ingest()
        s = self.stats
        self.say(
            f"  {s.requests:,} requests ({s.failed_requests} failed), {s.predictions:,} "
            f"predictions, {s.labels_sent:,} labels delivered, {s.labels_pending:,} still on "
            "their way"
        )
        return self.stats

    def _wait_for_ingest(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while getattr(self.pipeline, "pending_rows", 0) and time.monotonic() < deadline:
            time.sleep(0.05)

    def analyse(self, publisher: Any = None, config: dict[str, Any] | None = None) -> None:
        """Analyse every window of the replayed days (``config``: default the demo's own);
        report failures."""
        from modeltel.analyzer.demo.analysis import analyse_history

        self.failures = analyse_history(
            self.store,
            publisher,
            self.start,
            self.end,
            self.settings.window_hours,
            config=scenario.CONFIG if config is None else config,
            progress=self.progress,
        )
        for failure in self.failures[:5]:
            self.say(f"  ! {failure}")

    def start_live(self) -> None:
        """Keep the traffic (and the late labels) coming in real time, in a thread."""
        assert self._replay is not None, "replay() first"
        self._live_stop.clear()
        self._live = threading.Thread(
            target=self._replay.live, args=(self._live_stop,), name="demo-traffic", daemon=True
        )
        self._live.start()

    def stop_live(self) -> None:
        """End the live traffic (the request it is sending completes first)."""
        if self._live is not None:
            self._live_stop.set()
            self._live.join(60)
            self._live = None

    def stop(self) -> None:
        """Stop the traffic, the model app and its telemetry (flushed to the server first)."""
        if self._live is not None:
            self.stop_live()
        elif self._replay is not None:
            self._replay.close()
        if self.serving is not None:
            self.serving.stop()
            self.serving = None
        if self.telemetry is not None:
            self.telemetry.shutdown()
            self.telemetry = None
