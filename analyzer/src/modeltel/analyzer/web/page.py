"""The built-in web page: a model list at ``/`` and one page per model at ``/models/{model}``.

Pages are rendered on the server (the same SVG charts as the reports) and refresh themselves
in place through ``/static/modeltel.js``; the CSS and the script ship inside this package, so
the page works with no network beyond the modeltel server.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from html import escape
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

from modeltel.analyzer.analyses import ANALYSES
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.web import fairness_sections, model_sections, sections
from modeltel.analyzer.web.data import COMPARES, RANGE_TEXT, ModelView
from modeltel.analyzer.web.explain_section import explain_section
from modeltel.analyzer.web.sections import (
    ago,
    badge,
    health_badge,
    num,
    table,
    when,
)
from modeltel.analyzer.web.storage_section import storage_section

DEFAULT_REFRESH_S = 30

EXAMPLE_QUERIES = (
    "SELECT model, version, count() AS predictions, max(timestamp) AS last_seen\n"
    "FROM ml_predictions GROUP BY model, version",
    "SELECT window_start, feature, method, round(value, 4) AS score, status\n"
    "FROM ml_results FINAL WHERE kind = 'drift' AND status = 'drift'\n"
    "ORDER BY window_start DESC LIMIT 20",
)


@cache
def asset(name: str) -> str:
    """The text of a bundled static file (``modeltel.css``, ``modeltel.js``)."""
    return resources.files("modeltel.analyzer.web").joinpath("static", name).read_text("utf-8")


def shell(title: str, main: str, *, refresh_s: int = DEFAULT_REFRESH_S) -> str:
    """A whole page around ``main``."""
    now = datetime.now(UTC).strftime("%H:%M:%S UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · modeltel</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/modeltel.css">
</head>
<body data-refresh="{int(refresh_s)}">
<header class="top"><a class="brand" href="/">modeltel</a><a href="/">models</a>
<a href="/docs">API</a><a href="/metrics">/metrics</a>
<span class="status" id="refreshed">rendered {now}</span></header>
<main>
{main}
</main>
<script src="/static/modeltel.js"></script>
</body></html>"""


def sql_box() -> str:
    example = escape(EXAMPLE_QUERIES[0])
    return f"""<h2>Explore with SQL</h2>
<div id="sql-box"><p class="muted">Read-only ClickHouse SQL over <code>ml_predictions</code>,
<code>ml_features</code>, <code>ml_labels</code>, <code>ml_reference</code>,
<code>ml_results</code> and the <code>otel_*</code> tables
(also: <code>modeltel sql "…"</code>).</p>
<form id="sql-form" action="/api/sql"><textarea name="query" spellcheck="false">{example}</textarea>
<button type="submit">Run</button></form><div id="sql-output"></div></div>"""


INDEX_SECTIONS: tuple[Callable[[Store], str], ...] = (storage_section,)
"""Sections of the model list drawn from the store, after the models."""


