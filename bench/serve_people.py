"""The people of the webhook benchmark (bench/serve_latency.py): edits a person makes through
each service's API, and how the benchmark sees our comment change in the sandbox's own state.

Each edit makes or clears a finding on the item it touches (of a record not closed: the rules
leave closed ones alone), so our comment on that item must change: a Jira issue's outcome owner
set to a person who left (ownerless) and back; a pull request's body naming a Jira key whose
brief is empty (it joins that record) and back; a Notion brief's outcome owner set to a person
who left (ownerless, and a conflict with Jira) and back. The person's requests carry their own
User-Agent, so the request counts leave them out: they are the change, not the service's cost.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from connectors.sandbox import JIRA_EMAIL, Sandbox

__all__ = ["PERSON_AGENT", "Edit", "add_person", "comments_of", "plan_edits"]

PERSON_AGENT = "handoff-bench-person/1"  # the sandbox's log keeps it: how counts skip us
# The person's own credentials: their edits spend their own rate limits, not the service's
# (with the bot's token, a burst of edits met GitHub's secondary limit meant for the service).
PERSON = {"jira": "bench-person-jira", "github": "bench-person-github",
          "notion": "bench-person-notion"}  # fmt: skip
_JIRA_OWNER = "customfield_10052"  # "Outcome owner" in the generated workspace
_TIMEOUT = 30


@dataclass
class Edit:
    """One person's change: `apply()` sends it; `item` is what our comment must change on."""

    system: str
    item: str  # jira key, "owner/repo#n", or a Notion page id
    label: str
    apply: Callable[[], None]
    undo: Edit | None = field(default=None, repr=False)


def comments_of(sb: Sandbox, system: str, item: str) -> str:
    """Every comment on one item as the sandbox holds it (no request, so measuring adds none
    to the counts): its change is the moment a person would see our comment change."""
    with sb.lock:
        if system == "jira":
            issue = sb.jira.issues[sb.jira.by_key[item]]
            return repr([(c.get("id"), c.get("body")) for c in issue["comments"]])
        if system == "github":
            repo, _, number = item.partition("#")
            r = sb.github.repos[repo]
            it = r.items[int(number)]
            return repr([(c, r.comments[c].body) for c in it.comments if c in r.comments])
        return repr(sb.notion.pages[item].comments)


def add_person(ws: dict[str, Any]) -> None:
    """Give the workspace the person's own tokens (GitHub: a person's login, not the bot's)."""
    ws["tokens"] = {system: {**tokens, **({PERSON[system]: "write"} if system in PERSON else {})}
                    for system, tokens in ws["tokens"].items()}  # fmt: skip
    human = ws["people"][0]["github_login"]
    logins = dict(ws["github"].get("token_logins") or {"sandbox-github-write": "handoff-bot"})
    ws["github"]["token_logins"] = {**logins, PERSON["github"]: human}


def _send(method: str, url: str, **kw: Any) -> None:
    headers = {"User-Agent": PERSON_AGENT, **kw.pop("headers", {})}
    resp = requests.request(method, url, headers=headers, timeout=_TIMEOUT, **kw)
    if resp.status_code >= 300:
        raise RuntimeError(f"the person's edit failed: {method} {url}: {resp.status_code} "
                           f"{resp.text[:300]}")


def _jira(sb: Sandbox, key: str, account: str) -> Callable[[], None]:
    return lambda: _send("PUT", f"{sb.url}/rest/api/2/issue/{key}",
                         auth=(JIRA_EMAIL, PERSON["jira"]),
                         json={"fields": {_JIRA_OWNER: {"accountId": account}}})


def _github(sb: Sandbox, repo: str, number: int, body: str) -> Callable[[], None]:
    return lambda: _send("PATCH", f"{sb.url}/api/v3/repos/{repo}/issues/{number}",
                         headers={"Authorization": f"token {PERSON['github']}"},
                         json={"body": body})


