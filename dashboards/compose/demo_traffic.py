"""Traffic for the compose stack's demo app (examples/churn_service.py), with drift injected.

    python demo_traffic.py --app http://demo-app:8000 --clickhouse-url http://u:p@clickhouse:8123

1. uploads the app's training data as the drift reference of ``churn`` version 1
   (``modeltel reference upload``);
2. sends customers to ``POST /predict`` at ``--rate`` requests per second, drawn like the
   training data until ``--drift-after``, then shifted (shorter tenure, higher charges, more
   support calls, a new ``trial`` plan, missing support calls) with churn behaving differently;
3. posts the true outcome of most predictions to ``POST /labels`` ``--label-delay`` later.

Stops after ``--duration`` (default: never) or on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # /app: examples/

from examples.churn_service import MODEL_NAME, MODEL_VERSION, training_data

from modeltel.analyzer.base.durations import parse_duration

PLANS = ["basic", "standard", "premium"]


def customer(rng: np.random.Generator, drifted: bool) -> tuple[dict[str, Any], str]:
    """One request body and its true outcome (``yes`` = churned)."""
    if drifted:
        tenure = float(rng.integers(1, 24))
        charges = round(float(rng.normal(85, 15)), 2)
        calls = float(rng.poisson(3.5))
        plan = str(rng.choice([*PLANS, "trial"], p=[0.35, 0.2, 0.15, 0.3]))
    else:
        tenure = float(rng.integers(1, 72))
        charges = round(float(rng.normal(65, 20)), 2)
        calls = float(rng.poisson(1.5))
        plan = str(rng.choice(PLANS, p=[0.5, 0.3, 0.2]))
    logit = -0.06 * tenure + 0.03 * (charges - 65) + 0.6 * calls - 0.8 * (plan == "premium")
    if drifted:  # the concept changed too: loyal-looking customers leave
        logit = 0.5 - 0.2 * calls + 0.04 * tenure
    churned = rng.random() < 1 / (1 + np.exp(-logit))
    body: dict[str, Any] = {
        "tenure_months": tenure,
        "monthly_charges": charges,
        "support_calls": None if drifted and rng.random() < 0.15 else calls,
        "plan": plan,
    }
    return body, "yes" if churned else "no"


def post(url: str, body: Any, timeout: float = 10.0) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def wait_for(url: str, seconds: float = 300.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3):
                return
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not answer within {seconds:.0f}s") from None
            time.sleep(2)


def upload_reference(clickhouse_url: str, attempts: int = 30) -> None:
    frame, _ = training_data()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "churn-reference.csv"
        frame.to_csv(path, index=False)
        command = [
            "modeltel",
            "reference",
            "upload",
            MODEL_NAME,
            str(path),
            "--version",
            MODEL_VERSION,
            "--clickhouse-url",
            clickhouse_url,
        ]
        for _ in range(attempts):
            if subprocess.run(command, check=False).returncode == 0:
                return
            time.sleep(5)
    raise SystemExit("could not upload the reference")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", default="http://127.0.0.1:8000")
    parser.add_argument("--clickhouse-url", default=None, help="upload the reference here")
    parser.add_argument("--rate", type=float, default=5.0, help="requests per second")
    parser.add_argument("--drift-after", default="10m")
    parser.add_argument("--label-delay", default="60s")
    parser.add_argument("--label-share", type=float, default=0.8)
    parser.add_argument("--duration", default="0", help="0 runs until stopped")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    drift_after = parse_duration(args.drift_after, name="--drift-after")
    label_delay = parse_duration(args.label_delay, name="--label-delay")
    duration = parse_duration(args.duration, name="--duration")
    rng = np.random.default_rng(args.seed)
    wait_for(f"{args.app}/healthz")
    if args.clickhouse_url:
        upload_reference(args.clickhouse_url)
    started = time.monotonic()
    pending: deque[tuple[float, str, str]] = deque()
    sent = 0
    while not duration or time.monotonic() - started < duration:
        drifted = time.monotonic() - started >= drift_after
        body, truth = customer(rng, drifted)
        try:
            answer = post(f"{args.app}/predict", body)
            sent += 1
            if answer.get("prediction_id") and rng.random() < args.label_share:
                pending.append((time.monotonic() + label_delay, answer["prediction_id"], truth))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            print(f"predict failed: {exc}", file=sys.stderr)
        due = []
        while pending and pending[0][0] <= time.monotonic():
            due.append(pending.popleft())
        if due:
            try:
                post(
                    f"{args.app}/labels",
                    {"prediction_ids": [d[1] for d in due], "labels": [d[2] for d in due]},
                )
            except (urllib.error.URLError, OSError, ValueError) as exc:
                print(f"labels failed: {exc}", file=sys.stderr)
        if sent % 500 == 0:
            print(f"{sent} predictions sent ({'drifted' if drifted else 'baseline'})", flush=True)
        time.sleep(1.0 / args.rate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