def index_page(
    models: list[dict[str, Any]],
    *,
    refresh_s: int = DEFAULT_REFRESH_S,
    store: Store | None = None,
) -> str:
    """The model list: health, drift, volume and freshness per model version, then the
    :data:`INDEX_SECTIONS` of ``store`` (when given)."""
    extra = "".join(draw(store) for draw in INDEX_SECTIONS) if store is not None else ""
    if not models:
        body = """<h1>No models yet</h1>
<p>modeltel has not received any prediction. Instrument your serving code with one line:</p>
<pre>from modeltel.instrumentation import instrument
model = instrument(model, name="churn", version="3")</pre>
<p>and point it here with <code>OTEL_EXPORTER_OTLP_ENDPOINT=http://HOST:4318</code>,
or run <code>modeltel demo</code> to see the whole story with a sample model.</p>"""
        return shell("models", body + extra + sql_box(), refresh_s=refresh_s)
    now = datetime.now(UTC)
    rows = []
    for m in models:
        link = f"/models/{quote(m['model'], safe='')}?version={quote(m['version'], safe='')}"
        drift = (
            f"{m['drifted_features']} of {m['features_checked']}" if m["features_checked"] else "—"
        )
        retrain = {True: badge("alert", "recommended"), False: badge("ok", "no")}.get(
            m["retrain_recommended"], "—"
        )
        rows.append(
            (
                f"<a href='{link}'><b>{escape(m['model'])}</b></a>",
                escape(m["version"]),
                escape(m["task"] or "—"),
                _health_cell(m),
                drift,
                retrain,
                num(m["predictions"]),
                num(m["labels"]),
                _last_prediction_cell(m, now),
            )
        )
    body = (
        f"<h1>Models</h1><p class='muted'>{len(models)} model version"
        f"{'s' if len(models) != 1 else ''} · health 0–100 (ok ≥ 80, warning ≥ 50)</p>"
        + table(
            [
                "model",
                "version",
                "task",
                "health",
                "drifted features",
                "retrain",
                "predictions",
                "labels",
                "last prediction",
            ],
            rows,
            "models",
        )
    )
    return shell("models", body + extra + sql_box(), refresh_s=refresh_s)


def _health_cell(m: dict[str, Any]) -> str:
    """The health badge and the time the score describes."""
    score = health_badge(m["health_score"], m["health_status"])
    end = m.get("health_window_end")
    if end is None:
        return score
    return (
        f"<span title='health as of {when(end)}'>{score}</span> "
        f"<span class='muted'>as of {when(end)}</span>"
    )


def _last_prediction_cell(m: dict[str, Any], now: datetime) -> str:
    """How long ago the last prediction came, a ``stale`` badge when the staleness check says
    so, and a line when the newest analysed window has no prediction."""
    cell = f"<span title='{when(m['last_seen'])}'>{ago(m['last_seen'], now)}</span>"
    if m.get("stale"):
        cell += " " + badge("alert", "stale")
    paused = m.get("no_predictions_since")
    if paused is not None:
        cell += f"<div class='muted'>no predictions since {when(paused)}</div>"
    return cell


RANGE_LINKS = (*RANGE_TEXT.items(),)
COMPARE_TEXT = {"reference": "vs reference", "previous": "vs the previous window"}


def range_controls(view: ModelView) -> str:
    """The time-range links and a GET form (range, custom from/to in UTC, comparison), then
    the line saying what the page shows. Works without JavaScript; the URL carries it."""
    base = f"/models/{quote(view.model, safe='')}"
    chosen = view.time_range
    compare = chosen.compare if chosen is not None else "reference"

    segment = {"segment": view.segment} if view.segment else {}

    def href(params: dict[str, str]) -> str:
        return escape(f"{base}?{urlencode({'version': view.version, **params, **segment})}")

    extra = {"compare": compare} if compare != "reference" else {}
    links = [
        f"<a class='{'current' if chosen is None else ''}' href='{href({})}'>latest windows</a>"
    ]
    for name, text in RANGE_LINKS:
        current = "current" if chosen is not None and chosen.name == name else ""
        links.append(
            f"<a class='{current}' data-range='{name}' "
            f"href='{href({'range': name, **extra})}'>last {escape(text)}</a>"
        )
    query = chosen.query() if chosen is not None else {}
    plain = {k: v for k, v in query.items() if k != "compare"}
    compare_links = " ".join(
        f"<a class='{'current' if c == compare else ''}' data-compare='{c}' "
        f"href='{href({**plain, **({'compare': c} if c != 'reference' else {})})}'>"
        f"{escape(COMPARE_TEXT[c])}</a>"
        for c in COMPARES
    )
    custom = chosen is not None and chosen.name == "custom"
    start = chosen.since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if custom and chosen else ""
    end = chosen.until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if custom and chosen else ""
    options = "".join(
        f"<option value='{v}'{' selected' if (chosen.name if chosen else '') == v else ''}>"
        f"{escape(t)}</option>"
        for v, t in (
            ("", "latest windows"),
            *((n, f"last {t}") for n, t in RANGE_LINKS),
            ("custom", "custom (from/to)"),
        )
    )
    compares = "".join(
        f"<option value='{c}'{' selected' if c == compare else ''}>"
        f"{escape(COMPARE_TEXT[c])}</option>"
        for c in COMPARES
    )
    kept = "".join(
        f'<input type="hidden" name="{k}" value="{escape(v)}">' for k, v in segment.items()
    )
    form = f"""<form id="range-form" method="get" action="{escape(base)}">
<input type="hidden" name="version" value="{escape(view.version)}">{kept}
<label>range <select name="range">{options}</select></label>
<label>from (UTC) <input type="datetime-local" name="from" value="{start}"></label>
<label>to (UTC) <input type="datetime-local" name="to" value="{end}"></label>
<label>drift <select name="compare">{compares}</select></label>
<button type="submit">Show</button></form>"""
    if chosen is None:
        line = "latest analysed windows (the stored results of the 7 days before the latest)"
    else:
        against = (
            f"drift vs the previous window, {when(chosen.previous[0])} – {when(chosen.previous[1])}"
            if chosen.compare == "previous"
            else "drift vs the reference"
        )
        line = f"{escape(chosen.describe())} · {escape(against)}"
    note = f"<p class='notice'>{escape(view.range_note)}</p>" if view.range_note else ""
    return (
        f"<div id='time-range'><p class='versions muted'>time range: {' '.join(links)} · "
        f"{compare_links}</p>{form}<p class='muted' id='range-line'>{line}</p>{note}</div>"
    )


