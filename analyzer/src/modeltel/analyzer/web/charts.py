"""Small, dependency-free SVG charts shared by the web page and the reports.

Each function returns one ``<svg>`` element as text: self-contained (inline attributes, no
scripts, no external fonts), so it renders the same in a browser, in an HTML file opened
offline and in a PDF. Every drawn series carries ``data-series`` and ``data-points``
attributes, which is how tests (and curious people) tell that a chart has data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape

PALETTE = (
    "#2563eb",
    "#dc2626",
    "#16a34a",
    "#9333ea",
    "#ea580c",
    "#0891b2",
    "#ca8a04",
    "#db2777",
    "#4b5563",
    "#65a30d",
)
REFERENCE_COLOR = "#9ca3af"
CURRENT_COLOR = "#2563eb"
THRESHOLD_COLOR = "#dc2626"
FONT = "font-family='system-ui,-apple-system,Segoe UI,Roboto,sans-serif'"


BAND_COLOR = "#fee2e2"
MARK_COLOR = "#b91c1c"
LOG_FLOOR = 1e-12
"""The smallest value a log-scale chart shows (a p-value of 0 is drawn there)."""


@dataclass
class Series:
    """One line: ``points`` are (time, value) pairs; ``None`` values leave a gap. ``marked``
    are the times drawn with a distinct marker (e.g. the windows judged drifted)."""

    name: str
    points: Sequence[tuple[datetime, float | None]]
    color: str | None = None
    dashed: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    marked: Sequence[datetime] = ()


def _fmt(value: float) -> str:
    """Compact number for ticks and tooltips."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.3g}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.3g}k"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 0.01:
        return f"{value:.3g}"
    return f"{value:.2g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1-2-5 steps) spanning ``[low, high]``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


_TIME_STEPS = (
    [timedelta(minutes=m) for m in (1, 5, 10, 15, 30)]
    + [timedelta(hours=h) for h in (1, 2, 3, 6, 12)]
    + [timedelta(days=d) for d in (1, 2, 7, 14, 30)]
)


def time_ticks(start: datetime, end: datetime, count: int = 6) -> list[datetime]:
    """Aligned time ticks (on the hour, at midnight …) between ``start`` and ``end``."""
    span = max((end - start).total_seconds(), 1.0)
    step = next((s for s in _TIME_STEPS if span / s.total_seconds() <= count), _TIME_STEPS[-1])
    seconds = step.total_seconds()
    first = math.ceil(start.timestamp() / seconds) * seconds
    ticks = []
    t = first
    while t <= end.timestamp():
        ticks.append(datetime.fromtimestamp(t, UTC))
        t += seconds
    return ticks


def _time_label(moment: datetime, span_s: float) -> str:
    if span_s > 3 * 86400:
        return moment.strftime("%b %d")
    if moment.hour == 0 and moment.minute == 0:
        return moment.strftime("%b %d")
    return moment.strftime("%H:%M")


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def empty_chart(message: str, width: int = 560, height: int = 80) -> str:
    """A placeholder box that says why there is nothing to draw."""
    return (
        f"<svg class='chart chart-empty' viewBox='0 0 {width} {height}' width='100%' "
        f"role='img' aria-label='{escape(message, quote=True)}' xmlns='http://www.w3.org/2000/svg'>"
        f"<rect x='0.5' y='0.5' width='{width - 1}' height='{height - 1}' fill='#f9fafb' "
        f"stroke='#e5e7eb'/><text x='{width / 2}' y='{height / 2 + 4}' text-anchor='middle' "
        f"font-size='13' fill='#6b7280' {FONT}>{escape(message)}</text></svg>"
    )


def _log_ticks(low: float, high: float) -> list[float]:
    """Decade ticks (in log10 units) spanning ``[low, high]``, at most five."""
    first, last = math.floor(low), math.ceil(high)
    step = max(1, math.ceil((last - first) / 4))
    ticks = list(range(last, first - 1, -step))[::-1]
    return [float(t) for t in ticks] if len(ticks) > 1 else [float(first), float(last + 1)]


def _log_label(exponent: float) -> str:
    return {0: "1", -1: "0.1", -2: "0.01"}.get(int(exponent), f"1e{int(exponent)}")


