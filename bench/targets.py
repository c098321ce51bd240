"""Issue 13's request targets as formulas over a workspace, shared by the request-count tests
(tests/test_request_counts.py) and the benchmark's table (bench/run.py), so both hold the
engine to the same numbers and neither copies figures from a run.

A run's requests are grouped by (system, kind): kind is 'list' (a page of a scope's pull),
'comments' (a page of a batched comment list: GitHub's repository-wide issue comments),
'lookup' (one item's comments), 'const' (who we are, fields, users, groups, a database's data
source) or 'write' (any write).

The page floor of a full sync: per scope ceil(items / 100) list pages (at least 1), plus per
GitHub repository ceil(its comments / 100) pages of the repository-wide comment list (at least
1: the design finds GitHub comments there), plus the constant reads FIRST_CONSTANTS. A later
run reads that comment list only in repositories with changes past the cursor.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from bench import measure as m

__all__ = [
    "FIRST_CONSTANTS",
    "KINDS",
    "PER_RUN_CONSTANTS",
    "by_kind",
    "comment_pages",
    "expect_first",
    "expect_quiet",
    "first_sync_read_limit",
    "floor_by_system",
    "list_pages",
    "page_floor",
    "pages",
    "scope_items",
]

KINDS = ("list", "comments", "lookup", "const", "write")
SYSTEMS = ("jira", "github", "notion")

# Constant reads of a first sync (empty state), per system. Jira: serverInfo (the jira
# library's constructor: its deploymentType selects /search/jql), /myself (the account's time
# zone for JQL dates), /field (custom field ids), one page of users, one of groups. GitHub:
# /user (who we are). Notion: /users/me, one page of /users; plus one /databases/{id} per
# database for its data source id (added by `constants`).
FIRST_CONSTANTS = {"jira": 5, "github": 1, "notion": 2}
# Constant reads of every later run within the cache's time-to-live: fields, users, groups, who
# we are and Notion's data source ids come from the store (issue 13, "constant reads cached");
# the jira library's constructor still asks for serverInfo.
PER_RUN_CONSTANTS = {"jira": 1, "github": 0, "notion": 0}
NOTION_CONSTANT_PER_DATABASE = 1  # a first sync's data source lookups


def pages(n: int) -> int:
    """List pages for `n` entries at the maximum page size: at least one (an empty answer)."""
    return max(1, math.ceil(n / m.PAGE_SIZE))


def scope_items(ws: Mapping[str, Any]) -> dict[str, int]:
    """Items per scope key ('jira:EXP', 'github:acme/web', 'notion:<database id>')."""
    out: dict[str, int] = {}
    for issue in ws["jira"]["issues"]:
        key = "jira:" + issue["key"].split("-", 1)[0]
        out[key] = out.get(key, 0) + 1
    out.update({f"github:{r}": len(v["pulls"]) for r, v in ws["github"]["repos"].items()})
    out.update({f"notion:{d['id']}": len(d["pages"]) for d in ws["notion"]["databases"]})
    return out


def _databases(ws: Mapping[str, Any]) -> int:
    return len(ws["notion"]["databases"])


def constants(ws: Mapping[str, Any], first: bool) -> dict[str, int]:
    if not first:
        return dict(PER_RUN_CONSTANTS)
    out = dict(FIRST_CONSTANTS)
    out["notion"] += NOTION_CONSTANT_PER_DATABASE * _databases(ws)
    return out


def list_pages(scopes: Mapping[str, int], changed: Mapping[str, int] | None = None,
               ) -> dict[str, int]:
    """List pages per system: per scope the pages that hold `changed[scope]` items (all items
    when `changed` is None, a full read), at least one per scope."""
    out = dict.fromkeys(SYSTEMS, 0)
    for key, n in scopes.items():
        system = key.split(":", 1)[0]
        out[system] += pages(n if changed is None else changed.get(key, 0))
    return out


def comment_pages(ws: Mapping[str, Any], since_counts: Mapping[str, int] | None = None) -> int:
    """Pages of GitHub's repository-wide comment list. A first sync (`since_counts` None)
    reads every repository's whole list (at least one page each); a later run reads the list
    since the cursor only in a repository where something changed past it, the pages holding
    `since_counts[repo]` comments (at least one), and nothing elsewhere."""
    total = 0
    for repo, v in ws["github"]["repos"].items():
        if since_counts is None:
            total += pages(sum(len(p.get("comments") or []) for p in v["pulls"]))
        elif since_counts.get(repo, 0) > 0:
            total += pages(since_counts[repo])
    return total


def _inline_truncated(ws: Mapping[str, Any]) -> int:
    """Jira issues whose comments do not fit the page the search returns inline: only these
    need a comment read of their own."""
    cap = int((ws.get("jira") or {}).get("comment_page_max", 5000))
    return sum(1 for i in ws["jira"]["issues"] if len(i.get("comments") or []) > cap)


def _notion_marked(ws: Mapping[str, Any]) -> int:
    """Notion pages whose "Handoff check" property already shows we wrote there."""
    return sum(
        1 for d in ws["notion"]["databases"] for p in d["pages"]
        if (p.get("properties") or {}).get("Handoff check")
    )


def floor_by_system(ws: Mapping[str, Any]) -> dict[str, int]:
    """The page floor per system: the reads a full sync cannot do without."""
    out = list_pages(scope_items(ws))
    out["github"] += comment_pages(ws)
    for system, n in constants(ws, first=True).items():
        out[system] += n
    return out


def page_floor(ws: Mapping[str, Any]) -> int:
    """List pages + GitHub comment pages + constant reads of a full sync (see the module)."""
    return (sum(list_pages(scope_items(ws)).values()) + comment_pages(ws)
            + sum(constants(ws, first=True).values()))


def first_sync_read_limit(ws: Mapping[str, Any]) -> float:
    """Issue 13: first-sync reads <= 1.10 x (page floor + constant reads) + the Notion pages
    that already carry our property."""
    return 1.10 * page_floor(ws) + _notion_marked(ws)


def expect_first(ws: Mapping[str, Any]) -> Counter[tuple[str, str]]:
    """Reads of a first sync on an empty state, by (system, kind); writes are checked apart."""
    want: Counter[tuple[str, str]] = Counter()
    for system, n in list_pages(scope_items(ws)).items():
        want[(system, "list")] = n
    want[("github", "comments")] = comment_pages(ws)
    want[("jira", "lookup")] = _inline_truncated(ws)
    want[("notion", "lookup")] = _notion_marked(ws)
    for system, n in constants(ws, first=True).items():
        want[(system, "const")] = n
    return +want


def expect_quiet(ws: Mapping[str, Any], changed: Mapping[str, int] | None = None,
                 notion_lookups: int = 0) -> Counter[tuple[str, str]]:
    """Reads of a later run: per scope the pages holding its changed items (at least one);
    in each repository with changed items, the pages of GitHub's comment list since the cursor
    (at most one comment of ours per changed item); no per-item comment reads but
    `notion_lookups` (pages a person changed that carry our property); the constants that
    are not cached."""
    changed = changed or {}
    want: Counter[tuple[str, str]] = Counter()
    for system, n in list_pages(scope_items(ws), changed).items():
        want[(system, "list")] = n
    repos = {repo: changed.get(f"github:{repo}", 0) for repo in ws["github"]["repos"]}
    want[("github", "comments")] = comment_pages(ws, repos)
    want[("notion", "lookup")] = notion_lookups
    for system, n in constants(ws, first=False).items():
        want[(system, "const")] = n
    return +want


def by_kind(entries: Iterable[Any]) -> Counter[tuple[str, str]]:
    """The sandbox's request log as counts by (system, kind), every write as 'write'."""
    out: Counter[tuple[str, str]] = Counter()
    for e in entries:
        kind = m.classify(e.service, e.method, e.path, e.write)
        out[(e.service, "write" if e.write else kind)] += 1
    return out


def reads(counts: Mapping[tuple[str, str], int]) -> int:
    return sum(n for (_, kind), n in counts.items() if kind != "write")
