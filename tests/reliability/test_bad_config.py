"""Invalid YAML configuration: every error is a ConfigError naming the key (or the line) and
the problem; the commands exit 2 with that sentence and no traceback. Plus random YAML
documents: a ConfigError or a valid configuration, nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeltel.analyzer.base.config import load_config
from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.retention import Retention
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.orchestration.analyzer import Analyzer
from modeltel.analyzer.orchestration.loop import LoopSettings
from modeltel.analyzer.orchestration.retrain import RetrainPolicy
from support.servers import new_database_name


@pytest.fixture(scope="module")
def store(store_url: str):
    """One store for the module: validating a configuration writes nothing."""
    shared = Store(store_url, new_database_name())
    yield shared
    shared.command(f"DROP DATABASE IF EXISTS `{shared.database}`")
    shared.close()


def validate(store, config: dict) -> None:
    """Everything that validates configuration sections, as the commands do."""
    LoopSettings.from_config(config)
    RetrainPolicy.from_config(config)
    Retention.from_config(config)
    Analyzer(store, config)


CASES = [
    ("drift:\n  methods: [psi\n", ["not valid YAML", "line 3"]),
    ("drift:\n\tmethods: psi\n", ["not valid YAML", "line 2"]),
    ("- drift\n- loop\n", ["must be a mapping of sections", "list"]),
    ("just a sentence", ["must be a mapping of sections", "str"]),
    ("drift: 5\n", ["drift", "mapping"]),
    ("drift:\n  methods: [nope]\n", ["drift.methods[0]", "nope", "known methods"]),
    ("drift:\n  features:\n    age:\n      threshold: -1\n", ["drift.features.age", "threshold"]),
    (
        "drift:\n  features:\n    age:\n      colour: red\n",
        ["drift.features.age.colour", "unknown"],
    ),
    (
        "drift:\n  features:\n    age:\n      type: fuzzy\n",
        ["drift.features.age.type", "categorical or numerical", "fuzzy"],
    ),
    ("loop:\n  window: soon\n", ["loop.window", "soon"]),
    ("loop:\n  window: -5m\n", ["loop.window"]),
    ("loop:\n  surprise: 1\n", ["loop.surprise", "not known"]),
    ("retrain:\n  webhook:\n    url: ftp://x\n", ["retrain.webhook.url", "http(s) URL"]),
    (
        "retrain:\n  webhook:\n    url: http://127.0.0.1:9/hook\n    retries: -2\n",
        ["retrain.webhook.retries", "negative"],
    ),
    ("service:\n  thresholds:\n    nonsense: 1\n", ["service.thresholds.nonsense", "not known"]),
    (
        "service:\n  volume_drop: 0.9\n  volume_spike: 0.5\n",
        ["service.volume_drop", "volume_spike"],
    ),
    ("quality:\n  outliers:\n    quantiles: [0.9, 0.1]\n", ["quality.outliers.quantiles"]),
    (
        "quality:\n  features:\n    age:\n      min: 10\n      max: 1\n",
        ["quality.features.age", "min is above max"],
    ),
    ("performance:\n  task: clustering\n", ["performance.task", "classification or regression"]),
    (
        "custom_metrics:\n  leak: {sql: \"max(length(file('/etc/passwd')))\"}\n",
        ["custom metric 'leak'", "file() is not allowed"],
    ),
    ("custom_metrics:\n  m: {sql: count(), maximum: 3}\n", ["custom_metrics.m.maximum"]),
    ("fairness:\n  protected: [gender]\n", ["fairness.favorable is missing"]),
    ("retention:\n  raw: 7 days\n", ["retention.raw", "duration like 7d", "forever"]),
    ("retention:\n  spans: 7d\n", ["retention.spans", "not known", "raw, results"]),
    ("drift: !!python/object:os.system ls\n", ["not valid YAML"]),
    ("a: &a [x, x]\nb: &b [*a, *a]\ndrift: *b\n", ["drift", "mapping"]),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:30] for c in CASES])
def test_config_errors_name_the_key_and_the_problem(
    store, tmp_path: Path, text: str, expected: list[str]
) -> None:
    path = tmp_path / "modeltel.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        validate(store, load_config(path))
    message = str(raised.value)
    for part in expected:
        assert part in message, message
    assert "Traceback" not in message and len(message) < 600


def test_unreadable_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read config file .*nope\.yaml"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "dir.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ConfigError):
        load_config(binary)


def test_deeply_nested_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("drift: " + "[" * 20_000 + "]" * 20_000 + "\n")
    with pytest.raises(ConfigError, match=r"not valid YAML|nested too deeply|mapping"):
        load_config(path)


YAML_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.sampled_from(["1h", "-1h", "0s", "psi", "ks", "wasserstein", "jensenshannon", "x"]),
)
SECTION_KEYS = st.sampled_from(
    [
        "drift",
        "loop",
        "retrain",
        "service",
        "quality",
        "performance",
        "retention",
        "models",
        "features",
    ]
)
INNER_KEYS = st.one_of(
    st.sampled_from(
        [
            "methods",
            "method",
            "threshold",
            "thresholds",
            "features",
            "window",
            "active_within",
            "webhook",
            "url",
            "retries",
            "task",
            "outliers",
            "quantiles",
            "min",
            "max",
            "type",
            "ignore",
            "volume_drop",
            "volume_spike",
            "max_staleness",
            "age",
            "raw",
        ]
    ),
    st.text(max_size=6),
)
YAML_VALUES = st.recursive(
    YAML_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(INNER_KEYS, inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(config=st.dictionaries(SECTION_KEYS, YAML_VALUES, max_size=4))
def test_random_configurations_are_valid_or_a_config_error(store, tmp_path: Path, config) -> None:
    path = tmp_path / "random.yaml"
    path.write_text(yaml.safe_dump(config))
    try:
        validate(store, load_config(path))
    except ConfigError as exc:
        assert str(exc).startswith("config") or "config key" in str(exc) or "--" in str(exc), exc


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modeltel.analyzer.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_commands_exit_2_with_the_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("loop:\n  window: soon\n")
    store = f"chdb://{tmp_path / 'store'}"
    answer = _cli("analyzer", "--once", "--config", str(bad), "--clickhouse-url", store)
    assert answer.returncode == 2, answer.stderr
    assert "config key loop.window" in answer.stderr and "Traceback" not in answer.stderr

    answer = _cli(
        "serve",
        *("--clickhouse-url", store, "--port", "0", "--grpc-port", "0"),
        env={"MODELTEL_CONFIG": str(bad)},
    )
    assert answer.returncode == 2, answer.stderr
    assert "config key loop.window" in answer.stderr and "Traceback" not in answer.stderr

    retention = tmp_path / "retention.yaml"
    retention.write_text("retention:\n  raw: 0s\n")
    answer = _cli(
        "serve",
        *("--clickhouse-url", store, "--port", "0", "--grpc-port", "0"),
        env={"MODELTEL_CONFIG": str(retention)},
    )
    assert answer.returncode == 2, answer.stderr
    assert "config key retention.raw must be at least 1s" in answer.stderr
    assert "Traceback" not in answer.stderr

    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(
        "custom_metrics:\n  users: {sql: 'avg((SELECT count() FROM system.users))'}\n"
    )
    answer = _cli("analyzer", "--once", "--config", str(hostile), "--clickhouse-url", store)
    assert answer.returncode == 2, answer.stderr
    assert "custom metric 'users' is refused: a subquery" in answer.stderr
    assert "Traceback" not in answer.stderr
