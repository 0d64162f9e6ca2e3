"""``modeltel`` as a user runs it: the CLI in a subprocess of this interpreter."""

from __future__ import annotations

import os
import subprocess
import sys


def modeltel(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``modeltel ARGS`` (no progress bars) and return what it printed and its exit code."""
    env = {**os.environ, "MODELTEL_NO_PROGRESS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "modeltel.analyzer.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
