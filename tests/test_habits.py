"""What keeps the project easy to change: the README's map matches the code, one version is
named everywhere it is named, and the checks before a commit are CI's."""

from __future__ import annotations

import re
from pathlib import Path

import syncer

ROOT = Path(__file__).resolve().parents[1]


def _section(markdown: str, title: str) -> str:
    start = markdown.index(f"\n## {title}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end >= 0 else None]


def test_the_readme_layout_names_every_module_and_nothing_that_is_gone() -> None:
    layout = _section((ROOT / "README.md").read_text(), "Layout")
    named = set(re.findall(r"`([\w/.]+\.py)`", layout))
    packages = {p.rstrip("/") for p in re.findall(r"`((?:syncer/)?\w+/)`", layout)}
    for path in sorted((ROOT / "syncer").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if path.name == "__init__.py" and relative != "syncer/__init__.py":
            continue
        parent = path.parent.relative_to(ROOT).as_posix()
        in_package_row = parent in packages and path.name in named
        assert relative in named or in_package_row or relative == "syncer/__init__.py", relative
    for name in named:
        candidates = [ROOT / name, *(ROOT / package / name for package in packages)]
        assert any(c.exists() for c in candidates), f"the Layout names {name}, which is gone"


def test_the_architecture_sketch_names_what_the_code_calls_so() -> None:
    sketch = _section((ROOT / "README.md").read_text(), "Architecture")
    source = "\n".join(p.read_text() for p in (ROOT / "syncer").rglob("*.py"))
    source += (ROOT / "sql" / "queries.sql").read_text()
    for name in re.findall(r"\b(?:Vendor|Store|VendorClient)\.(\w+)", sketch):
        assert f"def {name}(" in source, name
    for name in ("read_desired_page", "read_desired_rows", "SeenBatch", "PageRow", "Settled"):
        assert name in sketch and name in source, name


def test_one_version_the_changelog_names() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    top = re.search(r"^## (\d+\.\d+\.\d+)", changelog, re.MULTILINE)
    assert top is not None
    assert syncer.__version__.startswith(top[1])
    assert 'dynamic = ["version"]' in (ROOT / "pyproject.toml").read_text()


def test_the_checks_before_a_commit_are_cis() -> None:
    hooks = (ROOT / ".pre-commit-config.yaml").read_text()
    dev = (ROOT / "dev.py").read_text()
    for tool in ("ruff check", "ruff format", "mypy"):
        assert f".venv/bin/{tool}" in hooks, tool
    assert '"ruff", "check"' in dev and '"ruff", "format", "--check"' in dev and '"mypy"' in dev
