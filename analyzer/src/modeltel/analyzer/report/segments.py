"""The report's "Segments" section: per analysis split by ``segment_by``, its segments in the
latest window, worst first.

:func:`segment_tables` reads :attr:`ModelView.latest_segmented` (records already gathered, no
query); :func:`segments_html` draws them. A segment's status is the worst of its records of
the kind; ties go to the worse value of the table's first metric (by its catalogue
direction), then to the larger segment. Fairness groups are not segments of the traffic and
are left out (:data:`~modeltel.analyzer.web.segments.OWN_GROUPS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

from modeltel.analyzer.analyses import ANALYSES
from modeltel.analyzer.base.results import BAD, Status, severity
from modeltel.analyzer.web.data import ModelView, catalogue, metric_spec
from modeltel.analyzer.web.sections import badge, num, table, window_text
from modeltel.analyzer.web.segments import OWN_GROUPS

MAX_METRICS = 6
"""The metric columns of a table at most (those counting toward the health score first)."""


@dataclass
class SegmentRow:
    """One segment of one kind: its ``values`` per metric, ``predictions`` (the largest
    record size) and worst ``status``."""

    segment: str
    predictions: int = 0
    status: str = Status.NO_DATA
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def bad(self) -> bool:
        return self.status in BAD


@dataclass
class SegmentTable:
    """The segments of ``kind`` in its latest window, worst first."""

    kind: str
    metrics: list[str]
    rows: list[SegmentRow]
    records: list[dict[str, Any]]


def _source(records: list[dict[str, Any]]) -> str:
    """``realized`` when some record of it has a value, else ``estimated``."""
    has = any(r["source"] == "realized" and r["value"] is not None for r in records)
    return "realized" if has or not records else "estimated"


def _metrics(kind: str, records: list[dict[str, Any]]) -> list[str]:
    """The metrics of ``records`` naming no feature: the catalogue's in its order, those
    counting toward the health score first, then the undeclared ones."""
    present = list(dict.fromkeys(str(r["metric"] or r["method"]) for r in records))
    order = {spec.name: i for i, spec in enumerate(catalogue(kind))}
    ranked = sorted(
        present,
        key=lambda m: (
            m not in order,
            metric_spec(kind, m).component is None,
            order.get(m, present.index(m)),
        ),
    )
    return ranked[:MAX_METRICS]


def _order(kind: str, first: str | None):
    """The sort key of a table's rows: worst status, worse first value, larger, name."""
    spec = metric_spec(kind, first) if first else None

    def key(row: SegmentRow) -> tuple[Any, ...]:
        value = row.values.get(first) if first else None
        directed = 0.0
        if value is not None and spec is not None and spec.higher_is_better is not None:
            directed = float(value) if spec.higher_is_better else -float(value)
        return (-severity(row.status), value is None, directed, -row.predictions, row.segment)

    return key


def segment_tables(view: ModelView) -> list[SegmentTable]:
    """One table per kind with segmented records in its latest window, in registry order."""
    out = []
    kinds = [*ANALYSES, *(k for k in view.latest_segmented if k not in ANALYSES)]
    for kind in kinds:
        if kind in OWN_GROUPS:
            continue
        mine = [r for r in view.latest_segmented.get(kind, []) if r.get("segment")]
        if not mine:
            continue
        source = _source(mine)
        whole = [r for r in mine if not r["feature"] and r["source"] == source]
        metrics = _metrics(kind, whole)
        rows: dict[str, SegmentRow] = {}
        for r in mine:
            row = rows.setdefault(str(r["segment"]), SegmentRow(str(r["segment"])))
            row.predictions = max(row.predictions, int(r.get("current_size") or 0))
            if severity(r["status"]) > severity(row.status) or (
                row.status == Status.NO_DATA and r["status"] != Status.NO_DATA
            ):
                row.status = r["status"]
        for r in whole:
            name = str(r["metric"] or r["method"])
            if name in metrics:
                rows[str(r["segment"])].values[name] = r["value"]
        ordered = sorted(rows.values(), key=_order(kind, metrics[0] if metrics else None))
        out.append(SegmentTable(kind, metrics, ordered, mine))
    return out


def segments_html(view: ModelView) -> str:
    """The section: per table, the window, then one row per segment (the bad ones marked);
    empty when no kind is split into segments."""
    parts = []
    for found in segment_tables(view):
        analysis = ANALYSES.get(found.kind)
        title = analysis.title if analysis is not None else found.kind
        bad = sum(row.bad for row in found.rows)
        rows = [
            (
                ("▲ " if row.bad else "") + f"<code>{escape(row.segment)}</code>",
                f"{row.predictions:,}",
                *(num(row.values.get(m)) for m in found.metrics),
                badge(row.status),
            )
            for row in found.rows
        ]
        headers = ["segment", "predictions", *(m.replace("_", " ") for m in found.metrics)]
        parts.append(
            f"<h3 id='segments-{escape(found.kind)}'>{escape(title)}</h3>"
            f"<p class='muted'>{window_text(found.records)} · {len(found.rows)} segments, "
            f"{bad} in alert or drift (▲), worst first</p>"
            + table(
                [*headers, "status"],
                rows,
                f"segments segments-{escape(found.kind)}",
                row_classes=["segment-bad" if row.bad else "" for row in found.rows],
            )
        )
    return "".join(parts)
