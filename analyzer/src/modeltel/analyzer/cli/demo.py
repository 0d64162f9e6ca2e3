"""``modeltel demo``: the whole story on this machine in about a minute."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
what it does:
  starts the embedded modeltel server, trains a scikit-learn classifier on the bundled
  breast-cancer data, serves it from a FastAPI app monitored by one line, replays a week
  of requests (drift, missing values and failures injected; labels arriving late), runs
  the analysis over every window and tells you what it found and where to look.

examples:
  modeltel demo                         # about a minute; data kept in ./modeltel-demo
  modeltel demo --keep-running          # then open the printed URL; Ctrl-C to stop
  modeltel demo --scale 0.2 --days 4    # smaller and faster
  ./dev demo                            # the same from a fresh clone

Deterministic for a given --seed. The folder given by --data-dir is wiped and recreated
(only if it is empty or a previous demo's).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole story on this machine (about a minute)",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data-dir",
        default="modeltel-demo",
        metavar="DIR",
        help="folder of the demo's embedded store (default ./modeltel-demo)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="HTTP port of the modeltel server (default 4318 when free, else any free port)",
    )
    parser.add_argument("--days", type=int, default=7, help="simulated days (default 7)")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="traffic volume factor, 1 ≈ 11k predictions in 1,000 requests (default 1)",
    )
    parser.add_argument(
        "--window-hours",
        type=int,
        default=6,
        metavar="H",
        help="analysis window in hours, a divisor of 24 (default 6)",
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the server (and its analysis loop) running for exploring; Ctrl-C stops",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from modeltel.analyzer.demo import DemoOptions, run_demo

    return run_demo(
        DemoOptions(
            data_dir=Path(args.data_dir),
            port=args.port,
            days=args.days,
            scale=args.scale,
            seed=args.seed,
            window_hours=args.window_hours,
            keep_running=args.keep_running,
        )
    )