def segment_controls(view: ModelView) -> str:
    """The segment selector (a GET form; the script sends it on change), when the latest
    windows hold segments; the line saying which kinds the chosen segment splits."""
    note = f"<p class='notice'>{escape(view.segment_note)}</p>" if view.segment_note else ""
    if not view.segments:
        return f"<div id='segments'>{note}</div>" if note else ""
    base = f"/models/{quote(view.model, safe='')}"
    kept = {"version": view.version, **(view.time_range.query() if view.time_range else {})}
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in kept.items()
    )
    options = [f"<option value=''{'' if view.segment else ' selected'}>all traffic</option>"]
    for s in view.segments:
        chosen = " selected" if s.name == view.segment else ""
        options.append(
            f"<option value='{escape(s.name)}'{chosen}>{escape(s.name)} "
            f"({s.predictions:,} predictions)</option>"
        )
    if view.segment:
        mine = next(s for s in view.segments if s.name == view.segment)
        line = (
            f"segment <b>{escape(view.segment)}</b>: {escape(', '.join(mine.kinds))} "
            "from its records only; the summary and the other sections over all traffic"
        )
    else:
        line = f"all traffic · {len(view.segments)} segments in the latest windows"
    return f"""<div id="segments"><form id="segment-form" method="get" action="{escape(base)}">
{hidden}<label>segment <select name="segment">{"".join(options)}</select></label>
<button type="submit">Show</button></form><p class='muted' id='segment-line'>{line}</p>{note}
</div>"""


