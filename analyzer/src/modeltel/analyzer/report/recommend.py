"""Concrete recommendations from a model's result history over a period.

Each rule reads the tidy records (statuses and thresholds as the analyses set them) and
says what to do in one sentence with the numbers behind it, e.g. "Retrain: 4 features
drifted (age, income, …); accuracy fell below 0.8 in 3 of 7 windows (latest 0.74)".

When the model's explained metric (accuracy, mae) got materially worse in the latest window of
data, a ``warning`` says so with :meth:`Explanation.summary`, naming the slice of the traffic
explaining most of it.

Fairness (one line per protected attribute whose summary crosses a threshold in the latest
window, naming the groups behind the first one crossed) and custom metrics outside their bounds
in the latest window are ``alert``s.

Severity: ``retrain`` (act on the model), ``alert`` (act on data or service), ``warning``
(watch), ``ok`` (nothing to do).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from modeltel.analyzer.analyses.fairness import LOWER_IS_WORSE, SUMMARY_METRICS
from modeltel.analyzer.base.results import BAD, Status
from modeltel.analyzer.orchestration.explain import Explanation
from modeltel.analyzer.web.data import ModelView, _details, metric_spec
from modeltel.analyzer.web.sections import num, pct, seconds, when

WATCH = frozenset({Status.WARNING})
LOW_COVERAGE = 0.5


@dataclass(frozen=True)
class Recommendation:
    severity: str
    text: str


def _names(features: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(features[:limit])
    return shown + (", …" if len(features) > limit else "")


def _windows(records: Sequence[dict[str, Any]]) -> int:
    return len({(r["window_start"], r["window_end"]) for r in records})


def drift_counts(view: ModelView) -> dict[str, tuple[int, int]]:
    """Input feature → (windows drifted, windows checked) over the period."""
    drifted: dict[str, set[Any]] = {}
    checked: dict[str, set[Any]] = {}
    for r in view.of("drift"):
        feature = r["feature"]
        if not feature or str(feature).startswith("prediction.") or r["method"] == "share":
            continue
        key = (r["window_start"], r["window_end"])
        checked.setdefault(feature, set()).add(key)
        if r["status"] in BAD:
            drifted.setdefault(feature, set()).add(key)
    return {f: (len(drifted.get(f, ())), len(w)) for f, w in checked.items()}


def latest_drifted(view: ModelView) -> list[str]:
    """Input features drifted in the latest drift window."""
    return sorted(
        {
            str(r["feature"])
            for r in view.latest.get("drift", [])
            if r["feature"]
            and not str(r["feature"]).startswith("prediction.")
            and r["status"] in BAD
        }
    )


def performance_breaches(view: ModelView) -> list[tuple[str, str, int, int, Any, Any]]:
    """Per headline metric: (metric, source, windows breached, windows, threshold, latest)."""
    out = []
    for metric in view.performance_metrics():
        for source in ("realized", "estimated"):
            rs = view.of("performance", metric=metric, source=source)
            if not rs:
                continue
            bad = [r for r in rs if r["status"] in BAD | WATCH]
            thresholds = [r["threshold"] for r in rs if r["threshold"] is not None]
            if bad:
                out.append(
                    (
                        metric,
                        source,
                        _windows(bad),
                        _windows(rs),
                        thresholds[-1] if thresholds else None,
                        rs[-1]["value"],
                    )
                )
    return out


def _breach_text(
    metric: str, source: str, bad: int, total: int, threshold: Any, latest: Any
) -> str:
    higher_is_better = metric_spec("performance", metric).higher_is_better
    direction = "fell below" if higher_is_better else "rose above"
    limit = f" {num(threshold)}" if threshold is not None else " its threshold"
    what = metric if source == "realized" else f"estimated {metric}"
    return f"{what} {direction}{limit} in {bad} of {total} windows (latest {num(latest)})"


def recommendations(
    view: ModelView, explanation: Explanation | None = None
) -> list[Recommendation]:
    """What to do, most urgent first; one ``ok`` line when nothing needs doing.
    ``explanation``: what changed in the latest window (see :func:`_what_changed`)."""
    out: list[Recommendation] = []
    drifted_now = latest_drifted(view)
    counts = drift_counts(view)
    breaches = performance_breaches(view)
    realized = [b for b in breaches if b[1] == "realized"]
    estimated = [b for b in breaches if b[1] == "estimated"]
    retrain_flag = view.latest_value("health", "retrain_recommended")
    share = view.drift_share()

    reasons = []
    if drifted_now:
        noun = "feature" if len(drifted_now) == 1 else "features"
        reasons.append(f"{len(drifted_now)} {noun} drifted ({_names(drifted_now)})")
    for breach in realized or estimated:
        reasons.append(_breach_text(*breach))
    if retrain_flag or (drifted_now and breaches) or (share and share["status"] in BAD):
        text = "Retrain: " + "; ".join(reasons) if reasons else "Retrain: the retrain policy fired"
        if retrain_flag and not reasons:
            text += " (see the retrain_recommended record for its reasons)"
        out.append(Recommendation("retrain", text + "."))
    else:
        for breach in realized or estimated:
            out.append(Recommendation("alert", "Check the model: " + _breach_text(*breach) + "."))
        persistent = sorted(
            (f for f, (bad, total) in counts.items() if bad and bad * 2 >= total),
            key=lambda f: -counts[f][0],
        )
        if persistent:
            detail = ", ".join(
                f"{f} ({counts[f][0]} of {counts[f][1]} windows)" for f in persistent[:4]
            )
            out.append(
                Recommendation(
                    "warning",
                    f"Investigate drift in {detail}; performance holds so far — if this is the "
                    "new normal, retrain on recent data or upload a fresh reference.",
                )
            )
    out.extend(_what_changed(explanation))
    out.extend(_whole_model(view))
    out.extend(_fairness(view))
    out.extend(_custom(view))
    out.extend(_quality(view))
    out.extend(_labels(view))
    out.extend(_service(view))
    if not out:
        out.append(
            Recommendation(
                "ok",
                "No action needed: no feature drifted, performance stayed within its "
                "thresholds and the service was healthy.",
            )
        )
    return out


def _what_changed(explanation: Explanation | None) -> list[Recommendation]:
    """A warning when the explained metric got materially worse: the explanation's sentence,
    which names the slice explaining most of the change."""
    if explanation is None or not explanation.material:
        return []
    worse = (
        explanation.change < 0 if explanation.metric.higher_is_better else explanation.change > 0
    )
    if not worse:
        return []
    after = explanation.after_window
    top = explanation.top
    first = f" Look at {top.name} first: its inputs, labels and serving path." if top else ""
    return [
        Recommendation(
            "warning",
            f"In the latest window ({when(after.start)} – {when(after.end)}) against the one "
            f"before, {explanation.summary()}.{first}",
        )
    ]


def _quality(view: ModelView) -> list[Recommendation]:
    out = []
    for r in view.latest.get("quality", []):
        if r["status"] not in BAD | WATCH:
            continue
        feature, metric, value = r["feature"], r["metric"], r["value"]
        limit = f" (threshold {pct(r['threshold'])})" if r["threshold"] is not None else ""
        severity = "alert" if r["status"] in BAD else "warning"
        if metric == "missing_ratio":
            text = f"Fix upstream data: {feature} is missing in {pct(value)} of rows{limit}."
        elif metric == "new_category_ratio":
            text = (
                f"{feature} receives categories unseen in training in {pct(value)} of rows"
                f"{limit}; add them to the training data or map them upstream."
            )
        elif metric == "out_of_range_ratio":
            text = f"{feature} is out of its training range in {pct(value)} of rows{limit}."
        elif metric == "wrong_type_ratio":
            text = f"{feature} receives values of the wrong type in {pct(value)} of rows."
        elif metric == "feature_vanished":
            text = f"{feature} no longer arrives: check the serving code and its inputs."
        elif metric == "feature_new":
            text = f"{feature} arrives but is not in the reference: upload a fresh reference."
        elif metric == "outlier_ratio":
            text = f"{pct(value)} of predictions were made on outlier inputs{limit}."
        else:
            text = f"{feature or 'data'}: {metric} is {num(value)}{limit}."
        out.append(Recommendation(severity, text))
    return out


def _whole_model(view: ModelView) -> list[Recommendation]:
    """Multivariate drift, multivariate outliers and attribution drift of the latest window."""
    out = []
    for r in view.latest.get("multivariate", []):
        if r["status"] not in BAD:
            continue
        if r["metric"] == "reconstruction_error":
            checked = view.of("multivariate", metric="reconstruction_error")
            bad = [x for x in checked if x["status"] in BAD]
            text = (
                f"The inputs drifted jointly: the mean PCA reconstruction error is "
                f"{num(r['value'])} (threshold {num(r['threshold'])}; {_windows(bad)} of "
                f"{_windows(checked)} windows) although features may each look unchanged; "
                "check how they co-vary and consider retraining on recent data."
            )
        else:
            text = (
                f"{pct(r['value'])} of predictions were made on inputs whose combination the "
                f"reference rarely saw (threshold {pct(r['threshold'])}); list them with "
                f"modeltel outliers {view.model} --method multivariate."
            )
        out.append(Recommendation("warning", text))
    for r in view.latest.get("attribution", []):
        if r["metric"] != "top_k_overlap" or r["status"] not in BAD | {Status.OK}:
            continue
        rho = next(
            (
                x
                for x in view.latest.get("attribution", [])
                if x["metric"] == "rank_correlation" and not x["feature"]
            ),
            None,
        )
        drifted = r["status"] in BAD or (rho is not None and rho["status"] in BAD)
        if not drifted:
            continue
        details = _details(r["details"])
        now, before = details.get("current_top") or [], details.get("reference_top") or []
        rho_text = f"rank correlation {num(rho['value'])}; " if rho is not None else ""
        out.append(
            Recommendation(
                "warning",
                f"The model relies on different features ({rho_text}top features now "
                f"{_names(now)}, in the reference period {_names(before)}): check the inputs "
                "that gained weight for an upstream change or a leak.",
            )
        )
    return out


def _labels(view: ModelView) -> list[Recommendation]:
    coverage = view.latest_value("performance", "label_coverage")
    if coverage is None or coverage >= LOW_COVERAGE:
        return []
    delay = view.latest_value("performance", "label_delay_p95")
    lag = f" (label delay p95 {seconds(delay)})" if delay is not None else ""
    return [
        Recommendation(
            "warning",
            f"Only {pct(coverage)} of the latest predictions have labels{lag}: realized "
            "performance lags behind; read the estimated performance meanwhile.",
        )
    ]


def _service(view: ModelView) -> list[Recommendation]:
    out = []
    for metric, what in (
        ("latency_p95", "Latency p95"),
        ("latency_p99", "Latency p99"),
        ("error_ratio", "The error ratio"),
        ("volume_ratio", "Prediction volume"),
        ("staleness", "The time since the last prediction"),
    ):
        rs = view.of("service", metric=metric)
        bad = [r for r in rs if r["status"] in BAD]
        if not bad:
            continue
        worst = max(float(r["value"] or 0.0) for r in bad)
        if metric.startswith("latency"):
            shown = seconds(worst)
            verb = "exceeded its threshold"
        elif metric == "error_ratio":
            shown = pct(worst)
            verb = "exceeded its threshold"
        elif metric == "volume_ratio":
            shown = f"{num(worst)}× the baseline"
            verb = "spiked or dropped"
        else:
            shown = seconds(worst)
            verb = "grew too long"
        out.append(
            Recommendation(
                "alert",
                f"{what} {verb} in {_windows(bad)} of {_windows(rs)} windows (worst {shown}).",
            )
        )
    return out


FAIRNESS_RATE = {
    "statistical_parity_difference": ("selection_rate", "is selected at"),
    "disparate_impact_ratio": ("selection_rate", "is selected at"),
    "equal_opportunity_difference": ("true_positive_rate", "has a true positive rate of"),
    "equalized_odds_difference": ("true_positive_rate", "has a true positive rate of"),
}


def _crossed(metric: str, record: dict[str, Any]) -> str:
    """``disparate impact ratio of gender is 0.76, below 0.8 (four-fifths rule)``."""
    below = metric in LOWER_IS_WORSE
    four_fifths = metric == "disparate_impact_ratio" and float(record["threshold"]) == 0.8
    rule = " (four-fifths rule)" if four_fifths else ""
    return (
        f"{metric.replace('_', ' ')} of {record['feature']} is {num(record['value'])}, "
        f"{'below' if below else 'above'} {num(record['threshold'])}{rule}"
    )


def _gap(metric: str, record: dict[str, Any]) -> str:
    """``group f is selected at 0.46 against m at 0.6`` from the record's group rates."""
    groups = _details(record["details"]).get("groups") or {}
    rate, verb = FAIRNESS_RATE[metric]
    if metric == "equalized_odds_difference":
        spreads = {}
        for name in ("true_positive_rate", "false_positive_rate"):
            values = [r[name] for r in groups.values() if r.get(name) is not None]
            spreads[name] = max(values) - min(values) if len(values) >= 2 else -1.0
        if spreads["false_positive_rate"] > spreads["true_positive_rate"]:
            rate, verb = "false_positive_rate", "has a false positive rate of"
    known = sorted(
        ((r[rate], str(g)) for g, r in groups.items() if r.get(rate) is not None),
    )
    if len(known) < 2:
        return ""
    (low, low_group), (high, high_group) = known[0], known[-1]
    return f": group {low_group} {verb} {num(low)} against {high_group} at {num(high)}"


