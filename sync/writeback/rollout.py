"""Rollout modes: how loudly findings go out, so that a first install can start quietly.

Pure: no I/O, no clock. `[writeback] mode` says which writes a scope may receive at all
("report-only": none, the findings reach only the report; "labels": labels and properties, no
comment; "comments": everything), and `[writeback.severity]` says per kind of finding whether
it is written back ("fail") or only reported ("warn"). Both can be overridden for one Jira
project, repository or Notion database (`[writeback.scopes."<name>"]`).

`unlinked` is special: in a repository whose pull requests never name a Jira key, every PR
would be "unlinked", and the team clearly does not use that convention. Unless its level is
set explicitly, `unlinked` is only reported ("warn") in a scope where none of the items
names a Jira key (`Store.key_scopes`: its titles, branches, bodies or properties).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from connectors.base import WriteOp
from mapping.finding import Finding

__all__ = ["MODES", "Level", "Mode", "Rollout", "ScopeRollout", "allowed", "written"]

Mode = Literal["report-only", "labels", "comments"]
Level = Literal["warn", "fail"]
MODES: tuple[Mode, ...] = ("report-only", "labels", "comments")

# What each mode lets through; "comments" lets everything through.
_LABEL_ACTIONS = frozenset({"label.add", "label.remove", "property.set", "entity_property.set"})


@dataclass(frozen=True)
class ScopeRollout:
    """One scope's overrides: None / a missing code keeps the workspace's choice."""

    mode: Mode | None = None
    severity: Mapping[str, Level] = field(default_factory=dict)


@dataclass(frozen=True)
class Rollout:
    """`[writeback] mode`, `severity` and `scopes`, as the plan reads them."""

    mode: Mode = "comments"
    severity: Mapping[str, Level] = field(default_factory=dict)  # a missing code is "fail"
    scopes: Mapping[str, ScopeRollout] = field(default_factory=dict)

    def mode_for(self, scope: str) -> Mode:
        own = self.scopes.get(_name(scope))
        return own.mode if own is not None and own.mode is not None else self.mode

    def level(self, code: str, scope: str, *, convention: bool = True) -> Level:
        """Whether findings of `code` on items of `scope` are written back or only reported."""
        own = self.scopes.get(_name(scope))
        if own is not None and code in own.severity:
            return own.severity[code]
        if code in self.severity:
            return self.severity[code]
        if code == "unlinked" and not convention:
            return "warn"  # a repository with no key convention: PRs are not meant to link
        return "fail"


def _name(scope: str) -> str:
    # Items and writes carry the scope's key ("<system>:<name>"); settings name the scope.
    return scope.partition(":")[2] if ":" in scope else scope


def written(
    findings: Sequence[Finding], scope: str, rollout: Rollout, *, convention: bool = True
) -> tuple[Finding, ...]:
    """The findings written back on an item of `scope`; the others reach only the report."""
    return tuple(
        f for f in findings if rollout.level(f.code, scope, convention=convention) == "fail"
    )


def allowed(ops: Iterable[WriteOp], rollout: Rollout) -> list[WriteOp]:
    """The writes the mode of each op's scope lets through."""
    kept = []
    for op in ops:
        mode = rollout.mode_for(op.scope)
        if mode == "comments" or (mode == "labels" and op.action in _LABEL_ACTIONS):
            kept.append(op)
    return kept
