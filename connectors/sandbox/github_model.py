"""How the GitHub sandbox stores repositories, their pulls and issues, and their comments.

Pulls and issues are one `Item` type (GitHub numbers them in one sequence per repo); a
`Repo` caches its sorted item lists until the next write, because list routes page a lot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Comment", "Item", "Repo"]


@dataclass
class Item:
    id: int
    number: int
    is_pull: bool
    title: str
    body: str | None
    user: str
    state: str
    created: datetime
    updated: datetime
    closed: datetime | None = None
    merged: datetime | None = None
    draft: bool = False
    head: str = "main"
    base: str = "main"
    assignees: list[str] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)  # "org/slug"
    labels: list[str] = field(default_factory=list)
    comments: list[int] = field(default_factory=list)


@dataclass
class Comment:
    id: int
    number: int
    user: str
    body: str
    created: datetime
    updated: datetime
    # (reaction id, login, content, created): one per login and content, as on GitHub
    reactions: list[tuple[int, str, str, datetime]] = field(default_factory=list)


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    created: datetime
    items: dict[int, Item] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)  # lower name -> label
    version: int = 0
    _sorted: dict[tuple[str, bool, int], list[Item]] = field(default_factory=dict)

    @property
    def full(self) -> str:
        return f"{self.owner}/{self.name}"

    def touch(self, item: Item, now: datetime) -> None:
        item.updated = now.replace(microsecond=0)
        self.version += 1

    def ordered(self, sort: str, pulls_only: bool) -> list[Item]:
        """Items sorted ascending by `sort`, cached until the next write (lists page a lot)."""
        key = (sort, pulls_only, self.version)
        if key not in self._sorted:
            self._sorted.clear()
            items = [i for i in self.items.values() if i.is_pull or not pulls_only]
            attr = "updated" if sort == "updated" else "created"
            items.sort(key=lambda i: (getattr(i, attr), i.number))
            self._sorted[key] = items
        return self._sorted[key]
