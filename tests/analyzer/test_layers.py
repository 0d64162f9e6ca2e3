"""The analyzer's layers, checked on its source: every module imports only its own layer and
the layers below it, analyses never import each other, and the store is the only module that
talks to ClickHouse's client library.

Layers, lowest first (``docs/architecture.md``): ``base`` → ``ingest`` and ``inputs`` →
``analyses`` → ``orchestration`` → the outputs (``sql``, ``export``, ``server``, ``web``,
``report``, ``cli``, ``demo``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "analyzer" / "src" / "modeltel" / "analyzer"
OUTPUTS = ("sql", "export", "server", "web", "report", "cli", "demo")
RANK = {"base": 0, "ingest": 1, "inputs": 1, "analyses": 2, "orchestration": 3}
RANK.update({name: 4 for name in OUTPUTS})
CLIENT_LIBRARIES = ("clickhouse_connect", "chdb")
STORE_MODULES = {"base/store.py"}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports, at any depth of its code (TYPE_CHECKING blocks too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _part(path: Path) -> tuple[str, ...]:
    return path.relative_to(PACKAGE).with_suffix("").parts


def _target(name: str) -> tuple[str, ...] | None:
    """The analyzer-relative parts of an imported name (None outside the analyzer)."""
    prefix = "modeltel.analyzer."
    return tuple(name[len(prefix) :].split(".")) if name.startswith(prefix) else None


def _violations() -> list[str]:
    found = []
    for path in _modules():
        here = _part(path)
        layer = here[0] if len(here) > 1 else None  # the package's own __init__ is the façade
        for name in _imports(path):
            if name.split(".")[0] in CLIENT_LIBRARIES:
                if str(path.relative_to(PACKAGE)) not in STORE_MODULES:
                    found.append(f"{'/'.join(here)} imports {name}: only the store may")
                continue
            target = _target(name)
            if target is None or layer is None or target[0] not in RANK:
                continue
            if RANK[target[0]] > RANK[layer]:
                found.append(f"{'/'.join(here)} ({layer}) imports {name} from a higher layer")
            elif (
                layer == "analyses"
                and len(here) > 1
                and here[1] != "__init__"
                and len(target) > 1
                and target[0] == "analyses"
                and target[1] != here[1]
            ):
                found.append(f"{'/'.join(here)} imports {name}: analyses never import each other")
            elif (
                layer in ("ingest", "inputs")
                and target[0] in ("ingest", "inputs")
                and (target[0] != layer)
            ):
                found.append(f"{'/'.join(here)} ({layer}) imports {name} from a sibling layer")
    return sorted(set(found))


def test_every_module_belongs_to_a_layer() -> None:
    top = {p.relative_to(PACKAGE).parts[0] for p in _modules()}
    assert top - set(RANK) == {"__init__.py"}, "every module sits in a layer's package"


def test_modules_import_only_their_layer_and_the_layers_below() -> None:
    assert _violations() == []


@pytest.mark.parametrize(
    "analysis", ["drift", "performance", "quality", "service", "multivariate", "attribution"]
)
def test_an_analysis_is_a_package_that_declares_its_entry(analysis: str) -> None:
    package = PACKAGE / "analyses" / analysis
    assert package.is_dir(), f"{analysis} is a package"
    assert (package / "config.py").exists(), f"{analysis} keeps its settings in config.py"
    assert "ANALYSIS = Analysis(" in (package / "__init__.py").read_text()
