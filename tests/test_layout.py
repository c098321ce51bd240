"""sync/ is laid out by job: each package says what lives there and what it may import, the
imports keep to it, and no module reaches into another package's private names."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

SYNC = ROOT / "sync"
# What each package may import from the rest of sync/ (besides itself and sync.settings).
MAY_IMPORT = {
    "writeback": {"systems"},  # pure: no store, no network, no clock
    "store": {"engine", "systems"},  # the served-config identity reads the configured scopes
    "engine": {"store", "systems", "writeback"},
    "report": {"engine", "store", "systems", "writeback"},
    "systems": {"commands", "engine", "writeback"},  # each system's doctor and init hooks
    "serve": {"engine", "store", "systems"},  # webhooks in, syncs out
    "commands": {"engine", "report", "serve", "store", "systems", "writeback"},
}


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every `from sync... import` and `import sync...` in a file."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
    return [(m, n) for m, n in found if m == "sync" or m.startswith("sync.")]


def _package(path: Path) -> str:
    return path.relative_to(SYNC).parts[0].removesuffix(".py")


def test_sync_holds_only_packages_and_settings() -> None:
    loose = sorted(p.name for p in SYNC.glob("*.py"))
    assert loose == ["__init__.py", "settings.py"], loose
    assert set(MAY_IMPORT) == {p.name for p in SYNC.iterdir() if (p / "__init__.py").exists()}


def test_every_package_says_what_lives_there_and_what_it_may_import() -> None:
    for name in MAY_IMPORT:
        doc = ast.get_docstring(ast.parse((SYNC / name / "__init__.py").read_text())) or ""
        assert "May import" in doc or "may import" in doc, f"sync/{name}/__init__.py: {doc!r}"


def test_packages_import_only_what_they_may() -> None:
    wrong = []
    for path in sorted(SYNC.rglob("*.py")):
        pkg = _package(path)
        if pkg not in MAY_IMPORT:
            continue
        for module, names in _imports(path):
            parts = module.split(".")
            target = parts[1] if len(parts) > 1 else (names[0] if names else "")
            if target in ("settings", pkg) or target not in MAY_IMPORT:
                continue
            if target not in MAY_IMPORT[pkg]:
                wrong.append(f"{path.relative_to(ROOT)} imports {module} {names}")
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_another_packages_private_names() -> None:
    wrong = []
    for path in sorted(SYNC.rglob("*.py")):
        pkg = _package(path)
        for module, names in _imports(path):
            parts = module.split(".")
            other = parts[1] if len(parts) > 1 else ""
            private = [n for n in names if n.startswith("_")]
            if private and other != pkg:
                wrong.append(f"{path.relative_to(ROOT)}: {module} {private}")
    assert not wrong, "\n".join(wrong)
