"""The "Storage" section of the model list: rows and bytes per table of the store, with how
long each keeps its rows (the TTL applied; ``docs/retention.md``). Tables without a row are
left out; the last line is the total."""

from __future__ import annotations

from html import escape

from modeltel.analyzer.base.errors import StoreError
from modeltel.analyzer.base.retention import applied_text, human_bytes, table_sizes, totals
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.web.sections import num, table


def storage_section(store: Store) -> str:
    """The heading and table; a muted line when the store does not answer."""
    heading = "<h2 id='storage'>Storage</h2>"
    try:
        sizes = [size for size in table_sizes(store) if size.rows or size.compressed]
    except StoreError as exc:
        return f"{heading}<p class='muted'>sizes unavailable: {escape(str(exc))}</p>"
    rows = [
        (
            f"<code>{escape(size.table)}</code>",
            escape(size.group or "—"),
            escape(applied_text(size.ttl) if size.group or size.ttl else "kept"),
            num(size.rows),
            escape(human_bytes(size.compressed)),
            escape(human_bytes(size.uncompressed)),
        )
        for size in sizes
    ]
    count, compressed, uncompressed = totals(sizes)
    rows.append(
        (
            "<b>total</b>",
            "",
            "",
            num(count),
            escape(human_bytes(compressed)),
            escape(human_bytes(uncompressed)),
        )
    )
    headers = ["table", "retention group", "kept for", "rows", "on disk", "uncompressed"]
    note = (
        "<p class='muted'>Active parts of this database; set how long rows are kept with the "
        "<code>retention:</code> section of the configuration "
        "(<code>modeltel retention</code>).</p>"
    )
    return heading + note + table(headers, rows, "storage")
