"""The retrain trigger: a policy from the config's ``retrain:`` section, evaluated on the
results in ``ml_results``, that sets ``ml.retrain.recommended`` and POSTs a webhook once per
episode (an episode lasts while the recommendation stays on).

Configuration (every key optional; without a ``retrain`` section the two example rules
below are the defaults; ``rules: []`` turns recommendations off)::

    retrain:
      rules:                      # retraining is recommended when ANY rule holds
        - drifted_features: 3     # at least 3 input features drifted in the latest data window…
          method: psi             # …by this method (default: any method)…
          threshold: 0.2          # …with score > 0.2 (< for p-value methods ks, chi_squared);
                                  # without threshold: the analyzer's own drift decision
        - metric: accuracy        # performance metric (accuracy, f1, roc_auc, rmse, …)
          below: 0.8              # or above: for error metrics (mae, rmse, log_loss…)
          windows: 3              # in this many consecutive, non-overlapping windows with a value
          source: realized        # or estimated
      webhook:                    # or $MODELTEL_RETRAIN_WEBHOOK_URL
        url: https://hooks.example.com/retrain
        headers: {Authorization: Bearer xyz}
        timeout: 5s
        retries: 4                # attempts after the first one
        backoff: 1s               # first wait, doubled each retry, capped by max_backoff
        max_backoff: 30s

The webhook body is JSON with a Slack-compatible ``text`` plus ``model``, ``version``,
``reasons``, ``window_start``, ``window_end``, ``episode_start``, ``health_score`` and
``explanation``: when a metric rule fired, which slices of the traffic explain the metric's
fall (:meth:`~modeltel.analyzer.orchestration.explain.Explanation.to_dict`, the window
analysed against the window before the rule's run of windows; ``text`` then ends with its
sentence), else null with ``explanation_error`` saying why.
Delivery state lives in the ``retrain_recommended`` record's ``details`` (``episode_start``,
``notified``), so a restarted analyzer neither repeats nor forgets a notification; a delivery
that fails every retry is attempted again at the next cycle of the same episode.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modeltel.analyzer.analyses.drift.methods import METHODS
from modeltel.analyzer.analyses.performance.config import PerformanceConfig
from modeltel.analyzer.base import settings
from modeltel.analyzer.base.config import expect, section
from modeltel.analyzer.base.durations import parse_duration
from modeltel.analyzer.base.errors import ConfigError, ModeltelError
from modeltel.analyzer.base.results import BAD, Result, Status
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import non_overlapping
from modeltel.analyzer.orchestration.explain import Explanation
from modeltel.analyzer.orchestration.explain.latest import latest_explanation
from modeltel.analyzer.orchestration.health import KIND as HEALTH
from modeltel.analyzer.orchestration.webhook import Webhook, post_json

logger = logging.getLogger(__name__)

P_VALUE_METHODS = frozenset(name for name, method in METHODS.items() if method.pvalue)


@dataclass(frozen=True)
class DriftRule:
    """At least ``min_features`` input features drifted in the latest drift window with data."""

    min_features: int
    method: str | None = None
    threshold: float | None = None

    def describe(self) -> str:
        if self.threshold is None:
            how = f" by {self.method}" if self.method else ""
        else:
            op = "<" if self.method in P_VALUE_METHODS else ">"
            how = f" ({self.method or 'score'} {op} {self.threshold:g})"
        return how


@dataclass(frozen=True)
class MetricRule:
    """A performance metric below (or above) a bound in ``windows`` consecutive windows that
    have a value."""

    metric: str
    below: float | None = None
    above: float | None = None
    windows: int = 1
    source: str = "realized"

    def breaches(self, value: float | None) -> bool:
        if value is None:
            return False
        if self.below is not None and value < self.below:
            return True
        return self.above is not None and value > self.above

    def describe(self) -> str:
        bound = f"below {self.below:g}" if self.below is not None else f"above {self.above:g}"
        runs = f" for {self.windows} consecutive windows" if self.windows > 1 else ""
        return f"{self.source} {self.metric} {bound}{runs}"


Rule = DriftRule | MetricRule


DEFAULT_RULES: tuple[Rule, ...] = (
    DriftRule(min_features=3),
    MetricRule(metric="accuracy", below=0.8, windows=3),
)


@dataclass(frozen=True)
class RetrainPolicy:
    """Rules (any one suffices), an optional webhook, and the ``performance`` section the
    webhook's explanation of a metric's fall reads (task, positive class)."""

    rules: tuple[Rule, ...] = DEFAULT_RULES
    webhook: Webhook | None = None
    performance: PerformanceConfig = field(default_factory=PerformanceConfig)

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> RetrainPolicy:
        """Validate the ``retrain`` section; ConfigError names the offending key."""
        env = os.environ if environ is None else environ
        cfg = section(dict(config), "retrain")
        _no_unknown(cfg, {"rules", "webhook"}, "retrain")
        rules = DEFAULT_RULES
        if "rules" in cfg:
            raw = expect(cfg["rules"] or [], list, "retrain.rules", "a list of rules")
            rules = tuple(_rule(item, f"retrain.rules[{i}]") for i, item in enumerate(raw))
        webhook = _webhook(cfg.get("webhook"), env)
        return cls(rules=rules, webhook=webhook, performance=PerformanceConfig.load(config))


def _no_unknown(mapping: Mapping[str, Any], known: set[str], path: str) -> None:
    unknown = sorted(set(mapping) - known)
    if unknown:
        expected = ", ".join(sorted(known))
        raise ConfigError(
            f"config key {path}.{unknown[0]} is not known; expected one of {expected}"
        )


def _number(value: Any, path: str) -> float:
    return float(expect(value, (int, float), path, "a number"))


def _rule(item: Any, path: str) -> Rule:
    item = expect(item, dict, path, "a mapping")
    if "drifted_features" in item and "metric" in item:
        raise ConfigError(f"config key {path} must have drifted_features or metric, not both")
    if "drifted_features" in item:
        _no_unknown(item, {"drifted_features", "method", "threshold"}, path)
        count = expect(item["drifted_features"], int, f"{path}.drifted_features", "a whole number")
        if count < 1:
            raise ConfigError(f"config key {path}.drifted_features must be at least 1")
        method = item.get("method")
        if method is not None:
            method = expect(method, str, f"{path}.method", "a drift method name")
        threshold = item.get("threshold")
        if threshold is not None:
            threshold = _number(threshold, f"{path}.threshold")
        return DriftRule(count, method, threshold)
    if "metric" in item:
        _no_unknown(item, {"metric", "below", "above", "windows", "source"}, path)
        metric = expect(item["metric"], str, f"{path}.metric", "a metric name")
        below = _number(item["below"], f"{path}.below") if "below" in item else None
        above = _number(item["above"], f"{path}.above") if "above" in item else None
        if (below is None) == (above is None):
            raise ConfigError(f"config key {path} needs exactly one of below or above")
        windows = expect(item.get("windows", 1), int, f"{path}.windows", "a whole number")
        if windows < 1:
            raise ConfigError(f"config key {path}.windows must be at least 1")
        source = item.get("source", "realized")
        if source not in ("realized", "estimated"):
            raise ConfigError(f"config key {path}.source must be realized or estimated")
        return MetricRule(metric, below, above, windows, source)
    raise ConfigError(f"config key {path} needs drifted_features or metric")


def _webhook(raw: Any, env: Mapping[str, str]) -> Webhook | None:
    cfg = expect(raw or {}, dict, "retrain.webhook", "a mapping")
    _no_unknown(
        cfg, {"url", "headers", "timeout", "retries", "backoff", "max_backoff"}, "retrain.webhook"
    )
    url = cfg.get("url") or env.get(settings.MODELTEL_RETRAIN_WEBHOOK_URL, "")
    if not url:
        return None
    url = expect(url, str, "retrain.webhook.url", "a URL")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"config key retrain.webhook.url must be an http(s) URL, got {url!r}")
    headers = expect(cfg.get("headers") or {}, dict, "retrain.webhook.headers", "a mapping")
    retries = expect(cfg.get("retries", 4), int, "retrain.webhook.retries", "a whole number")
    if retries < 0:
        raise ConfigError("config key retrain.webhook.retries must not be negative")

    def seconds(key: str, default: str) -> float:
        return parse_duration(str(cfg.get(key, default)), name=f"config key retrain.webhook.{key}")

    return Webhook(
        url=url,
        headers={str(k): str(v) for k, v in headers.items()},
        timeout_s=seconds("timeout", "5s"),
        retries=retries,
        backoff_s=seconds("backoff", "1s"),
        max_backoff_s=seconds("max_backoff", "30s"),
    )


# --- evaluation ---------------------------------------------------------------------------

_LATEST_DRIFT_SQL = """
SELECT feature, method, latest.1 AS value, latest.2 AS status
FROM (
    SELECT feature, method,
           argMax(tuple(value, status), computed_at) AS latest
    FROM ml_results
    WHERE model = {model:String} AND version = {version:String} AND kind = 'drift'
      AND window_end = (SELECT max(window_end) FROM ml_results
                        WHERE model = {model:String} AND version = {version:String}
                          AND kind = 'drift' AND status != 'no_data')
      AND feature IS NOT NULL AND NOT startsWith(assumeNotNull(feature), 'prediction.')
      AND segment = ''
    GROUP BY feature, method
)
"""

_METRIC_HISTORY_SQL = """
SELECT window_start, window_end, argMax(value, computed_at) AS value
FROM ml_results
WHERE model = {model:String} AND version = {version:String} AND kind = 'performance'
  AND metric = {metric:String} AND source = {source:String} AND segment = ''
