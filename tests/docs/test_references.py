"""The repository is self-contained: no tracked file sends its reader to a document outside it,
and every ``docs/`` page a module's docstring names exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

OUTSIDE = ("shared" + "/", "DESIGN" + ".md")  # split so that this file does not match itself
DOCS_PAGE = re.compile(r"\bdocs/([a-z_]+\.md)\b")


def tracked(repo_root: Path) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files"], cwd=repo_root, capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


def test_no_tracked_file_refers_to_a_document_outside_the_repository(repo_root: Path) -> None:
    found = subprocess.run(
        ["git", "grep", "-n", "-F", *(a for p in OUTSIDE for a in ("-e", p))],
        cwd=repo_root,
        capture_output=True,
        text=True,
    )
    assert found.returncode == 1, found.stdout  # 1: nothing matched


def test_the_docs_pages_named_in_the_code_exist(repo_root: Path) -> None:
    named: dict[str, set[str]] = {}
    for path in tracked(repo_root):
        if path.endswith(".py") and (repo_root / path).is_file():
            for page in DOCS_PAGE.findall((repo_root / path).read_text(encoding="utf-8")):
                named.setdefault(page, set()).add(path)
    assert {"attributes.md", "tables.md", "metrics.md"} <= set(named)
    missing = {
        page: sorted(paths)
        for page, paths in named.items()
        if not (repo_root / "docs" / page).is_file()
    }
    assert not missing


DOTTED = re.compile(r"\bmodeltel\.(?:analyzer|instrumentation)(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def _resolves(name: str) -> bool:
    """Whether ``name`` is a module, or an attribute path inside one."""
    import importlib

    parts = name.split(".")
    for cut in range(len(parts), 1, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


def test_every_module_the_documentation_names_exists(repo_root: Path) -> None:
    """Dotted names are modules or their attributes, except the OTel instrument names of the
    analyzer's own metrics (``modeltel.analyzer.cycles`` …), which the Prometheus names beside
    them (``modeltel_analyzer_cycles_total``) mark."""
    pages = [repo_root / "README.md", *sorted((repo_root / "docs").glob("*.md"))]
    named = set()
    for page in pages:
        text = page.read_text()
        named |= {m for m in DOTTED.findall(text) if m.replace(".", "_") not in text}
    assert named, "the documentation names modules"
    assert sorted(n for n in named if not _resolves(n)) == []
