"""The "What changed" section, shared by the model page and the report: the sentence of an
:class:`~modeltel.analyzer.orchestration.explain.Explanation` (its
:meth:`~modeltel.analyzer.orchestration.explain.Explanation.summary`), then its
:data:`TOP_SLICES` most explaining slices when the change is material.

Like :mod:`.sections`: HTML fragments (escaped text), no scripts.
"""

from __future__ import annotations

import math
from html import escape

from modeltel.analyzer.orchestration.explain import Explanation, SliceChange
from modeltel.analyzer.web.data import ModelView
from modeltel.analyzer.web.sections import num, pct, table, when

TOP_SLICES = 5
HEADING = "What changed"


def explanation_html(explanation: Explanation | None, reason: str = "") -> str:
    """The sentence and the slice table of ``explanation``; one muted line with ``reason``
    when there is none (it could not be computed)."""
    if explanation is None:
        return f"<p class='muted explain-reason'>{escape(reason or 'not computed')}</p>"
    before, after = explanation.before_window, explanation.after_window
    windows = (
        f"{when(after.start)} – {when(after.end)} against {when(before.start)} – {when(before.end)}"
    )
    sentence = (
        f"<p class='explain'><span class='explain-summary'>{escape(explanation.summary())}"
        f"</span> <span class='muted'>· {escape(windows)}</span></p>"
    )
    if not explanation.material:
        return sentence
    title = explanation.metric.title
    headers = [
        "slice",
        "share of traffic",
        title,
        "labels",
        "part of the change",
        "rate",
        "mix",
    ]
    rows = [_row(explanation, s) for s in explanation.slices[:TOP_SLICES]]
    legend = (
        "<p class='legend'>Before → after. <b>part of the change</b>: the share of the change "
        f"of {escape(title)} the slice accounts for, the sum of <b>rate</b> (its "
        f"{escape(title)} moved) and <b>mix</b> (its share of the traffic moved); the slices "
        "of one dimension add up to 100 %.</p>"
    )
    return sentence + legend + table(headers, rows, "explain")


def _row(explanation: Explanation, s: SliceChange) -> list[str]:
    t0, t1 = explanation.before, explanation.after
    share0 = s.before.rows / t0.rows if t0.rows else None
    share1 = s.after.rows / t1.rows if t1.rows else None
    change = explanation.change or math.nan
    return [
        f"<code>{escape(s.name)}</code>",
        f"{pct(share0)} → {pct(share1)}",
        f"{num(s.metric_before)} → {num(s.metric_after)}",
        f"{s.before.labels:,} → {s.after.labels:,}",
        pct(s.part.contribution / change),
        pct(s.part.rate / change),
        pct(s.part.mix / change),
    ]


def explain_section(view: ModelView) -> str:
    """The page's section of ``view``'s explanation (:func:`~.data.range_view` computes it);
    nothing when the view was gathered without one."""
    if view.explanation is None and not view.explanation_note:
        return ""
    return f"<h2 id='explain'>{HEADING}</h2>" + explanation_html(
        view.explanation, view.explanation_note
    )
