"""Small pieces (issue 12): no module in connectors/, mapping/ or sync/ over 400 lines (the
sandbox included) and no function over 60, so each file keeps to one job a reader can hold."""

from __future__ import annotations

import ast

from conftest import ROOT

PACKAGES = ("connectors", "mapping", "sync")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

def _modules() -> list[tuple[str, str]]:
    """(path from the root, text) of every module checked."""
    return [
        (path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8"))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    ]


def test_no_module_is_over_the_limit() -> None:
    long = [
        f"{name}: {len(text.splitlines())} lines"
        for name, text in _modules()
        if len(text.splitlines()) > MAX_MODULE_LINES
    ]
    assert not long, f"over {MAX_MODULE_LINES} lines; split by job:\n" + "\n".join(long)


def test_no_function_is_over_the_limit() -> None:
    long = []
    for name, text in _modules():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_FUNCTION_LINES:
                    long.append(f"{name}:{node.lineno} {node.name}: {size} lines")
    assert not long, f"over {MAX_FUNCTION_LINES} lines; extract helpers:\n" + "\n".join(long)

