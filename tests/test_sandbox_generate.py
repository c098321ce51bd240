"""The large-workspace generator: split, links and determinism, and a generated workspace served
by the sandbox and pulled in full through the real connectors."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors._retry import FAST_POLICY
from connectors.base import SourceItem
from connectors.sandbox import Sandbox
from connectors.sandbox.demo import sandbox_config
from connectors.sandbox.generate import PROJECTS, REPOS, generate_workspace
from mapping.link import build_records
from mapping.rules import evaluate
from sync.engine.connect import connect
from sync.settings import load_settings

NOW = datetime(2026, 6, 3, 12, 0, tzinfo=UTC)
SIZE = 2_000


def counts(ws: dict) -> dict[str, int]:
    return {
        "jira": len(ws["jira"]["issues"]),
        "github": sum(len(r["pulls"]) for r in ws["github"]["repos"].values()),
        "notion": sum(len(d["pages"]) for d in ws["notion"]["databases"]),
    }


def test_split_and_size() -> None:
    ws = generate_workspace(SIZE, now=NOW)
    assert counts(ws) == {"jira": 800, "github": 800, "notion": 400}
    assert sum(counts(generate_workspace(1_001, now=NOW)).values()) == 1_001
    assert {i["key"].split("-")[0] for i in ws["jira"]["issues"]} == set(PROJECTS)
    assert set(ws["github"]["repos"]) == set(REPOS)
    assert len({i["key"] for i in ws["jira"]["issues"]}) == 800


def test_deterministic_for_a_seed() -> None:
    assert generate_workspace(500, seed=3, now=NOW) == generate_workspace(500, seed=3, now=NOW)
    assert generate_workspace(500, seed=3, now=NOW) != generate_workspace(500, seed=4, now=NOW)


def test_links_name_real_issues() -> None:
    ws = generate_workspace(SIZE, now=NOW)
    keys = {i["key"] for i in ws["jira"]["issues"]}
    pulls = [p for r in ws["github"]["repos"].values() for p in r["pulls"]]
    linked = [p for p in pulls if p["title"].split(":")[0] in keys]
    assert 0.8 < len(linked) / len(pulls) < 0.97  # most PRs name their issue, some none
    assert all(p["head"] == f"feature/{p['title'].split(':')[0]}" for p in linked)
    pages = [p for d in ws["notion"]["databases"] for p in d["pages"]]
    urls = [p["properties"].get("Jira issue") for p in pages]
    named = [u for u in urls if u and u.rsplit("/", 1)[1] in keys]
    assert 0.8 < len(named) / len(pages) < 0.97


def test_full_pull_through_the_connectors_returns_every_item(tmp_path: Path) -> None:
    ws = generate_workspace(SIZE, seed=1, now=NOW)
    with Sandbox(ws) as sb:
        path = tmp_path / "handoff.toml"
        path.write_text(sandbox_config(sb, state_path=str(tmp_path / "s.db")), encoding="utf-8")
        settings = load_settings(path)
        opened = connect(settings, policy=FAST_POLICY)
        connectors = opened.connectors
        scopes = opened.scopes
        assert len(scopes) == len(PROJECTS) + len(REPOS) + 2
        items: list[SourceItem] = [i for s in scopes for i in connectors[s.system].pull(s, None)]
        directory = settings.directory()
        for connector in connectors.values():
            directory.add_accounts(connector.people())
        # Paged at the maximum page size: one request per 100 items and scope, no per-item calls.
        searches = sb.log(service="jira", method="POST") + sb.log(service="jira", method="GET")
        pulls_requests = sb.log(service="github", method="GET")
    assert Counter(i.system for i in items) == counts(ws)
    assert len({(i.system, i.id) for i in items}) == len(items)
    assert len([e for e in searches if "search" in e.path]) <= 800 // 100 + len(PROJECTS)
    assert len([e for e in pulls_requests if e.path.endswith("/pulls")]) == 800 // 100
    records = build_records(items, settings.fields, directory, settings.link)
    rules = settings.rules_config()
    flagged = [r for r in records if evaluate(r, rules, directory, NOW)]
    # A realistic mix: many records are fine, many are not.
    assert 0.2 < len(flagged) / len(records) < 0.9
    assert any(len(r.sources) == 3 for r in records)  # issue, PR and brief folded together


@pytest.mark.parametrize("items", [0, 1, 7])
def test_tiny_sizes_load(items: int) -> None:
    ws = generate_workspace(items, now=NOW)
    assert sum(counts(ws).values()) == items
    with Sandbox(ws) as sb:
        assert len(sb.jira.issues) == counts(ws)["jira"]
