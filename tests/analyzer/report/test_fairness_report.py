"""The custom-metric and fairness sections and recommendations of the health report, over
predictions and labels planted with numpy and the real analyses; the expected numbers are
recomputed here from the planted arrays (fairlearn's definitions, in numpy)."""

from __future__ import annotations

import html as html_module
import re
from datetime import timedelta

from modeltel.analyzer.orchestration.analyzer import Analyzer
from modeltel.analyzer.report import build_report, render_html
from modeltel.analyzer.web.sections import num
from support.fairness import DAY0, MODEL, Day, plant_and_analyse

THRESHOLDS = {  # the defaults, in the order a recommendation names them
    "disparate_impact_ratio": 0.8,
    "statistical_parity_difference": 0.1,
    "equal_opportunity_difference": 0.1,
    "equalized_odds_difference": 0.1,
}


def summaries(day: Day, attribute: str) -> dict[str, float]:
    selection = [r["selection_rate"] for r in day.rates(attribute).values()]
    return {
        "disparate_impact_ratio": min(selection) / max(selection),
        "statistical_parity_difference": spread(day, attribute, "selection_rate"),
        "equal_opportunity_difference": spread(day, attribute, "true_positive_rate"),
        "equalized_odds_difference": max(
            spread(day, attribute, "true_positive_rate"),
            spread(day, attribute, "false_positive_rate"),
        ),
    }


def spread(day: Day, attribute: str, rate: str) -> float:
    values = [r[rate] for r in day.rates(attribute).values()]
    return max(values) - min(values)


def expected_fairness(day: Day, attribute: str) -> str | None:
    """The recommendation the planted numbers call for (None when nothing is crossed)."""
    found = summaries(day, attribute)
    crossed = [
        m
        for m in THRESHOLDS
        if (found[m] < THRESHOLDS[m] if m == "disparate_impact_ratio" else found[m] > THRESHOLDS[m])
    ]
    if not crossed:
        return None
    first, rest = crossed[0], crossed[1:]
    rate, verb = ("selection_rate", "is selected at")
    if first != "disparate_impact_ratio" and first != "statistical_parity_difference":
        rate, verb = ("true_positive_rate", "has a true positive rate of")
    if first == "equalized_odds_difference" and found[first] > spread(day, attribute, rate):
        rate, verb = ("false_positive_rate", "has a false positive rate of")
    rates = sorted((r[rate], g) for g, r in day.rates(attribute).items())
    (low, low_group), (high, high_group) = rates[0], rates[-1]
    side = "below" if first == "disparate_impact_ratio" else "above"
    rule = " (four-fifths rule)" if first == "disparate_impact_ratio" else ""
    text = (
        f"{first.replace('_', ' ').capitalize()} of {attribute} is {num(found[first])}, {side} "
        f"{num(THRESHOLDS[first])}{rule}: group {low_group} {verb} {num(low)} against "
        f"{high_group} at {num(high)}"
    )
    if rest:
        text += "; also " + ", ".join(
            f"{m.replace('_', ' ')} {num(found[m])} (above {num(THRESHOLDS[m])})" for m in rest
        )
    return text + " — review the model's decisions for this attribute."


def test_report_has_fairness_and_custom_sections_and_recommendations(store) -> None:
    days = plant_and_analyse(store, seed=3)
    latest = days[-1]

    report = build_report(store, MODEL, period="week")
    texts = [(r.severity, r.text) for r in report.recommendations]
    fairness = [t for _, t in texts if "review the model's decisions" in t]
    wanted = [expected_fairness(latest, a) for a in ("gender", "age")]
    assert sorted(fairness) == sorted(t for t in wanted if t is not None)
    assert wanted[0] is not None and ("alert", wanted[0]) in texts
    approvals = [day.approve.mean() for day in days]
    assert approvals[-1] < 0.3
    approval = [t for s, t in texts if s == "alert" and t.startswith("approval_rate")]
    assert len(approval) == 1
    assert approval[0].startswith(
        f"approval_rate (share of applications approved) is {num(approvals[-1])}, below its "
        f"minimum 0.3 ({sum(a < 0.3 for a in approvals)} of 2 windows outside the bounds)."
    )
    gender = latest.groups["gender"]
    for group in sorted(set(gender)):  # custom_metrics.segment_by: gender
        share = latest.approve[gender == group].mean()
        named = f"gender={group} ({num(share)})" in approval[0]
        assert named == (share < 0.3), (group, share, approval[0])
    assert not any("mean_amount" in t for _, t in texts)  # no bounds: never recommended
    assert not report.retrain  # fairness and custom metrics act on decisions, not retraining

    html = render_html(report)
    assert "<script" not in html
    recommended = html[html.index("<h2>Recommendations</h2>") : html.index("<h2>Health score")]
    for text in fairness:
        assert html_module.escape(text) in recommended
    custom = html[html.index("<h2>Custom metrics</h2>") : html.index("<h2>Fairness between")]
    assert (
        f"<td><code>approval_rate</code></td><td>{num(approvals[-1])}</td><td>≥ 0.3</td>"
        "<td><span class='badge badge-alert'>alert</span></td>" in custom
    )
    assert len(re.findall(r"<figcaption class='caption'>", custom)) == 2
    section = html[html.index("<h2>Fairness between groups</h2>") :]
    gender = section[section.index("id='fairness-gender'") :]
    found = summaries(latest, "gender")
    assert (
        f"<td>disparate impact ratio</td><td>{num(found['disparate_impact_ratio'])}</td>"
        "<td>&lt; 0.8</td><td><span class='badge badge-alert'>alert</span></td>" in gender
    )
    rates = latest.rates("gender")
    for group in ("f", "m"):
        assert f"<td>{num(rates[group]['selection_rate'])}</td>" in gender
    assert "<li><code>x</code>: 10 predictions, fewer than min_group_size 30</li>" in gender
    assert len(re.findall(r"<figcaption class='caption'>", section)) == 4  # 2 per attribute


def test_a_metric_outside_its_bounds_in_some_segments_only_is_recommended(store) -> None:
    latest = plant_and_analyse(store, seed=3)[-1]
    gender = latest.groups["gender"]
    shares = {g: latest.approve[gender == g].mean() for g in sorted(set(gender))}
    floor = (shares["f"] + latest.approve.mean()) / 2  # above f's share, below the overall one
    config = {
        "custom_metrics": {
            "approval_floor": {"sql": "avg(prediction_label = 'approve')", "min": floor},
            "segment_by": "gender",
        }
    }
    Analyzer(store, config).run(
        "custom", MODEL, start=DAY0, end=DAY0 + timedelta(days=2), window="1d"
    )
    texts = [r.text for r in build_report(store, MODEL, period="week").recommendations]
    found = [t for t in texts if t.startswith("approval_floor ")]
    below = [f"gender={g} ({num(s)})" for g, s in shares.items() if s < floor]
    assert any(b.startswith("gender=f ") for b in below)
    assert len(found) == 1 and found[0].startswith(
        "approval_floor is within its bounds overall but outside them in "
    )
    for g, s in shares.items():
        assert (f"gender={g} ({num(s)})" in found[0]) == (s < floor), (g, found[0])
