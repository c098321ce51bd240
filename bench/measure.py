"""What the benchmark counts in the sandbox's request log, and the floors it compares against.

Every request is put in one class: a list page of a pull, a page of a batched comment list, a
marker lookup (one item's comments), a constant (people, fields, who-am-I, database lookups),
or a write by kind. The page floor is defined in bench/targets.py.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "PAGE_SIZE",
    "RATES",
    "Tally",
    "classify",
    "read_bound",
    "tally",
]

PAGE_SIZE = 100  # the maximum page size of all three list calls (Jira /search/jql with fields)
# Sustained request rates (per second) that the sandbox enforces like the real services:
# Notion ~3/s; GitHub 900 points/min for reads (15/s) and 80 content-creating writes/min;
# Jira publishes no fixed rate: the sandbox's burst window allows 20/s.
RATES = {"jira": 20.0, "github": 15.0, "notion": 3.0}
BURSTS = {"jira": 20, "github": 900, "notion": 9}  # requests the limits let through at once
# Requests that must answer before a scope's first page: Jira serverInfo (the client's
# constructor) then /field (the library's first search asks for it); a Notion database's data
# source id. GitHub's pull list needs nothing first.
CHAIN_BEFORE = {"jira": 2, "github": 0, "notion": 1}

_LIST = re.compile(r"/search/jql$|/repos/[^/]+/[^/]+/(pulls|issues)$|/data_sources/[^/]+/query$")
# GitHub's repository-wide issue comment list (`since=`): comments found in batches.
_COMMENT_PAGES = re.compile(r"/repos/[^/]+/[^/]+/issues/comments$")
_LOOKUP = re.compile(r"/issue/[^/]+/comment$|/issues/\d+/comments$|^/v1/comments$")
_COMMENT = re.compile(r"/comments?(/[^/]+)?$")
_LABEL = re.compile(r"/issues/\d+/labels|/rest/api/\d/issue/[^/]+$")


def classify(service: str, method: str, path: str, write: bool) -> str:
    """'list' (a page of a pull), 'comments' (a page of a batched comment list), 'lookup' (one
    item's comments), 'const', or the kind of write: comment.create, comment.update, label,
    property, other.write."""
    if not write:
        if _LIST.search(path):
            return "list"
        if method == "GET" and _COMMENT_PAGES.search(path):
            return "comments"
        if method == "GET" and _LOOKUP.search(path):
            return "lookup"
        return "const"
    if _COMMENT.search(path) and "/labels" not in path:
        return "comment.create" if method == "POST" else "comment.update"
    if _LABEL.search(path):
        return "label"
    if service == "notion" and method == "PATCH" and "/pages/" in path:
        return "property"
    return "other.write"


@dataclass
class Tally:
    """Requests of one run, by class and by system; `scopes` counts list pages per scope."""

    by_class: Counter[str] = field(default_factory=Counter)
    by_system: Counter[str] = field(default_factory=Counter)
    reads_by_system: Counter[str] = field(default_factory=Counter)
    writes_by_system: Counter[str] = field(default_factory=Counter)
    lookups_by_system: Counter[str] = field(default_factory=Counter)
    throttled: int = 0  # 429 / 403 answers (rate limits), each retried
    total: int = 0

    @property
    def reads(self) -> int:
        return sum(self.reads_by_system.values())

    @property
    def writes(self) -> int:
        return sum(self.writes_by_system.values())

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "reads": self.reads, "writes": self.writes,
                "throttled": self.throttled, "by_class": dict(self.by_class),
                "by_system": dict(self.by_system)}


def tally(entries: Iterable[Any]) -> Tally:
    t = Tally()
    for e in entries:
        kind = classify(e.service, e.method, e.path, e.write)
        t.total += 1
        t.by_class[kind] += 1
        t.by_system[e.service] += 1
        if e.status in (429, 403):
            t.throttled += 1
        if e.write:
            t.writes_by_system[e.service] += 1
        else:
            t.reads_by_system[e.service] += 1
            if kind == "lookup":
                t.lookups_by_system[e.service] += 1
    return t


def read_bound(
    scope_items: Mapping[str, int], reads: Mapping[str, int], latency: float
) -> dict[str, dict[str, float]]:
    """Per system, the least wall time of a full read: the longest chain of dependent requests
    (one scope's pages, plus the requests that must come before them: CHAIN_BEFORE) times the
    latency when scopes run concurrently, or all pages in a row when they do not; and the
    requests beyond the limit's burst over its sustained rate."""
    chains: dict[str, list[int]] = {}
    for key, n in scope_items.items():
        system = key.split(":", 1)[0]
        chain = max(1, math.ceil(n / PAGE_SIZE)) + CHAIN_BEFORE.get(system, 0)
        chains.setdefault(system, []).append(chain)
    out = {}
    for system, pages in chains.items():
        out[system] = {
            "concurrent": latency * max(pages),
            "sequential": latency * sum(pages),
            "rate": max(0, reads.get(system, 0) - BURSTS[system]) / RATES[system],
        }
    return out
