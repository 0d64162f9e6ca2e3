"""The demo's model-app telemetry stops within its bound even when the server refuses it."""

from __future__ import annotations

import time

from modeltel.analyzer.demo.clock import SimulatedClock
from modeltel.analyzer.demo.telemetry import configure
from support.servers import start_server

# Time bound: the shutdown's own timeout is 2 s; the ceiling below allows a loaded machine.
SHUTDOWN_TIMEOUT_S = 2.0
CEILING_S = 30.0


def test_shutdown_returns_in_time_while_the_server_answers_503(store) -> None:
    server, stop = start_server(store)
    try:
        server.pipeline.close()  # the receiver now answers every export 503 + Retry-After
        telemetry = configure(server.url, SimulatedClock())
        with telemetry.tracer_provider.get_tracer("t").start_as_current_span("predict"):
            pass
        telemetry.meter_provider.get_meter("t").create_counter("calls").add(1)
        started = time.monotonic()
        finished = telemetry.shutdown(timeout_s=SHUTDOWN_TIMEOUT_S)
        elapsed = time.monotonic() - started
    finally:
        stop()
    assert not finished, "the exports were refused, so they cannot have finished"
    assert elapsed < CEILING_S, f"shutdown took {elapsed:.1f} s (its bound is 2 s)"