GROUP BY window_start, window_end
HAVING value IS NOT NULL
ORDER BY window_end DESC
LIMIT 20000
"""


_FLEET_DRIFT_SQL = """
SELECT model, version, feature, method, latest.1 AS value, latest.2 AS status
FROM (
    SELECT model, version, feature, method,
           argMax(tuple(value, status), computed_at) AS latest
    FROM ml_results
    WHERE (model, version) IN {versions:Array(Tuple(String, String))} AND kind = 'drift'
      AND (model, version, window_end) IN (
          SELECT model, version, max(window_end) FROM ml_results
          WHERE (model, version) IN {versions:Array(Tuple(String, String))}
            AND kind = 'drift' AND status != 'no_data'
          GROUP BY model, version)
      AND feature IS NOT NULL AND NOT startsWith(assumeNotNull(feature), 'prediction.')
      AND segment = ''
    GROUP BY model, version, feature, method
)
"""

_FLEET_METRIC_HISTORY_SQL = """
SELECT model, version, window_start, window_end, argMax(value, computed_at) AS value
FROM ml_results
WHERE (model, version) IN {versions:Array(Tuple(String, String))} AND kind = 'performance'
  AND metric = {metric:String} AND source = {source:String} AND segment = ''
GROUP BY model, version, window_start, window_end
HAVING value IS NOT NULL
ORDER BY model, version, window_end DESC
LIMIT 20000 BY model, version
"""

_FLEET_PREVIOUS_SQL = """
SELECT model, version, value, details
FROM ml_results
WHERE (model, version) IN {versions:Array(Tuple(String, String))}
  AND kind = 'health' AND metric = 'retrain_recommended' AND window_end <= {end:DateTime64(3)}
