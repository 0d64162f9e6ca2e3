"""The ``modeltel`` command line.

Each command lives in a module of this package exposing ``register(subparsers)``; add new
commands to :data:`COMMANDS`. A command that works on the store or through a running
``modeltel serve`` takes :func:`~.backend.add_backend_options` and asks
:func:`~.backend.open_backend` for its data, never ``--server`` itself.

Exit codes: 0 success, 1 the command ran and found a problem it reports (e.g. failed checks),
2 bad usage/configuration/input, 3 store unavailable or locked, 4 not found, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from modeltel.analyzer.base.errors import (
    ConfigError,
    InputError,
    ModeltelError,
    NotFoundError,
    QueryError,
    StoreError,
)
from modeltel.analyzer.cli import (
    analyze,
    analyzer_loop,
    common,
    demo,
    explain,
    labels,
    models,
    outliers,
    reference,
    report,
    retention,
    serve,
    sql,
)

COMMANDS = [
    serve,
    analyzer_loop,
    demo,
    models,
    report,
    sql,
    reference,
    analyze,
    explain,
    labels,
    outliers,
    retention,
]

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_STORE, EXIT_NOT_FOUND = 0, 1, 2, 3, 4

DESCRIPTION = """\
modeltel watches machine-learning models in production through OpenTelemetry.

Typical first steps:
  modeltel demo --keep-running                   # the whole story on this machine
  modeltel serve                                 # OTLP receiver + API + web page on :4318
  modeltel reference upload churn train.csv --version 3
  modeltel labels upload churn labels.csv        # ground truth, joined by prediction id
  modeltel analyze --model churn --window 1h
  modeltel models                                # health, drift and volume per model
  modeltel explain churn --window 1h             # which slices explain accuracy's change
  modeltel report churn --period week --pdf churn.pdf
  modeltel sql "SELECT model, count() FROM ml_predictions GROUP BY model"
  modeltel retention --apply                     # how long tables keep rows, and their sizes

Each command has --help with examples. While `modeltel serve` owns the embedded store, give
the other commands --server http://127.0.0.1:4318 (or set MODELTEL_SERVER).
Exit codes: 0 ok, 1 the command found a problem it reports (e.g. --fail-on-drift), 2 bad
usage, configuration or input, 3 store unavailable or locked, 4 not found, 130 interrupted.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modeltel",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG
        if args.verbose > 1
        else logging.INFO
        if args.verbose
        else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (ConfigError, InputError, QueryError) as exc:
        common.fail(str(exc))
        return EXIT_USAGE
    except NotFoundError as exc:
        common.fail(str(exc))
        return EXIT_NOT_FOUND
    except StoreError as exc:
        common.fail(str(exc))
        return EXIT_STORE
    except ModeltelError as exc:
        common.fail(str(exc))
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
