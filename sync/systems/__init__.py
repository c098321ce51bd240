"""The registry of systems: one `SystemSpec` per system (see `spec.py`), in the order runs,
doctor and `--only` list them. Per-system modules (`jira.py`, `github.py`, `notion.py`) hold
what is particular to each; they are the only modules of `sync` that name a system. The rest
of `sync` reads `SYSTEMS` and `get`. `register` adds one (a test's toy system, a plug-in).
May import: connectors, mapping, sync.settings, and for each system's doctor and init hooks
sync.commands (doctor_checks, init), sync.engine.connect and sync.writeback.
"""

from __future__ import annotations

from sync.systems import github, jira, notion
from sync.systems.spec import Annotation, Budget, SystemSpec

__all__ = [
    "SYSTEMS",
    "Annotation",
    "Budget",
    "SystemSpec",
    "budgets",
    "get",
    "names",
    "register",
    "unregister",
]

SYSTEMS: dict[str, SystemSpec] = {s.name: s for s in (jira.SPEC, github.SPEC, notion.SPEC)}


def get(name: str) -> SystemSpec | None:
    """The spec of system `name`, or None when no such system is registered."""
    return SYSTEMS.get(name)


def names() -> list[str]:
    """Every registered system's name, in registry order."""
    return list(SYSTEMS)


def budgets() -> dict[str, Budget]:
    """Each registered system's write budget, by name (what `sync.engine.pacing.Pacer` keeps to)."""
    return {name: spec.budget for name, spec in SYSTEMS.items()}


def register(spec: SystemSpec) -> None:
    """Add (or replace) a system; `unregister` takes it away again."""
    SYSTEMS[spec.name] = spec


def unregister(name: str) -> None:
    SYSTEMS.pop(name, None)