ORDER BY model, version, window_end DESC, computed_at DESC
LIMIT 1 BY model, version
"""


@dataclass
class Evidence:
    """The stored results the policy reads for one model version: its latest drift rows
    (feature, method, value, status), each metric rule's history rows (window start, window
    end, value; newest first) by (metric, source), and its previous verdict (value, details)."""

    drift: list[tuple[Any, ...]] = field(default_factory=list)
    history: dict[tuple[str, str], list[tuple[Any, ...]]] = field(default_factory=dict)
    previous: tuple[Any, Any] | None = None


def gather_evidence(
    store: Store, targets: list[tuple[str, str]], policy: RetrainPolicy, end: datetime
) -> dict[tuple[str, str], Evidence]:
    """The :class:`Evidence` of every (model, version) of ``targets`` (verdicts up to
    ``end``): one grouped query per kind of evidence, whatever the number of versions."""
    versions = [tuple(t) for t in targets]
    out = {(str(m), str(v)): Evidence() for m, v in targets}
    if any(isinstance(rule, DriftRule) for rule in policy.rules):
        for m, v, *row in store.query_rows(_FLEET_DRIFT_SQL, parameters={"versions": versions}):
            out[(str(m), str(v))].drift.append(tuple(row))
    for metric, source in dict.fromkeys(
        (rule.metric, rule.source) for rule in policy.rules if isinstance(rule, MetricRule)
    ):
        for evidence in out.values():
            evidence.history[(metric, source)] = []
        rows = store.query_rows(
            _FLEET_METRIC_HISTORY_SQL,
            parameters={"versions": versions, "metric": metric, "source": source},
        )
        for m, v, *row in rows:
            out[(str(m), str(v))].history[(metric, source)].append(tuple(row))
    rows = store.query_rows(_FLEET_PREVIOUS_SQL, parameters={"versions": versions, "end": end})
    for m, v, value, details in rows:
        out[(str(m), str(v))].previous = (value, details)
    return out


def _drift_reason(rows: list[tuple[Any, ...]], rule: DriftRule) -> str | None:
    drifted = set()
    for feature, method, value, status in rows:
        if rule.method is not None and method != rule.method:
            continue
        if rule.threshold is None:
            hit = status in BAD
        elif value is None:
            hit = False
        elif method in P_VALUE_METHODS:
            hit = value < rule.threshold
        else:
            hit = value > rule.threshold
        if hit:
            drifted.add(str(feature))
    if len(drifted) < rule.min_features:
        return None
    names = sorted(drifted)
    shown = ", ".join(names[:6]) + (", …" if len(names) > 6 else "")
    return f"{len(names)} features drifted{rule.describe()}: {shown}"


def _metric_reason(rows: list[tuple[Any, ...]], rule: MetricRule) -> str | None:
    kept = non_overlapping({(start, end) for start, end, _ in rows})
    by_end = sorted((r for r in rows if (r[0], r[1]) in kept), key=lambda r: r[1], reverse=True)
    chain: list[float | None] = [value for _, _, value in by_end[: rule.windows]]
    if len(chain) < rule.windows or not all(rule.breaches(v) for v in chain):
        return None
    values = ", ".join(f"{v:.4g}" for v in chain if v is not None)
    return f"{rule.describe()} ({values})"


def _evidence(store: Store, model: str, version: str, policy: RetrainPolicy) -> Evidence:
    """The drift rows and metric histories of one version (its previous verdict aside)."""
    evidence = Evidence()
    params = {"model": model, "version": version}
    if any(isinstance(rule, DriftRule) for rule in policy.rules):
        evidence.drift = [tuple(r) for r in store.query_rows(_LATEST_DRIFT_SQL, parameters=params)]
    for rule in policy.rules:
        if isinstance(rule, MetricRule) and (rule.metric, rule.source) not in evidence.history:
            rows = store.query_rows(
                _METRIC_HISTORY_SQL,
                parameters={**params, "metric": rule.metric, "source": rule.source},
            )
            evidence.history[(rule.metric, rule.source)] = [tuple(r) for r in rows]
    return evidence


@dataclass(frozen=True)
class RetrainDecision:
    recommended: bool
    reasons: tuple[str, ...] = ()
    fallen: tuple[MetricRule, ...] = ()
    """The metric rules that held."""


def evaluate(
    store: Store,
    model: str,
    version: str,
    policy: RetrainPolicy,
    evidence: Evidence | None = None,
) -> RetrainDecision:
    """Apply ``policy`` to the results of ``model``/``version`` stored so far (``evidence``:
    those results, read already by :func:`gather_evidence`)."""
    if evidence is None:
        evidence = _evidence(store, model, version, policy)
    reasons = []
    fallen = []
    for rule in policy.rules:
        if isinstance(rule, DriftRule):
            reason = _drift_reason(evidence.drift, rule)
        else:
            reason = _metric_reason(evidence.history[(rule.metric, rule.source)], rule)
            if reason:
                fallen.append(rule)
        if reason:
            reasons.append(reason)
    return RetrainDecision(bool(reasons), tuple(reasons), tuple(fallen))


def explain_fall(
    store: Store,
    model: str,
    version: str,
    rule: MetricRule,
    window: tuple[datetime, datetime],
    performance: PerformanceConfig | None = None,
) -> Explanation:
    """Which slices explain the fall of ``rule``'s metric: ``window`` (start, end) against the
    window as long just before the rule's run of ``rule.windows`` windows. Raises
    :class:`ConfigError` for a metric explain cannot take apart and :class:`NotFoundError`
    when a window has nothing it counts."""
    if rule.source == "estimated" and rule.metric != "accuracy":
        raise ConfigError(
            f"estimated {rule.metric} cannot be explained; of the estimates only accuracy can"
        )
    metric = "estimated_accuracy" if rule.source == "estimated" else rule.metric
    start, end = window
    return latest_explanation(
        store,
        model,
        version,
        metric=metric,
        performance=performance,
        end=end,
        window_s=(end - start).total_seconds(),
        windows_back=rule.windows,
    )


_PREVIOUS_SQL = """
SELECT value, details
FROM ml_results
WHERE model = {model:String} AND version = {version:String}
  AND kind = 'health' AND metric = 'retrain_recommended' AND window_end <= {end:DateTime64(3)}
