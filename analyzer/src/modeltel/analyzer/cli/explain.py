"""``modeltel explain``: which slices of a model's traffic explain a metric's change between a
window and the one before it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from modeltel.analyzer.cli import common
from modeltel.analyzer.cli.backend import ExplainQuery, add_backend_options, open_backend

EPILOG = """\
examples:
  modeltel explain churn                          # the last hour against the hour before
  modeltel explain churn --window 1d --end 2026-03-02T00:00
  modeltel explain churn --window 1h --baseline-start 2026-03-01T10:00   # against that hour
  modeltel explain churn --metric error_ratio --dimension region --dimension plan
  modeltel explain churn --metric drift:age       # which slices carry age's drift
  modeltel explain churn --format json --server http://127.0.0.1:4318

Metrics: accuracy (the default for classifiers), estimated_accuracy, mae (the default for
regressors), mse, error_ratio, label_coverage, and drift:FEATURE (the feature's PSI between the
windows, e.g. drift:age). Dimensions: every feature (categorical by
their --max-values most frequent values and other, numeric by the reference's deciles) and
service.name. Each slice's contribution to the change is its rate part (the metric moved
inside it) plus its mix part (its share of the traffic moved); the contributions of one
dimension's slices add up to the change. See docs/explain.md.
Exit codes: 0 explained, 2 bad options, 3 store unavailable or locked, 4 unknown model or
no counted prediction in a window.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="which slices of the traffic explain a metric's change",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("--version", default=None, help="model version (default: the latest)")
    parser.add_argument(
        "--metric", default=None, help="the metric to explain (default accuracy or mae)"
    )
    parser.add_argument("--window", default=None, help="window length, e.g. 1h or 1d (1h)")
    parser.add_argument("--end", default=None, help="end of the window (ISO time, UTC; now)")
    parser.add_argument(
        "--baseline-start",
        default=None,
        metavar="TIME",
        help="start of the window compared with (ISO time, UTC; default the window before)",
    )
    parser.add_argument(
        "--dimension",
        action="append",
        default=None,
        metavar="NAME",
        help="a feature or service.name to cut by (repeatable; default: all)",
    )
    parser.add_argument(
        "--max-values",
        type=int,
        default=20,
        help="most frequent values of a categorical feature kept as slices (20)",
    )
    parser.add_argument("--top", type=int, default=10, help="slices and pairs shown (10)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--config", default=None, help="YAML configuration file")
    add_backend_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    end = common.parse_time(args.end, "--end") if args.end is not None else None
    baseline = (
        common.parse_time(args.baseline_start, "--baseline-start")
        if args.baseline_start is not None
        else None
    )
    query = ExplainQuery(
        args.model,
        args.version,
        metric=args.metric,
        window=args.window,
        end=end,
        baseline_start=baseline,
        dimensions=args.dimension,
        max_values=args.max_values,
        top=args.top,
    )
    answer = open_backend(args).explain(query)
    if args.format == "json":
        sys.stdout.write(json.dumps(answer, indent=1) + "\n")
    else:
        sys.stdout.write(render(answer))
    return 0


def render(answer: dict[str, Any]) -> str:
    """The text of an explanation: its summary, the windows, the top slices, the top pairs."""
    from modeltel.analyzer.sql.console import format_table

    before, after = answer["before_window"], answer["after_window"]
    lines = [
        answer["summary"],
        f"{answer['model']} version {answer['version']}, UTC: before {_when(before['start'])} – "
        f"{_when(before['end'])} ({answer['predictions_before']} predictions), after "
        f"{_when(after['start'])} – {_when(after['end'])} ({answer['predictions_after']})",
        "",
    ]
    columns = ["slice", "share", answer["metric"], "labels", "contribution", "rate", "mix"]
    for title, rows in (("slices", answer["slices"]), ("pairs", answer["pairs"])):
        if not rows:
            continue
        lines += [f"top {title}:", format_table(columns, [_row(r) for r in rows]), ""]
    if not answer["slices"]:
        lines.append("no dimension cuts the traffic into more than one slice")
    elif any(r["material"] for r in answer["slices"] + answer["pairs"]):
        lines.append("* material: at least 4 standard errors and 1 % of the metric from zero")
    return "\n".join(lines).rstrip("\n") + "\n"


def _row(item: dict[str, Any]) -> list[str]:
    return [
        item["slice"] + (" *" if item["material"] else ""),
        f"{_share(item['share_before'])} → {_share(item['share_after'])}",
        f"{_number(item['metric_before'])} → {_number(item['metric_after'])}",
        f"{item['labels_before']} → {item['labels_after']}",
        _signed(item["contribution"]),
        _signed(item["rate"]),
        _signed(item["mix"]),
    ]


def _when(iso: str) -> str:
    return iso[:19].replace("T", " ")


def _share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _signed(value: float) -> str:
    return f"{value:+.3g}"
