"""Every choice config.example.toml documents works end to end: a real sync against the sandbox
through the real clients for each one, its effect read back from the sandbox's API, and a second
sync that writes nothing (the choice must round-trip, not rewrite itself every run)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests
from engine_fixtures import DB_ID, workspace, write_config
from pydantic import SecretStr

from connectors._retry import FAST_POLICY
from connectors.sandbox import JIRA_EMAIL, Sandbox
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions, SyncResult
from sync.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
PAGE = "9a8b7c6d-0000-4000-8000-0000000000a1"  # links EXP-2, which lacks its hypothesis
NOTION_HEADERS = {
    "Authorization": "Bearer sandbox-notion-write",
    "Notion-Version": "2025-09-03",
}


def sync(settings: Settings) -> SyncResult:
    conns = connect(settings, policy=FAST_POLICY)
    assert conns.errors == []
    return Engine(settings, conns.connectors, conns.scopes).run(SyncOptions())


def writes(sb: Sandbox) -> list[str]:
    return [f"{e.method} {e.path}" for e in sb.log(write=True)]


def with_property_type(ptype: str) -> dict[str, Any]:
    ws = workspace()
    ws["notion"]["databases"][0]["properties"]["Handoff check"] = ptype
    return ws


def config(tmp_path: Path, sb: Sandbox, extra: str = "", *, api_version: int = 2) -> Settings:
    """The team config plus `extra` lines ("[table]\nkey = value"), merged into the tables."""
    path = write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db", api_version=api_version)
    text = path.read_text(encoding="utf-8")
    table = ""
    for line in extra.strip().splitlines():
        if line.startswith("["):
            table = line
            if f"\n{table}\n" not in text:
                text = f"{table}\n" + text  # a new table goes first, before [[people]]
        elif line.strip():
            text = (
                text.replace(f"\n{table}\n", f"\n{table}\n{line}\n", 1)
                if (f"\n{table}\n" in text)
                else text.replace(f"{table}\n", f"{table}\n{line}\n", 1)
            )
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


def page_property(sb: Sandbox, name: str) -> dict[str, Any]:
    resp = requests.get(f"{sb.url}/v1/pages/{PAGE}", headers=NOTION_HEADERS, timeout=5)
    resp.raise_for_status()
    prop: dict[str, Any] = resp.json()["properties"][name]
    return prop


# What the page linked to EXP-2 (missing its hypothesis) must show for each documented type.
EXPECTED = {
    "rich_text": lambda p: "".join(t["plain_text"] for t in p["rich_text"]) == "Missing fields",
    "select": lambda p: p["select"]["name"] == "Missing fields",
    "multi_select": lambda p: [o["name"] for o in p["multi_select"]] == ["Missing fields"],
    "checkbox": lambda p: p["checkbox"] is True,  # ticked while findings are open
}


@pytest.mark.parametrize("ptype", sorted(EXPECTED))
def test_each_documented_notion_property_type_is_written_and_kept(
    ptype: str, tmp_path: Path
) -> None:
    with Sandbox(with_property_type(ptype)) as sb:
        settings = config(tmp_path, sb, f'\n[notion_property]\ntype = "{ptype}"\n')
        first = sync(settings)
        assert first.exit_code == 0, first.errors
        prop = page_property(sb, "Handoff check")
        assert prop["type"] == ptype
        assert EXPECTED[ptype](prop), prop
        sb.clear_log()
        second = sync(settings)
        assert second.exit_code == 0, second.errors
        assert writes(sb) == []


def test_the_jira_entity_property_is_written_once_and_not_rewritten(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        settings = config(tmp_path, sb, "\n[writeback]\njira_entity_property = true\n")
        first = sync(settings)
        assert first.exit_code == 0, first.errors
        resp = requests.get(
            f"{sb.url}/rest/api/2/issue/EXP-2/properties/handoff-sync",
            auth=(JIRA_EMAIL, "sandbox-jira-write"),
            timeout=5,
        )
        assert resp.status_code == 200, resp.text
        value = resp.json()["value"]
        assert value["count"] >= 1 and value["findings"][0]["code"] == "missing-field"
        sb.clear_log()
        second = sync(settings)
        assert second.exit_code == 0, second.errors
        assert writes(sb) == []


def test_rules_escalation_is_not_silently_replaced(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[rules.escalation]\nstart_hour = 7\nleads = ['ben']\n", encoding="utf-8")
    rules = load_settings(path).rules_config()
    assert rules.escalation.start_hour == 7
    assert rules.escalation.leads == ["ben"]


def test_rules_escalation_and_escalation_together_is_refused(tmp_path: Path) -> None:
    from connectors.errors import ConfigError

    path = tmp_path / "c.toml"
    path.write_text(
        "[rules.escalation]\nstart_hour = 7\n\n[escalation]\nstart_hour = 8\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"\[escalation\]"):
        load_settings(path)


# Other documented choices: each still syncs, with the effect seen in the sandbox.
CHOICES = {
    "api_version-3": (3, "", "/rest/api/3/issue/10001/comment"),
    "jql": (2, '\n[jira]\njql = "project = EXP AND key != EXP-3"\n', "/rest/api/2/issue/10001/"),
    "page_size": (2, "\n[jira]\npage_size = 1\n", "/rest/api/2/issue/10002/comment"),
    "include_issues": (2, "\n[github]\ninclude_issues = true\n", "/issues/2/comments"),
}


@pytest.mark.parametrize("choice", sorted(CHOICES))
def test_other_documented_choices_sync_and_settle(choice: str, tmp_path: Path) -> None:
    version, extra, expect = CHOICES[choice]
    with Sandbox(workspace()) as sb:
        settings = config(tmp_path, sb, extra, api_version=version)
        first = sync(settings)
        assert first.exit_code == 0, first.errors
        assert any(expect in w for w in writes(sb)), writes(sb)
        sb.clear_log()
        assert sync(settings).exit_code == 0
        assert writes(sb) == []


def test_the_example_config_as_shipped_syncs(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        path = tmp_path / "example.toml"
        path.write_text(example_config(sb, tmp_path / "s.db"), encoding="utf-8")
        env = {
            "jira": "sandbox-jira-write",
            "github": "sandbox-github-write",
            "notion": "sandbox-notion-write",
        }
        settings = load_settings(path)
        settings = settings.model_copy(
            update={
                s: getattr(settings, s).model_copy(update={"token": SecretStr(t)})
                for s, t in env.items()
            }
        )
        first = sync(settings)
        assert first.exit_code == 0, first.errors
        assert writes(sb)
        sb.clear_log()
        assert sync(settings).exit_code == 0
        assert writes(sb) == []


def example_config(sb: Sandbox, state: Path) -> str:
    """config.example.toml as shipped, pointed at the sandbox's scopes."""
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    subs = {
        r'^url = "https://your-team\.atlassian\.net"': f'url = "{sb.url}"',
        r'^email = "bot@example\.com"': f'email = "{JIRA_EMAIL}"',
        r'^url = "https://api\.github\.com"': f'url = "{sb.url}/api/v3"',
        r'^url = "https://api\.notion\.com"': f'url = "{sb.url}"',
        r"^databases = \[\]": f'databases = ["{DB_ID}"]',
        r'^path = "handoff-state\.db"': f'path = "{state}"',
    }
    for pattern, value in subs.items():
        text, n = re.subn(pattern, value, text, count=1, flags=re.M)
        assert n == 1, pattern
    return text


def test_renamed_labels_are_the_ones_written_and_kept(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        settings = config(tmp_path, sb, '[labels]\nunlinked = "no-ticket"\n')
        assert sync(settings).exit_code == 0
        resp = requests.get(
            f"{sb.url}/api/v3/repos/acme/web/issues/2/labels",
            headers={"Authorization": "token sandbox-github-write"},
            timeout=5,
        )
        assert [label["name"] for label in resp.json()] == ["no-ticket"]
        sb.clear_log()
        assert sync(settings).exit_code == 0
        assert writes(sb) == []
