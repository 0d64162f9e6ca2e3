"""``modeltel demo``: a real model, real telemetry and simulated days of drift, on one machine.

See :mod:`.runner` for the steps and :mod:`.scenario` for the story.
"""

from modeltel.analyzer.demo.runner import DemoOptions, run_demo

__all__ = ["DemoOptions", "run_demo"]