def line_chart(
    series: Sequence[Series],
    *,
    title: str = "",
    y_label: str = "",
    threshold: float | None = None,
    y_min: float | None = None,
    y_max: float | None = None,
    width: int = 560,
    height: int = 220,
    empty_message: str = "no data yet",
    log_y: bool = False,
    band: tuple[float | None, float | None] | None = None,
) -> str:
    """Lines over time with axes, a legend and an optional dashed threshold.

    ``log_y`` draws the y axis on a log10 scale (values below :data:`LOG_FLOOR`, zeros
    included, at the floor), as p-values are read. ``band`` shades the values between its two
    bounds (None: the edge of the plot), e.g. the region where a score means drift.
    """
    drawn = [s for s in series if any(v is not None for _, v in s.points)]
    if not drawn:
        return empty_chart(f"{title}: {empty_message}" if title else empty_message, width)

    def scale(v: float) -> float:
        return math.log10(max(v, LOG_FLOOR)) if log_y else v

    times = [_as_utc(t) for s in drawn for t, v in s.points if v is not None]
    values = [scale(float(v)) for s in drawn for _, v in s.points if v is not None]
    t0, t1 = min(times), max(times)
    if t1 == t0:
        t0, t1 = t0 - timedelta(minutes=30), t1 + timedelta(minutes=30)
    marks = [scale(threshold)] if threshold is not None else []
    low, high = min(values + marks), max(values + marks)
    if log_y:
        ticks = _log_ticks(low, min(high, 0.0) if high <= 0 else high)
    else:
        low = y_min if y_min is not None else min(low, 0.0) if low >= 0 and high > 0 else low
        high = y_max if y_max is not None else high
        ticks = nice_ticks(low, high, 4)
    low, high = min(ticks[0], low), max(ticks[-1], high)
    legend_rows = math.ceil(len(drawn) / 3)
    left, right, top = 52, 12, 24 + (14 if title else 0)
    bottom = 26 + 16 * legend_rows
    plot_w, plot_h = width - left - right, height - top - bottom
    span = (t1 - t0).total_seconds()

    def x(t: datetime) -> float:
        return left + plot_w * (_as_utc(t) - t0).total_seconds() / span

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - low) / ((high - low) or 1.0))

    parts = [
        f"<svg class='chart chart-line' viewBox='0 0 {width} {height}' width='100%' role='img' "
        f"aria-label='{escape(title or y_label, quote=True)}' xmlns='http://www.w3.org/2000/svg' "
        f"{FONT} font-size='11'>"
    ]
    if title:
        parts.append(
            f"<text x='{left}' y='14' font-size='13' font-weight='600' fill='#111827'>"
            f"{escape(title)}</text>"
        )
    if band is not None:
        edge_low = y(scale(band[0])) if band[0] is not None else top + plot_h
        edge_high = y(scale(band[1])) if band[1] is not None else top
        y_top, y_bottom = sorted((max(min(edge_high, top + plot_h), top), edge_low))
        y_bottom = min(y_bottom, top + plot_h)
        parts.append(
            f"<rect class='band' x='{left}' y='{y_top:.1f}' width='{plot_w}' "
            f"height='{max(y_bottom - y_top, 0):.1f}' fill='{BAND_COLOR}' opacity='0.7'/>"
        )
    for tick in ticks:
        ty = y(tick)
        parts.append(
            f"<line x1='{left}' x2='{left + plot_w}' y1='{ty:.1f}' y2='{ty:.1f}' "
            "stroke='#e5e7eb'/>"
            f"<text x='{left - 6}' y='{ty + 4:.1f}' text-anchor='end' fill='#6b7280'>"
            f"{_log_label(tick) if log_y else _fmt(tick)}</text>"
        )
    for tick_time in time_ticks(t0, t1):
        tx = x(tick_time)
        anchor = "end" if tx > left + plot_w - 18 else "start" if tx < left + 18 else "middle"
        parts.append(
            f"<line x1='{tx:.1f}' x2='{tx:.1f}' y1='{top}' y2='{top + plot_h}' stroke='#f3f4f6'/>"
            f"<text x='{tx:.1f}' y='{top + plot_h + 14}' text-anchor='{anchor}' fill='#6b7280'>"
            f"{_time_label(tick_time, span)}</text>"
        )
    if y_label:
        parts.append(
            f"<text x='12' y='{top + plot_h / 2:.1f}' fill='#6b7280' text-anchor='middle' "
            f"transform='rotate(-90 12 {top + plot_h / 2:.1f})'>{escape(y_label)}</text>"
        )
    if threshold is not None:
        ty = y(scale(threshold))
        parts.append(
            f"<line class='threshold' x1='{left}' x2='{left + plot_w}' y1='{ty:.1f}' "
            f"y2='{ty:.1f}' stroke='{THRESHOLD_COLOR}' stroke-dasharray='5 4' stroke-width='1'/>"
            f"<text x='{left + plot_w - 2}' y='{ty - 4:.1f}' text-anchor='end' "
            f"fill='{THRESHOLD_COLOR}'>threshold {_fmt(threshold)}</text>"
        )
    for index, s in enumerate(drawn):
        color = s.color or PALETTE[index % len(PALETTE)]
        points = sorted(((_as_utc(t), v) for t, v in s.points), key=lambda p: p[0])
        marked = {_as_utc(t) for t in s.marked}
        path, pen_down, count, drifted = [], False, 0, 0
        dots = []
        for t, v in points:
            if v is None or not math.isfinite(float(v)):
                pen_down = False
                continue
            px, py = x(t), y(scale(float(v)))
            path.append(f"{'L' if pen_down else 'M'}{px:.1f} {py:.1f}")
            pen_down = True
            count += 1
            tip = f"{escape(s.name)} {t:%Y-%m-%d %H:%M} UTC: {_fmt(float(v))}"
            if t in marked:
                drifted += 1
                dots.append(
                    f"<circle class='mark' cx='{px:.1f}' cy='{py:.1f}' r='3.4' "
                    f"fill='{MARK_COLOR}' stroke='#fff' stroke-width='0.8'>"
                    f"<title>{tip} (drifted)</title></circle>"
                )
            elif len(points) <= 80:
                dots.append(
                    f"<circle cx='{px:.1f}' cy='{py:.1f}' r='2.2' fill='{color}'>"
                    f"<title>{tip}</title></circle>"
                )
        dash = " stroke-dasharray='6 4'" if s.dashed else ""
        extra = "".join(f" data-{k}='{escape(v, quote=True)}'" for k, v in s.extra.items())
        parts.append(
            f"<g class='series' data-series='{escape(s.name, quote=True)}' "
            f"data-points='{count}' data-drifted='{drifted}'{extra}>"
            f"<path d='{' '.join(path)}' fill='none' "
            f"stroke='{color}' stroke-width='1.8'{dash}/>{''.join(dots)}</g>"
        )
    legend_y = top + plot_h + 30
    for index, s in enumerate(drawn):
        color = s.color or PALETTE[index % len(PALETTE)]
        lx = left + (index % 3) * (plot_w / 3)
        ly = legend_y + (index // 3) * 16
        dash = " stroke-dasharray='4 3'" if s.dashed else ""
        parts.append(
            f"<line x1='{lx:.1f}' x2='{lx + 16:.1f}' y1='{ly - 4}' y2='{ly - 4}' "
            f"stroke='{color}' stroke-width='2'{dash}/>"
            f"<text x='{lx + 20:.1f}' y='{ly}' fill='#374151'>{escape(_short(s.name, 26))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def histogram_chart(
    labels: Sequence[str],
    reference: Sequence[float],
    current: Sequence[float],
    *,
    title: str = "",
    width: int = 260,
    height: int = 90,
    show_axis: bool = False,
) -> str:
    """Reference (grey) and current (blue) shares per bin, side by side.

    ``labels`` name the bins (ranges or categories); the shares are fractions of each sample
    (they need not be normalised: each side is divided by its own total).
    """
    if not labels or (sum(reference) <= 0 and sum(current) <= 0):
        return empty_chart("no histogram", width, height)
    ref_total = sum(reference) or 1.0
    cur_total = sum(current) or 1.0
    ref = [r / ref_total for r in reference]
    cur = [c / cur_total for c in current]
    top = 16 if title else 4
    bottom = 16 if show_axis else 4
    plot_h = height - top - bottom
    peak = max(ref + cur) or 1.0
    slot = (width - 8) / len(labels)
    bar = max(slot / 2 - 0.6, 0.6)
    parts = [
        f"<svg class='chart chart-hist' viewBox='0 0 {width} {height}' width='100%' role='img' "
        f"aria-label='{escape(title or 'histogram', quote=True)}' "
        f"xmlns='http://www.w3.org/2000/svg' {FONT} font-size='10'>"
    ]
    if title:
        parts.append(f"<text x='4' y='11' fill='#374151'>{escape(title)}</text>")
    parts.append(
        f"<line x1='4' x2='{width - 4}' y1='{top + plot_h}' y2='{top + plot_h}' stroke='#d1d5db'/>"
    )
    for side, shares, color, offset in (
        ("reference", ref, REFERENCE_COLOR, 0.0),
        ("current", cur, CURRENT_COLOR, bar + 0.6),
    ):
        rects = []
        for i, share in enumerate(shares):
            h = plot_h * share / peak
            bx = 4 + i * slot + offset
            rects.append(
                f"<rect x='{bx:.1f}' y='{top + plot_h - h:.1f}' width='{bar:.1f}' "
                f"height='{h:.1f}' fill='{color}'><title>{side} {escape(labels[i])}: "
                f"{share:.1%}</title></rect>"
            )
        parts.append(
            f"<g class='series' data-series='{side}' data-points='{len(shares)}'>"
            f"{''.join(rects)}</g>"
        )
    if show_axis:
        for i in (0, len(labels) - 1):
            anchor = "start" if i == 0 else "end"
            lx = 4 if i == 0 else width - 4
            parts.append(
                f"<text x='{lx}' y='{height - 3}' text-anchor='{anchor}' fill='#6b7280'>"
                f"{escape(_short(labels[i], 18))}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str = "",
    threshold: float | None = None,
    width: int = 560,
    bar_height: int = 16,
    as_percent: bool = True,
) -> str:
    """Horizontal bars, one per (name, value), with an optional dashed threshold."""
    if not items:
        return empty_chart(f"{title}: no data yet" if title else "no data yet", width)
    top = 20 if title else 4
    label_w = 150
    height = top + len(items) * (bar_height + 6) + 4
    peak = max([v for _, v in items] + ([threshold] if threshold is not None else []) + [1e-12])
    plot_w = width - label_w - 60
    parts = [
        f"<svg class='chart chart-bar' viewBox='0 0 {width} {height}' width='100%' role='img' "
        f"aria-label='{escape(title or 'bars', quote=True)}' xmlns='http://www.w3.org/2000/svg' "
        f"{FONT} font-size='11'>"
    ]
    if title:
        parts.append(
            f"<text x='0' y='13' font-size='13' font-weight='600' fill='#111827'>"
            f"{escape(title)}</text>"
        )
    rects = []
    for i, (name, value) in enumerate(items):
        by = top + i * (bar_height + 6)
        w = plot_w * max(value, 0.0) / peak
        over = threshold is not None and value >= threshold
        color = THRESHOLD_COLOR if over else CURRENT_COLOR
        text = f"{value:.1%}" if as_percent else _fmt(value)
        rects.append(
            f"<text x='{label_w - 6}' y='{by + bar_height - 4}' text-anchor='end' "
            f"fill='#374151'>{escape(_short(name, 24))}</text>"
            f"<rect x='{label_w}' y='{by}' width='{max(w, 0.5):.1f}' height='{bar_height}' "
            f"fill='{color}' rx='2'><title>{escape(name)}: {text}</title></rect>"
            f"<text x='{label_w + w + 4:.1f}' y='{by + bar_height - 4}' fill='#374151'>"
            f"{text}</text>"
        )
    parts.append(
        f"<g class='series' data-series='{escape(title or 'bars', quote=True)}' "
        f"data-points='{len(items)}'>{''.join(rects)}</g>"
    )
    if threshold is not None:
        tx = label_w + plot_w * threshold / peak
        parts.append(
            f"<line class='threshold' x1='{tx:.1f}' x2='{tx:.1f}' y1='{top - 2}' "
            f"y2='{height - 2}' stroke='{THRESHOLD_COLOR}' stroke-dasharray='4 3'/>"
        )
    parts.append("</svg>")
    return "".join(parts)
