"""``modeltel report``: a weekly or monthly model health report as HTML (and PDF)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.cli import common
from modeltel.analyzer.cli.backend import add_backend_options, open_backend

EPILOG = """\
examples:
  modeltel report churn                                 # churn-week.html, last 7 days
  modeltel report churn --period month --out churn.html --pdf churn.pdf
  modeltel report churn --version 3 --end 2026-11-01    # the week before Nov 1
  modeltel report churn --server http://127.0.0.1:4318 --pdf churn.pdf

The HTML file is self-contained (charts inline, no scripts): mail it or open it offline.
The PDF is printed by headless Chromium (apt-get install chromium; or set MODELTEL_CHROMIUM).
The report holds the health score and its formula, the drifted features, the performance
trend, service health, data quality and what to do about them.
Exit codes: 0 written, 2 bad options or no PDF renderer, 3 store unavailable, 4 unknown model.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a model health report (HTML, optionally PDF)",
        description="Write a model health report over the last week or month.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="the model name")
    parser.add_argument("--version", default=None, help="model version (default: the latest)")
    parser.add_argument(
        "--period", choices=("week", "month"), default="week", help="7 or 30 days (default week)"
    )
    parser.add_argument(
        "--end",
        default=None,
        metavar="TIME",
        help="end of the period, ISO date or time in UTC (default: the latest analysed window)",
    )
    parser.add_argument(
        "--out", default=None, metavar="FILE", help="HTML file (default MODEL-PERIOD.html)"
    )
    parser.add_argument("--pdf", default=None, metavar="FILE", help="also print a PDF here")
    add_backend_options(parser)
    parser.set_defaults(func=run)


def parse_end(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--end {text!r} is not an ISO date or time (e.g. 2026-11-01 or 2026-11-01T12:00)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def run(args: argparse.Namespace) -> int:
    end = parse_end(args.end)
    out = Path(args.out or f"{args.model}-{args.period}.html")
    common.info(f"gathering {args.period}ly results of {args.model} …")
    html = open_backend(args).report_html(
        args.model, version=args.version, period=args.period, end=end
    )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc.strerror or exc}") from exc
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} kB)")
    if args.pdf:
        from modeltel.analyzer.report import html_to_pdf

        common.info("printing the PDF with headless Chromium …")
        pdf = html_to_pdf(out, Path(args.pdf))
        print(f"wrote {pdf} ({pdf.stat().st_size / 1024:.0f} kB)")
    return 0