def model_page(view: ModelView, *, refresh_s: int = DEFAULT_REFRESH_S) -> str:
    """Everything about one model version."""
    s = view.summary
    versions = " ".join(
        f"<a class='{'current' if v == view.version else ''}' "
        f"href='/models/{quote(view.model, safe='')}?version={quote(v, safe='')}'>{escape(v)}</a>"
        for v in view.versions
    )
    report = f"/models/{quote(view.model, safe='')}/report"
    reasons = s.get("health_reasons") or []
    retrain = s.get("retrain_recommended")
    facts = [
        ("predictions", num(s.get("predictions"))),
        ("labels", num(s.get("labels"))),
        ("last prediction", ago(s.get("last_seen"))),
        ("last analysis", when(s.get("last_analyzed"))),
    ]
    reason_list = (
        "<ul>" + "".join(f"<li>{escape(str(r))}</li>" for r in reasons) + "</ul>"
        if reasons
        else "<p class='muted'>nothing wrong in the latest windows</p>"
    )
    retrain_text = (
        badge("alert", "retraining recommended")
        if retrain
        else badge("ok", "no retraining needed")
        if retrain is not None
        else ""
    )
    big = health_badge(s.get("health_score"), s.get("health_status"), big=True)
    header = f"""<p class="muted"><a href="/">models</a> / {escape(view.model)}</p>
<h1>{escape(view.model)} <span class="muted">version {escape(view.version)}</span></h1>
<p class="versions muted">versions: {versions} · report:
<a href="{report}?version={quote(view.version, safe="")}&amp;period=week">week</a>
<a href="{report}?version={quote(view.version, safe="")}&amp;period=month">month</a></p>
<div class="summary"><div>{big}
<div class="muted">health score</div></div><div>{retrain_text}{reason_list}</div>
{sections.facts_list(facts)}</div>"""
    body = [
        header,
        range_controls(view),
        segment_controls(view),
        _pause_notice(view),
        explain_section(view),
    ]
    for kind, analysis in ANALYSES.items():
        heading, draw = SECTIONS.get(kind, (analysis.title, None))
        body.append(f"<h2 id='{escape(kind)}'>{escape(heading)}</h2>")
        if view.segment and kind in view.unsplit:
            body.append(
                f"<p class='muted segment-note'>not split by {escape(view.segment)}: "
                "all traffic</p>"
            )
        body.append(draw(view) if draw else sections.analysis_section(view, analysis))
    body += [
        "<h3>Health over time</h3>",
        sections.grid([sections.health_chart(view)]),
        sql_box(),
    ]
    return shell(f"{view.model} {view.version}", "".join(body), refresh_s=refresh_s)


def _pause_notice(view: ModelView) -> str:
    """A line saying that traffic paused, when the newest analysed window starts after the last
    prediction (the sections then show the latest windows with data); else nothing."""
    seen = view.summary.get("last_seen")
    dated = [r for r in view.records if r.get("window_start") is not None]
    if seen is None or not dated:
        return ""
    newest = max(dated, key=lambda r: r["window_end"])
    if newest["window_start"] <= seen:
        return ""
    shown = [r["window_end"] for rs in view.latest.values() for r in rs if r.get("window_end")]
    upto = f" up to {when(max(shown))}" if shown else ""
    return (
        f"<p class='notice'>No predictions since {when(seen)}, {ago(seen)}: the sections show "
        f"the latest windows with data{upto}; the newest window, {when(newest['window_start'])}"
        f" – {when(newest['window_end'])}, had none.</p>"
    )


def _drift(view: ModelView) -> str:
    return (
        sections.drift_table(view) + "<h3>Drift scores over time</h3>" + sections.drift_charts(view)
    )


def _performance(view: ModelView) -> str:
    return (
        sections.performance_facts(view)
        + sections.performance_charts(view)
        + "<h3>Labels</h3>"
        + sections.label_section(view)
    )


SECTIONS: dict[str, tuple[str, Callable[[ModelView], str]]] = {
    "drift": ("Drift: reference vs current", _drift),
    "performance": ("Performance: realized vs estimated", _performance),
    "service": ("Service: latency, throughput, errors", sections.service_section),
    "quality": ("Data quality", sections.quality_section),
    "attribution": ("Feature attributions", model_sections.attribution_section),
    "multivariate": (
        "Multivariate drift and outlier predictions",
        model_sections.multivariate_section,
    ),
    "custom": ("Custom metrics", fairness_sections.custom_section),
    "fairness": ("Fairness between groups", fairness_sections.fairness_section),
}
"""How the page draws the analyses it knows (heading, section); any other registered
analysis gets its title and :func:`~modeltel.analyzer.web.sections.analysis_section`."""


def error_page(status: int, message: str) -> str:
    body = f"<h1>{status}</h1><p>{escape(message)}</p><p><a href='/'>back to the models</a></p>"
    return shell(str(status), body, refresh_s=0)
