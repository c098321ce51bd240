"""The demo workspace, served by the sandbox and read through the real connectors and rules,
shows every finding kind on the records it names, and leaves its complete handoffs clean."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from connectors._retry import FAST_POLICY
from connectors.base import SourceItem
from connectors.sandbox import Sandbox
from connectors.sandbox.demo import (
    DEMO_CLEAN,
    DEMO_EXPECTED,
    DEMO_LEADS,
    demo_workspace,
    sandbox_config,
)
from mapping.link import build_records
from mapping.record import HandoffRecord
from mapping.rules import CODES, Finding, evaluate
from sync.engine.connect import connect
from sync.settings import Settings, load_settings

NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Pulled:
    settings: Settings
    items: list[SourceItem]
    records: dict[str, HandoffRecord]
    findings: dict[str, list[Finding]]
    writes: int


def pull_and_check(
    tmp: Path, now: datetime, api_version: int = 3, leads: tuple[str, ...] = ()
) -> Pulled:
    """The whole read side of a sync: config, three connectors, linking, rules."""
    ws = demo_workspace(now)
    with Sandbox(ws) as sb:
        path = tmp / "handoff.toml"
        path.write_text(
            sandbox_config(
                sb, state_path=str(tmp / "state.db"), api_version=api_version, leads=leads
            ),
            encoding="utf-8",
        )
        settings = load_settings(path)
        # The same path `handoff sync` takes: settings -> the three real clients and scopes.
        opened = connect(settings, policy=FAST_POLICY)
        assert opened.errors == [] and set(opened.connectors) == {"jira", "github", "notion"}
        connectors = opened.connectors
        items = [i for s in opened.scopes for i in connectors[s.system].pull(s, None)]
        directory = settings.directory()
        for connector in connectors.values():
            directory.add_accounts(connector.people())
        writes = len(sb.log(write=True))
    records = build_records(items, settings.fields, directory, settings.link)
    rules = settings.rules_config()
    return Pulled(
        settings,
        items,
        {r.key: r for r in records},
        {r.key: evaluate(r, rules, directory, now) for r in records},
        writes,
    )


@pytest.fixture(scope="module")
def pulled(tmp_path_factory: pytest.TempPathFactory) -> Pulled:
    return pull_and_check(tmp_path_factory.mktemp("demo"), NOW, leads=DEMO_LEADS)


def codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


def test_expected_names_every_finding_kind_and_some_clean_records() -> None:
    assert set(DEMO_EXPECTED) == set(CODES)
    assert len(DEMO_CLEAN) >= 3
    assert not set(DEMO_CLEAN) & {k for keys in DEMO_EXPECTED.values() for k in keys}


def test_config_loads_with_every_scope_person_and_group(tmp_path: Path) -> None:
    ws = demo_workspace(NOW)
    with Sandbox(ws) as sb:
        text = sandbox_config(
            sb, state_path=str(tmp_path / "s.db"), api_version=2, leads=DEMO_LEADS
        )
        path = tmp_path / "c.toml"
        path.write_text(text, encoding="utf-8")
        settings = load_settings(path)
        assert settings.jira.url == sb.url and settings.notion.url == sb.url
        assert settings.github.url == sb.url + "/api/v3"
    assert settings.jira.api_version == 2 and settings.jira.projects == ["EXP"]
    assert settings.github.repos == ["acme/checkout"]
    assert settings.notion.databases == [ws["notion"]["databases"][0]["id"]]
    assert settings.state.path == str(tmp_path / "s.db")
    assert settings.escalation.leads == list(DEMO_LEADS)
    assert settings.jira.token is not None
    assert settings.jira.token.get_secret_value() == "sandbox-jira-write"
    assert "growth-team" in settings.groups and "checkout-eng" in settings.groups
    people = {p.key: p for p in settings.people}
    assert len(people) == len(ws["people"]) >= 10
    assert people["jon"].active is False and people["chloe"].name == "Chloé Martin"
    assert len({p.time_zone for p in people.values()}) >= 6
    assert settings.directory().resolve("github", "ana-lima") is not None


def test_every_item_is_pulled(pulled: Pulled) -> None:
    systems = ("jira", "github", "notion")
    by_system = {s: sum(1 for i in pulled.items if i.system == s) for s in systems}
    ws = demo_workspace(NOW)
    assert by_system == {
        "jira": len(ws["jira"]["issues"]),
        "github": len(ws["github"]["repos"]["acme/checkout"]["pulls"]),
        "notion": len(ws["notion"]["databases"][0]["pages"]),
    }
    assert pulled.writes == 0  # reading and checking writes nothing anywhere


def test_every_finding_kind_shows_where_expected(pulled: Pulled) -> None:
    seen = set().union(*(codes(f) for f in pulled.findings.values()))
    assert seen == set(CODES)
    for code, keys in DEMO_EXPECTED.items():
        for key in keys:
            assert code in codes(pulled.findings[key]), (key, code, pulled.findings[key])


def test_complete_handoffs_are_clean(pulled: Pulled) -> None:
    for key in DEMO_CLEAN:
        assert pulled.findings[key] == [], key
    # Clean records are real handoffs linked across systems, not empty shells.
    assert {s.system for s in pulled.records["EXP-101"].sources} == {"jira", "github", "notion"}
    assert pulled.records["EXP-101"].stage.value == "run"


def test_ownerless_covers_none_group_bot_inactive_and_unknown(pulled: Pulled) -> None:
    messages = " ".join(
        f.message for key in DEMO_EXPECTED["ownerless"] for f in pulled.findings[key]
        if f.code == "ownerless"
    )
    for phrase in ("Nobody is named", "growth-team, a group", "Experiment Bot, a group or bot",
                   "inactive account", "not in the people directory"):
        assert phrase in messages


def test_decision_missing_covers_go_signoff_and_instrumentation(pulled: Pulled) -> None:
    subjects = {
        f.subject
        for key in DEMO_EXPECTED["decision-missing"]
        for f in pulled.findings[key]
        if f.code == "decision-missing"
    }
    assert {"go/no-go", "cost-cap sign-off", "instrumentation"} <= subjects
    conflicts = {f.subject for f in pulled.findings["EXP-113"] if f.code == "conflict"}
    assert conflicts == {"outcome_owner", "cost_cap"}


def test_the_ignored_bot_pull_makes_no_record(pulled: Pulled) -> None:
    assert any(i.id == "acme/checkout#58" for i in pulled.items)
    sources = [s.item_id for r in pulled.records.values() for s in r.sources]
    assert "acme/checkout#58" not in sources and "acme/checkout#57" in sources


def test_dates_follow_the_clock_so_expired_stays_expired(tmp_path: Path) -> None:
    later = NOW + timedelta(days=400)
    result = pull_and_check(tmp_path, later)
    assert "expired" in codes(result.findings[DEMO_EXPECTED["expired"][0]])
    assert "stale" in codes(result.findings[DEMO_EXPECTED["stale"][0]])
    for key in DEMO_CLEAN:
        assert result.findings[key] == [], key


def test_workspace_uses_each_systems_rich_formats() -> None:
    ws = demo_workspace(NOW)
    issues = {i["key"]: i for i in ws["jira"]["issues"]}
    adf = issues["EXP-101"]["description"]
    kinds = set(_node_types(adf))
    assert {"heading", "taskItem", "mention", "bulletList"} <= kinds
    assert issues["EXP-102"]["description"].startswith("Experiment brief")
    assert "h2. Hypothesis" in issues["EXP-102"]["description"]
    pulls = ws["github"]["repos"]["acme/checkout"]["pulls"]
    pull = pulls[0]
    body = next(p for p in pulls if p["number"] == 41)["body"]
    assert "## Rollback trigger" in body and "- [x] Instrumentation verified" in body
    assert pull["number"] == 35 and pull["state"] == "closed"
    db = ws["notion"]["databases"][0]
    types = {v if isinstance(v, str) else v["type"] for v in db["properties"].values()}
    assert {"title", "rich_text", "people", "select", "status", "number", "date", "checkbox",
            "url", "relation", "multi_select"} <= types
    expired = date.fromisoformat(issues["EXP-114"]["fields"]["Review date"])
    assert expired < NOW.date() < date.fromisoformat(issues["EXP-101"]["fields"]["Review date"])


def _node_types(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if "type" in node:
            yield str(node["type"])
        for child in node.get("content", []):
            yield from _node_types(child)
