"""Where a system is named in `sync/`: only the registry and the per-system modules say
"jira", "github" or "notion"; everything else reads `sync.systems`. A quoted name elsewhere is
a per-system branch a fourth system would have to edit."""

from __future__ import annotations

import re

from conftest import ROOT

NAMED = re.compile(r"""["'](jira|github|notion)["']""")
# The registry's per-system modules: the one place each system is declared (each says its
# name once, as NAME; its doctor module and the rest of `sync` import it or read the registry).
ALLOWED = {"sync/systems/jira.py", "sync/systems/github.py", "sync/systems/notion.py"}


def _named_in_sync() -> dict[str, int]:
    found: dict[str, int] = {}
    for path in sorted((ROOT / "sync").rglob("*.py")):
        hits = len(NAMED.findall(path.read_text(encoding="utf-8")))
        if hits:
            found[path.relative_to(ROOT).as_posix()] = hits
    return found


def test_system_names_appear_only_in_the_registry_and_per_system_modules() -> None:
    found = _named_in_sync()
    outside = {p: n for p, n in found.items() if p not in ALLOWED}
    assert outside == {}, f"quoted system names outside sync/systems/*: {outside}"


def test_each_per_system_module_names_only_its_own_system() -> None:
    for path in sorted(ALLOWED):
        text = (ROOT / path).read_text(encoding="utf-8")
        own = path.rsplit("/", 1)[1].removesuffix(".py")
        assert NAMED.findall(text) == [own], path


def test_the_check_sees_a_quoted_name() -> None:
    assert NAMED.findall('x = "jira"; y = \'notion\'; z = "github-md"') == ["jira", "notion"]
