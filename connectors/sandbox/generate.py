"""Large synthetic workspaces for scale tests and benchmarks: `generate_workspace(100_000)`.

Items split 40% Jira issues (four projects), 40% pull requests (four repos), 20% Notion pages
(two databases), linked the way teams link them: most PRs name a Jira key in the title and
branch, most Notion briefs name the issue in a url property. About 60% of handoffs are
complete; the rest miss fields, owners, decisions or verification, or disagree across systems,
so findings land on a fraction of records, as in a real workspace.

Built for speed (100,000 items in about a second): descriptions and PR bodies come from a
few prebuilt variants shared by reference, people and options are drawn by index, and the
only per-item work is a small dict and a timestamp. Deterministic for a given `seed` and `now`.
"""

from __future__ import annotations

import gc
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from .workspace import DEFAULT_TOKENS

__all__ = ["PROJECTS", "REPOS", "generate_workspace"]

PROJECTS = ("EXP", "GRO", "PAY", "ONB")
REPOS = ("acme/checkout", "acme/web", "acme/mobile", "acme/platform")
DATABASES = ("Experiment briefs", "Feature handoffs")
PEOPLE = 60
_ZONES = (
    "America/Los_Angeles", "America/New_York", "America/Sao_Paulo", "Europe/Lisbon",
    "Europe/Berlin", "Africa/Lagos", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo",
    "Australia/Sydney", "Pacific/Auckland",
)
_FIRST = ("Ana", "Ben", "Chloé", "Dev", "Emi", "Finn", "Grace", "Hugo", "Isla", "Jon", "Kai",
          "Maya", "Noor", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma")
_LAST = ("Lima", "Okafor", "Martin", "Patel", "Tanaka", "Murphy")
_METRICS = ("checkout conversion", "average order value", "day-7 activation",
            "repeat purchase rate", "search-to-cart rate", "plan upgrade rate")
_STATUSES = (("To Do", 20), ("Selected for Development", 15), ("In Progress", 40),
             ("In Review", 10), ("Done", 15))
_NOTION_STATUS = {"To Do": "Design", "Selected for Development": "Pre-run",
                  "In Progress": "Running", "In Review": "Analysis", "Done": "Done"}
_SECTIONS = {
    "Hypothesis": "Changing the step lifts the primary metric by 2%.",
    "Guardrail metrics": "* refund rate\n* p95 latency",
    "Sample size": "30,000 sessions per arm.",
    "Rollout triggers": "50% after 3 days inside guardrails.",
    "Rollback triggers": "Error rate above 1% for 30 minutes.",
    "Instrumentation": "* [x] exposure event\n* [x] Instrumentation verified",
    "Alert window": "09:00-17:00 owner's time",
    "Definition of done": "Decision posted, flag removed.",
    "Test rollout plan": "Staff, then 5%, then 50%.",
    "Decision log": "2026-01-05 go: agreed at the pre-run sync",
}
# (weight, sections left out, sections replaced): the description variants.
_VARIANTS: tuple[tuple[int, tuple[str, ...], dict[str, str]], ...] = (
    (60, (), {}),
    (8, ("Decision log",), {}),
    (6, (), {"Instrumentation": "* [ ] exposure event\n* [ ] Instrumentation verified"}),
    (6, ("Guardrail metrics", "Sample size"), {}),
    (5, (), {"Rollback triggers": "TBD"}),
    (5, (), {"Rollout triggers": "All regions at once."}),
    (6, tuple(k for k in _SECTIONS if k != "Hypothesis"), {}),
    (4, tuple(_SECTIONS), {}),
)


def _description(left_out: tuple[str, ...], replaced: dict[str, str]) -> str:
    parts = ["Experiment brief."]
    for heading, text in _SECTIONS.items():
        if heading not in left_out:
            parts.append(f"h2. {heading}\n{replaced.get(heading, text)}")
    return "\n".join(parts)


_DESCRIPTIONS = [_description(out, rep) for _, out, rep in _VARIANTS]
_DESCRIPTION_WEIGHTS = [w for w, _, _ in _VARIANTS]
_BODIES = [
    "Implements the change behind its flag.\n\n## Rollback trigger\nFlag off on errors above 1%."
    "\n\n## Checklist\n- [x] Instrumentation verified",
    "Implements the change behind its flag.\n\n## Rollback trigger\nFlag off on errors above 1%."
    "\n\n## Checklist\n- [ ] Instrumentation verified",
    "Implements the change.",
]
_BODY_WEIGHTS = [75, 10, 15]


def _people(rng: random.Random) -> list[dict[str, Any]]:
    people = []
    for i in range(PEOPLE):
        first, last = _FIRST[i % len(_FIRST)], _LAST[(i // len(_FIRST)) % len(_LAST)]
        key = f"{first.lower().replace('é', 'e')}{i}"
        people.append({
            "key": key,
            "name": f"{first} {last}",
            "email": f"{key}@acme.example",
            "jira_account_id": f"6{rng.getrandbits(92):023x}",
            "github_login": f"{key}-gh",
            "notion_user_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "time_zone": _ZONES[i % len(_ZONES)],
            "active": i % 20 != 7,  # one in twenty has left
        })
    return people


# What a linked PR or brief repeats of its issue: key, outcome owner, cost cap, review date,
# status, engineering owner.
_Facts = tuple[str, str, int, str, str, str]


def _recent(u: float) -> int:
    """Minutes since the last edit: most items moved this week, a long tail up to 30 days."""
    return int(u**4 * 30 * 24 * 60)


class _Clock:
    """ISO timestamps of `now` minus a number of minutes, formatted once per distinct value."""

    def __init__(self, now: datetime) -> None:
        self.now = now.astimezone(UTC).replace(second=0, microsecond=0)
        self._cache: dict[int, str] = {}

    def ago(self, minutes: int) -> str:
        text = self._cache.get(minutes)
        if text is None:
            text = (self.now - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
            self._cache[minutes] = text
        return text

    def date(self, days: int) -> str:
        return (self.now + timedelta(days=days)).date().isoformat()


def _issues(n: int, rng: random.Random, people: list[dict[str, Any]], clock: _Clock,
            ) -> tuple[list[dict[str, Any]], list[_Facts]]:
    """Jira issues, and per issue what linked items repeat (key, owners, cap, date, status)."""
    keys = [p["key"] for p in people]
    dates = [clock.date(d) for d in range(-5, 91)]
    statuses = [s for s, w in _STATUSES for _ in range(w)]
    descriptions = rng.choices(range(len(_DESCRIPTIONS)), _DESCRIPTION_WEIGHTS, k=n)
    numbers = dict.fromkeys(PROJECTS, 0)
    labels: tuple[list[str], ...] = (
        *[["speed:fast", "cost:low", "risk:low"]] * 4,
        *[["speed:slow", "cost:low", "risk:medium"]] * 3,
        ["risk:high"], ["speed:fast"], [],
    )
    issues, facts = [], []
    rand = rng.random
    for i in range(n):
        project = PROJECTS[i % len(PROJECTS)]
        numbers[project] += 1
        key = f"{project}-{numbers[project]}"
        r = int(rand() * 1_000_000)
        owner, eng = keys[r % PEOPLE], keys[(r // 7) % PEOPLE]
        cap = 250 * (1 + r % 40) if r % 10 else 60_000  # one in ten above the approval tier
        status = statuses[r % 100]
        review = dates[(r // 13) % len(dates)]
        fields: dict[str, Any] = {
            "Primary metric": _METRICS[r % len(_METRICS)],
            "Cost cap": cap,
            "Outcome owner": owner,
            "Cost cap approver": keys[(r // 11) % PEOPLE],
            "Review date": review,
            "Feature flag": f"flag_{key.lower()}",
            "Expected duration": "2 weeks",
        }
        if r % 17:
            fields["Monitoring owner"] = keys[(r // 3) % PEOPLE]
        updated = _recent(rand())
        issues.append({
            "key": key,
            "summary": f"{_METRICS[r % len(_METRICS)].capitalize()} experiment {key}",
            "status": status,
            "assignee": eng,
            "reporter": owner,
            "labels": labels[r % len(labels)],
            "created": clock.ago(updated + 20_160),
            "updated": clock.ago(updated),
            "description": _DESCRIPTIONS[descriptions[i]],
            "fields": fields,
        })
        facts.append((key, owner, cap, review, status, eng))
    return issues, facts


def _pulls(n: int, rng: random.Random, people: list[dict[str, Any]], clock: _Clock,
           facts: list[_Facts]) -> dict[str, dict[str, Any]]:
    logins = [p["github_login"] for p in people]
    login_of = {p["key"]: p["github_login"] for p in people}
    bodies = rng.choices(_BODIES, _BODY_WEIGHTS, k=n)
    label_sets: tuple[list[str], ...] = (
        ["experiment", "risk:low"], ["experiment", "risk:high"], ["bug"], [],
    )
    repos: dict[str, dict[str, Any]] = {
        r: {"labels": [], "pulls": []} for r in REPOS
    }
    rand = rng.random
    for i in range(n):
        repo = repos[REPOS[i % len(REPOS)]]
        r = int(rand() * 1_000_000)
        login = logins[r % PEOPLE]
        updated = _recent(rand())
        state = "open" if r % 3 else "closed"
        if r % 10 and facts:  # nine in ten name their Jira issue; its engineer opened them
            key, eng = facts[(r // 10) % len(facts)][0], facts[(r // 10) % len(facts)][5]
            login = login_of[eng]
            title, head = f"{key}: implement experiment", f"feature/{key}"
        else:
            title, head = f"Fix flaky test {i}", f"fix/flaky-{i}"
        repo["pulls"].append({
            "number": len(repo["pulls"]) + 1,
            "title": title,
            "body": bodies[i],
            "user": login,
            "state": state,
            "merged_at": clock.ago(updated) if state == "closed" and r % 2 else None,
            "closed_at": clock.ago(updated) if state == "closed" else None,
            "assignees": [login],
            "requested_reviewers": [logins[(r // 5) % PEOPLE]],
            "labels": label_sets[r % 4],
            "head": head,
            "created_at": clock.ago(updated + 4_320),
            "updated_at": clock.ago(updated),
        })
    return repos


_NOTION_PROPERTIES: dict[str, Any] = {
    "Name": "title",
    "Jira issue": "url",
    "Status": {"type": "status", "options": ["Design", "Pre-run", "Running", "Analysis", "Done"]},
    "Tags": {"type": "multi_select", "options": ["risk:low", "risk:high", "speed:fast"]},
    "Outcome owner": "people",
    "Primary metric": "rich_text",
    "Cost cap": "number",
    "Review date": "date",
    "Instrumentation verified": "checkbox",
    "Handoff check": "rich_text",
}


def _pages(n: int, rng: random.Random, people: list[dict[str, Any]], clock: _Clock,
           facts: list[_Facts]) -> list[dict[str, Any]]:
    notion_ids = {p["key"]: p["notion_user_id"] for p in people}
    ids = [p["notion_user_id"] for p in people]
    databases: list[dict[str, Any]] = []
    for title in DATABASES:
        db_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        databases.append({"id": db_id, "title": title, "created_time": clock.ago(200_000),
                          "properties": _NOTION_PROPERTIES, "pages": []})
    tags: tuple[list[str], ...] = (["risk:low", "speed:fast"], ["risk:high"], [])
    rand, bits = rng.random, rng.getrandbits
    for i in range(n):
        r = int(rand() * 1_000_000)
        updated = _recent(rand())
        props: dict[str, Any]
        if r % 10 and facts:  # nine in ten are the brief of a Jira issue
            key, owner, cap, review, status, _ = facts[(r // 10) % len(facts)]
            conflict = r % 20 == 1
            props = {
                "Jira issue": f"https://acme.atlassian.net/browse/{key}",
                "Status": _NOTION_STATUS[status],
                "Outcome owner": [ids[r % PEOPLE] if conflict else notion_ids[owner]],
                "Primary metric": _METRICS[r % len(_METRICS)] if conflict else None,
                "Cost cap": cap + 1000 if conflict else cap,
                "Review date": review,
                "Instrumentation verified": r % 13 != 0,
                "Tags": tags[r % 3],
            }
            title = f"{key} brief"
        else:
            props = {"Status": "Design", "Outcome owner": [ids[r % PEOPLE]]}
            title = f"Idea {i}"
        databases[i % len(databases)]["pages"].append({
            "id": str(uuid.UUID(int=bits(128), version=4)),
            "created_time": clock.ago(updated + 10_080),
            "last_edited_time": clock.ago(updated),
            "created_by": ids[(r // 3) % PEOPLE],
            "title": title,
            "properties": props,
        })
    return databases


def generate_workspace(
    items: int, *, seed: int = 0, now: datetime | None = None
) -> dict[str, Any]:
    """A workspace of `items` items across the three systems; `now` anchors every date
    (default: the current time, so stale and expired fractions look like a live workspace)."""
    was_enabled = gc.isenabled()
    # Hundreds of thousands of small acyclic dicts: the cyclic collector would walk them again
    # and again while they are built, for nothing (a quarter of the time).
    gc.disable()
    try:
        return _generate(items, random.Random(seed), _Clock(now or datetime.now(UTC)))
    finally:
        if was_enabled:
            gc.enable()


def _generate(items: int, rng: random.Random, clock: _Clock) -> dict[str, Any]:
    people = _people(rng)
    n_jira = items * 40 // 100
    n_pulls = items * 40 // 100
    n_pages = items - n_jira - n_pulls
    issues, facts = _issues(n_jira, rng, people, clock)
    logins = [p["github_login"] for p in people]
    return {
        "people": people,
        "tokens": DEFAULT_TOKENS,
        "jira": {
            "fields": [
                {"id": "customfield_10050", "name": "Primary metric", "type": "string"},
                {"id": "customfield_10051", "name": "Cost cap", "type": "number"},
                {"id": "customfield_10052", "name": "Outcome owner", "type": "user"},
                {"id": "customfield_10053", "name": "Monitoring owner", "type": "user"},
                {"id": "customfield_10054", "name": "Cost cap approver", "type": "user"},
                {"id": "customfield_10055", "name": "Review date", "type": "date"},
                {"id": "customfield_10056", "name": "Feature flag", "type": "string"},
                {"id": "customfield_10057", "name": "Expected duration", "type": "string"},
            ],
            "groups": [{"name": "growth-team", "members": [p["key"] for p in people[:8]]}],
            "projects": [{"key": p, "name": p.title()} for p in PROJECTS],
            "issues": issues,
        },
        "github": {
            "orgs": {"acme": {"members": logins, "teams": [
                {"slug": "checkout-eng", "name": "Checkout Eng", "members": logins[:6]}]}},
            "repos": _pulls(n_pulls, rng, people, clock, facts),
        },
        "notion": {
            "bot": {"name": "handoff-sync", "workspace_name": "Acme"},
            "databases": _pages(n_pages, rng, people, clock, facts),
        },
    }