def _notion(sb: Sandbox, page: str, user: str) -> Callable[[], None]:
    return lambda: _send("PATCH", f"{sb.url}/v1/pages/{page}",
                         headers={"Authorization": f"Bearer {PERSON['notion']}",
                                  "Notion-Version": "2025-09-03"},
                         json={"properties": {"Outcome owner": {"people": [{"id": user}]}}})


def _pair(system: str, item: str, what: str, make: Callable[[], None],
          clear: Callable[[], None]) -> Edit:
    back = Edit(system, item, f"{system}: {what} undone", clear)
    return Edit(system, item, f"{system}: {what}", make, back)


def _jira_edits(sb: Sandbox, ws: dict[str, Any], rng: random.Random, n: int) -> list[Edit]:
    left = next(p for p in ws["people"] if not p["active"])
    by_key = {p["key"]: p for p in ws["people"]}
    issues = [i for i in ws["jira"]["issues"]
              if by_key[i["fields"]["Outcome owner"]]["active"] and i["status"] != "Done"]
    out = []
    for issue in rng.sample(issues, n):
        owner = by_key[issue["fields"]["Outcome owner"]]["jira_account_id"]
        out.append(_pair("jira", issue["key"], f"outcome owner of {issue['key']} left",
                         _jira(sb, issue["key"], left["jira_account_id"]),
                         _jira(sb, issue["key"], owner)))
    return out


def _github_edits(sb: Sandbox, ws: dict[str, Any], rng: random.Random, n: int) -> list[Edit]:
    # A brief with no section at all: its record has findings whatever its stage.
    empty = [i["key"] for i in ws["jira"]["issues"]
             if "h2." not in i["description"] and i["status"] != "Done"]
    pulls = [(repo, p) for repo, r in ws["github"]["repos"].items() for p in r["pulls"]
             if p["title"].startswith("Fix flaky test")]
    out = []
    for (repo, pull), key in zip(rng.sample(pulls, n), rng.sample(empty, n), strict=True):
        item = f"{repo}#{pull['number']}"
        out.append(_pair("github", item, f"body of {item} names {key}",
                         _github(sb, repo, pull["number"], f"Part of {key}.\n\n{pull['body']}"),
                         _github(sb, repo, pull["number"], pull["body"])))
    return out


def _notion_edits(sb: Sandbox, ws: dict[str, Any], rng: random.Random, n: int) -> list[Edit]:
    left = next(p for p in ws["people"] if not p["active"])
    pages = [p for db in ws["notion"]["databases"] for p in db["pages"]
             if "Jira issue" in p["properties"] and p["properties"]["Status"] != "Done"
             and p["properties"]["Outcome owner"] != [left["notion_user_id"]]]
    out = []
    for page in rng.sample(pages, n):
        owner = page["properties"]["Outcome owner"][0]
        out.append(_pair("notion", page["id"], f"outcome owner of '{page['title']}' left",
                         _notion(sb, page["id"], left["notion_user_id"]),
                         _notion(sb, page["id"], owner)))
    return out


def plan_edits(sb: Sandbox, changes: int, seed: int) -> list[Edit]:
    """`changes` edits, the three systems in turn, each item's edit later undone (so half of
    them make a finding and half clear one); distinct items, chosen by `seed`."""
    rng = random.Random(seed)
    pairs = 3 * -(-changes // 6)  # whole groups of three systems
    per = pairs // 3
    ws = sb.workspace
    kinds = [_jira_edits(sb, ws, rng, per), _github_edits(sb, ws, rng, per),
             _notion_edits(sb, ws, rng, per)]
    made = [kinds[i % 3][i // 3] for i in range(pairs)]
    out: list[Edit] = []
    for i in range(0, len(made), 3):  # three items changed, then the three put back
        group = made[i:i + 3]
        out += group + [e.undo for e in group if e.undo is not None]
    return out[:changes]