ORDER BY window_end DESC, computed_at DESC
LIMIT 1
"""


def _previous_of(row: tuple[Any, Any] | None) -> dict[str, Any] | None:
    """The previous verdict's details and ``recommended`` from its (value, details) row."""
    if row is None:
        return None
    value, raw = row
    try:
        details = json.loads(raw) if raw else {}
    except ValueError:
        details = {}
    return {**details, "recommended": bool(value)}


class RetrainTrigger:
    """Evaluates the policy for one model version per cycle and notifies once per episode."""

    def __init__(
        self,
        store: Store,
        policy: RetrainPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.policy = policy
        self._sleep = sleep

    def record(
        self,
        model: str,
        version: str,
        *,
        window_start: datetime,
        window_end: datetime,
        health_score: float | None = None,
        run_id: str = "",
        evidence: Evidence | None = None,
    ) -> Result:
        """Evaluate, notify when a new episode starts, and return the result record
        (``evidence``: the version's stored results, read already by :meth:`evidence`)."""
        decision = evaluate(self.store, model, version, self.policy, evidence)
        if evidence is None:
            previous = self._previous(model, version, window_end) or {}
        else:
            previous = _previous_of(evidence.previous) or {}
        details: dict[str, Any] = {"reasons": list(decision.reasons)}
        if decision.recommended:
            same_episode = bool(previous.get("recommended"))
            episode_start = previous.get("episode_start") if same_episode else None
            details["episode_start"] = episode_start or window_end.isoformat()
            notified = bool(same_episode and previous.get("notified"))
            if not notified and self.policy.webhook is not None:
                payload = self._payload(model, version, decision, details, window_start, window_end)
                payload["health_score"] = health_score
                self._explain(payload, model, version, decision, (window_start, window_end))
                notified = post_json(self.policy.webhook, payload, sleep=self._sleep)
            details["notified"] = notified
        return Result(
            model=model,
            version=version,
            window_start=window_start,
            window_end=window_end,
            kind=HEALTH,
            metric="retrain_recommended",
            value=1.0 if decision.recommended else 0.0,
            status=Status.ALERT if decision.recommended else Status.OK,
            details=details,
            run_id=run_id,
        )

    def evidence(
        self, targets: list[tuple[str, str]], window_end: datetime
    ) -> dict[tuple[str, str], Evidence]:
        """The :class:`Evidence` of ``targets`` for verdicts on windows ending at
        ``window_end``, in a few grouped queries (:func:`gather_evidence`)."""
        return gather_evidence(self.store, targets, self.policy, window_end)

    def _previous(self, model: str, version: str, end: datetime) -> dict[str, Any] | None:
        rows = self.store.query_rows(
            _PREVIOUS_SQL, parameters={"model": model, "version": version, "end": end}
        )
        return _previous_of(tuple(rows[0])) if rows else None

    def _explain(
        self,
        payload: dict[str, Any],
        model: str,
        version: str,
        decision: RetrainDecision,
        window: tuple[datetime, datetime],
    ) -> None:
        """Add ``explanation`` (and its sentence to ``text``) for the first metric rule that
        held, or ``explanation_error``; a failure never stops the notification."""
        payload["explanation"] = None
        if not decision.fallen:
            payload["explanation_error"] = (
                "no metric rule fired (retraining is recommended for drift)"
            )
            return
        rule = decision.fallen[0]
        try:
            found = explain_fall(self.store, model, version, rule, window, self.policy.performance)
        except ModeltelError as exc:
            payload["explanation_error"] = f"{rule.metric} not explained: {exc}"
            return
        except Exception as exc:  # the notification matters more than its explanation
            logger.warning("explanation of %s/%s %s failed: %s", model, version, rule.metric, exc)
            payload["explanation_error"] = f"{rule.metric} not explained: {exc}"
            return
        payload["explanation"] = found.to_dict()
        payload["text"] += f". What changed: {found.summary()}"

    @staticmethod
    def _payload(
        model: str,
        version: str,
        decision: RetrainDecision,
        details: Mapping[str, Any],
        window_start: datetime,
        window_end: datetime,
    ) -> dict[str, Any]:
        text = (
            f"modeltel: retraining recommended for model {model} version {version}: "
            + "; ".join(decision.reasons)
        )
        return {
            "text": text,
            "model": model,
            "version": version,
            "reasons": list(decision.reasons),
            "window_start": window_start.isoformat(),
            "window_end": window_end.isoformat(),
            "episode_start": details.get("episode_start"),
        }
