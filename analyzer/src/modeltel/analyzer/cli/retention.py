"""``modeltel retention``: what the store keeps, for how long, and what each table costs."""

from __future__ import annotations

import argparse

from modeltel.analyzer.cli import common

EPILOG = """\
examples:
  modeltel retention                          # configured vs applied, rows and bytes per table
  modeltel retention --config modeltel.yaml --apply

The configuration's retention: section (raw, predictions, results: a duration like 7d, or
forever) becomes ClickHouse TTL; modeltel serve and modeltel analyzer apply it at start.
Tables without a group (references, limits, ingest issues …) keep their data.
Exit codes: 0 listed, 2 bad option or config, 3 store unavailable or locked.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "retention",
        help="show (and --apply) how long tables keep their rows, with their sizes",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common.add_store_options(parser)
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="YAML configuration (default $MODELTEL_CONFIG)",
    )
    parser.add_argument(
        "--apply", action="store_true", help="apply the configured retention, then print"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from modeltel.analyzer.base import retention
    from modeltel.analyzer.base.config import load_config
    from modeltel.analyzer.sql.console import format_table

    wanted = retention.Retention.from_config(load_config(args.config))
    with common.store(args) as store:
        if args.apply:
            changes = retention.apply(store, wanted)
            common.info(f"applied {len(changes)} change{'s' if len(changes) != 1 else ''}")
        sizes = retention.table_sizes(store)
    groups = ", ".join(
        f"{group} {retention.duration_text(wanted.keep(group))}"
        for group in ("raw", "predictions", "results")
    )
    print(f"retention: {groups}")
    rows = []
    differ = 0
    for size in sizes:
        applied = retention.applied_text(size.ttl)
        if size.group:
            configured = retention.duration_text(wanted.keep(size.group))
            differ += configured != applied
        else:
            configured = "kept"
        rows.append(
            (
                size.table,
                size.group or "—",
                configured,
                applied,
                size.rows,
                retention.human_bytes(size.compressed),
                retention.human_bytes(size.uncompressed),
            )
        )
    count, compressed, uncompressed = retention.totals(sizes)
    rows.append(
        (
            "total",
            "",
            "",
            "",
            count,
            retention.human_bytes(compressed),
            retention.human_bytes(uncompressed),
        )
    )
    headers = ["TABLE", "GROUP", "CONFIGURED", "APPLIED", "ROWS", "COMPRESSED", "UNCOMPRESSED"]
    print(format_table(headers, rows))
    if differ:
        common.info(
            f"{differ} table{'s differ' if differ != 1 else ' differs'} from the configuration: "
            "run modeltel retention --apply (modeltel serve and analyzer apply it at start)"
        )
    return 0
