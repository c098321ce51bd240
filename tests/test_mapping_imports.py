"""mapping/ is pure: it imports nothing that does I/O and reads no clock."""

from __future__ import annotations

import ast

import pytest
from conftest import ROOT

FORBIDDEN_MODULES = {
    "os",
    "pathlib",
    "socket",
    "requests",
    "httpx",
    "urllib",
    "http",
    "jira",
    "github",
    "notion_client",
    "sqlite3",
    "sqlite_utils",
    "time",
    "subprocess",
    "shutil",
    "io",
    "tempfile",
    "logging",
    "asyncio",
    "random",
    "sync",
    "tenacity",
    "click",
}
ALLOWED_PROJECT = {"connectors.base", "connectors.errors"}
FORBIDDEN_CALLS = {"open", "print", "input", "exec", "eval", "__import__"}
CLOCK_READS = {"now", "utcnow", "today"}  # on datetime/date: `now` must be a parameter
MODULES = sorted((ROOT / "mapping").rglob("*.py"))


def _imports(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_imports_nothing_that_does_io(path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for name in _imports(tree):
        assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{path.name} imports {name}"
        if name.startswith("connectors"):
            assert name in ALLOWED_PROJECT, f"{path.name} imports {name}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_reads_no_clock_and_opens_nothing(path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in FORBIDDEN_CALLS, f"{path.name} calls {node.func.id}()"
        if isinstance(node, ast.Attribute) and node.attr in CLOCK_READS:
            owner = node.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            assert name not in ("datetime", "date"), f"{path.name}:{node.lineno} reads the clock"


def test_there_are_modules_to_check() -> None:
    assert len(MODULES) >= 8


def test_public_names_are_exported() -> None:
    import mapping

    for name in mapping.__all__:
        assert hasattr(mapping, name), name