def _fairness(view: ModelView) -> list[Recommendation]:
    """One alert per protected attribute with a summary metric over its threshold (the
    disparate impact ratio named first)."""
    crossed: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for metric in sorted(SUMMARY_METRICS, key=lambda m: m not in LOWER_IS_WORSE):
        for r in view.latest.get("fairness", []):
            if (
                r["metric"] == metric
                and not r["segment"]
                and r["status"] in BAD
                and r["value"] is not None
                and r["threshold"] is not None
            ):
                crossed.setdefault(str(r["feature"]), []).append((metric, r))
    out = []
    for found in crossed.values():
        (first, record), rest = found[0], found[1:]
        text = _crossed(first, record) + _gap(first, record)
        if rest:
            text += "; also " + ", ".join(
                f"{m.replace('_', ' ')} {num(r['value'])} "
                f"({'below' if m in LOWER_IS_WORSE else 'above'} {num(r['threshold'])})"
                for m, r in rest
            )
        text = text[0].upper() + text[1:]
        out.append(
            Recommendation("alert", text + " — review the model's decisions for this attribute.")
        )
    return out


def _custom(view: ModelView) -> list[Recommendation]:
    """One alert per custom metric outside its bounds in the latest window, naming the
    segments outside them (``segment_by``); one per metric outside its bounds only in some
    segments."""
    out = []
    latest = view.latest.get("custom", [])
    bad_segments: dict[str, list[str]] = {}
    for r in latest:
        if r.get("segment") and r["status"] in BAD and r["value"] is not None:
            bad_segments.setdefault(str(r["metric"]), []).append(
                f"{r['segment']} ({num(float(r['value']))})"
            )
    for r in latest:
        if r.get("segment"):
            continue
        details = _details(r["details"])
        about = f" ({details['description']})" if details.get("description") else ""
        segments = bad_segments.get(str(r["metric"]), [])
        if r["status"] not in BAD or r["value"] is None:
            if segments:
                out.append(
                    Recommendation(
                        "alert",
                        f"{r['metric']}{about} is within its bounds overall but outside them "
                        f"in {', '.join(segments)}.",
                    )
                )
            continue
        value, low, high = float(r["value"]), details.get("min"), details.get("max")
        if low is not None and value < low:
            where = f"below its minimum {num(low)}"
        elif high is not None and value > high:
            where = f"above its maximum {num(high)}"
        else:
            where = f"outside its bounds (threshold {num(r['threshold'])})"
        history = [x for x in view.of("custom", metric=r["metric"]) if not x.get("segment")]
        bad = [x for x in history if x["status"] in BAD]
        also = f" Outside them in {', '.join(segments)}." if segments else ""
        out.append(
            Recommendation(
                "alert",
                f"{r['metric']}{about} is {num(value)}, {where} "
                f"({_windows(bad)} of {_windows(history)} windows outside the bounds).{also}",
            )
        )
    return out
