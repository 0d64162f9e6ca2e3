"""The ``drift`` configuration section: defaults, overrides, and errors that name the key."""

from __future__ import annotations

import pytest

from modeltel.analyzer import Analyzer
from modeltel.analyzer.analyses.drift.config import load_drift_config
from modeltel.analyzer.base.config import load_config
from modeltel.analyzer.base.errors import ConfigError

YAML = """
drift:
  reference: training
  methods: [auto, psi]
  thresholds: {psi: 0.2, ks: 0.01}
  warnings: {psi: 0.05}
  bins: 20
  share: 0.3
  correction: bonferroni
  features:
    age: {method: wasserstein, threshold: 0.2}
    zip: {type: categorical}
    id: {ignore: true}
  prediction: {method: psi}
  models:
    churn: {bins: 5, features: {age: {method: ks}}}
"""


def test_defaults_are_evidently_like() -> None:
    config = load_drift_config({})
    assert config.methods == ("auto",)
    assert config.threshold("psi") == 0.25 and config.warning("psi") == 0.1
    assert config.threshold("ks") == 0.05 and config.threshold("wasserstein") == 0.1
    assert config.share == 0.5 and config.bins == 10
    assert config.correction == "benjamini_hochberg"


def test_a_full_section_parses(tmp_path) -> None:
    path = tmp_path / "modeltel.yaml"
    path.write_text(YAML)
    config = load_drift_config(load_config(path))
    assert config.reference == "training"
    assert config.threshold("psi") == 0.2 and config.threshold("ks") == 0.01
    assert config.threshold("wasserstein", "age") == 0.2
    assert config.rule("zip").type == "categorical" and config.rule("id").ignore
    assert config.rule("prediction.score").methods == ("psi",)
    churn = config.for_model("churn")
    assert churn.bins == 5 and churn.rule("age").methods == ("ks",)
    assert churn.rule("zip").type == "categorical"  # other feature rules are kept
    assert config.for_model("other").bins == 20


@pytest.mark.parametrize(
    "section, message",
    [
        ({"methods": ["ks", "magic"]}, "drift.methods[1] is 'magic'"),
        ({"thresholds": {"psi": "high"}}, "drift.thresholds.psi must be a number"),
        ({"thresholds": {"ks": 2}}, "drift.thresholds.ks must be between 0.0 and 1.0"),
        ({"warnings": {"ks": 0.1}}, "drift.warnings.ks: p-value methods have no warning"),
        ({"bins": 1}, "drift.bins must be at least 2"),
        ({"share": 1.5}, "drift.share must be between"),
        ({"correction": "holm"}, "drift.correction must be one of"),
        ({"features": {"age": {"threshold": -1}}}, "drift.features.age.threshold"),
        ({"features": {"age": {"type": "text"}}}, "drift.features.age.type"),
        ({"features": {"age": {"colour": 1}}}, "drift.features.age.colour is unknown"),
        ({"models": {"churn": {"bins": "x"}}}, "drift.models.churn.bins"),
        ({"typo": 1}, "drift.typo is unknown"),
    ],
)
def test_errors_name_the_key(section: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_drift_config({"drift": section})
    assert message in str(info.value)


def test_the_analyzer_fails_fast_on_a_bad_section(store) -> None:
    with pytest.raises(ConfigError, match=r"drift\.bins"):
        Analyzer(store, {"drift": {"bins": 0}})
