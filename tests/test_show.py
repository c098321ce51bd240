"""`handoff show KEY-or-URL`: one handoff from the state after a real demo sync, each value
with its source (system, item, field, when), found by any of the names a lead pastes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from connectors.base import SourceItem
from sync.commands.cli import main
from sync.commands.demo import run_demo
from sync.store import memory_store

PAGE_101 = "ec6ef230-f182-4039-ae79-4566b9c58adc"  # EXP-101's Notion page in the demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    assert run_demo(folder).sync.exit_code == 0
    return folder / "handoff.toml"


def show(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["show", "--config", str(config), *args])


def shown(config: Path, what: str) -> dict[str, Any]:
    result = show(config, what, "--json")
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = json.loads(result.output)
    return body


def _sources(body: dict[str, Any], name: str) -> set[tuple[str, str, str, str]]:
    return {
        (v["source"]["system"], v["source"]["item"], v["source"]["field"], v["value"])
        for v in body["fields"][name]
    }


def test_each_field_names_its_system_item_and_field(demo: Path) -> None:
    body = shown(demo, "EXP-101")
    assert body["record"] == {"key": "EXP-101", "title": body["record"]["title"],
                              "stage": "run", "linked": True}  # fmt: skip
    assert ("jira", "EXP-101", "Primary metric", "checkout conversion rate") in _sources(
        body, "primary_metric"
    )
    notion = [s for s in _sources(body, "primary_metric") if s[0] == "notion"]
    assert notion and notion[0][2] == "property Primary metric"
    assert ("github", "acme/checkout#41", "assignees", "Chloé Martin") in _sources(
        body, "engineering_owner"
    )
    assert ("jira", "EXP-101", "assignee", "Chloé Martin") in _sources(body, "engineering_owner")
    assert {s[2] for s in _sources(body, "hypothesis") if s[0] == "jira"} == {
        "description: Hypothesis"
    }
    # "when": the time its item last changed, as the state holds it; the same for every value
    # from one item, and an item of the record.
    items = {(i["system"], i["item"]) for i in body["items"]}
    for values in body["fields"].values():
        for v in values:
            src = v["source"]
            assert (src["system"], src["item"]) in items
            assert datetime.fromisoformat(src["when"]) <= datetime.now(UTC)
    assert body["fields"]["concurrent_changes"] == []  # empty fields are there, empty
    assert [d["entry"].split()[0] for d in body["decisions"]] == ["go"]
    assert body["state"]["age_minutes"] is not None and body["state"]["note"] == ""


@pytest.mark.parametrize(
    "what",
    [
        "exp-101",
        "https://github.com/acme/checkout/pull/41",
        "acme/checkout#41",
        f"https://www.notion.so/EXP-101-One-page-checkout-{PAGE_101.replace('-', '')}",
        PAGE_101,
        PAGE_101.replace("-", ""),
    ],
)
def test_every_name_of_an_item_finds_its_record(demo: Path, what: str) -> None:
    assert shown(demo, what)["record"]["key"] == "EXP-101"


def test_findings_come_with_their_ladder_step_and_due_time_and_our_writes(demo: Path) -> None:
    body = shown(demo, "EXP-107")
    missing = [f for f in body["findings"] if f["code"] == "missing-field"]
    assert missing, body["findings"]
    for f in missing:
        assert f["escalation"] >= 0 and f["time_zone"]
        if f["next_step_to"]:
            assert datetime.fromisoformat(f["next_step_at"]) > datetime.now(UTC) - timedelta(
                days=400
            )
    assert body["escalation"] == max(f["escalation"] for f in body["findings"])
    # The demo's sync commented on the Jira issue: the audit row is shown as our write.
    assert any(w["system"] == "jira" and w["result"] for w in body["writes"]), body["writes"]
    firsts = {(h["system"], h["first"]) for h in body["history"]}
    assert ("jira", True) in firsts and ("notion", True) in firsts


def test_text_is_aligned_for_a_lead_with_no_raw_json(demo: Path) -> None:
    result = show(demo, "EXP-107")
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith("EXP-107 · ")
    for heading in ("Linked items", "Fields", "Open findings", "Decision log", "Our writes"):
        assert f"\n{heading}" in text
    assert "{" not in text and '"system"' not in text
    assert "missing-field" in text and "tells" in text
    # Our writes: one line each, as it ended (the audit's "sending" step is in --json only).
    writes = text.split("\nOur writes\n")[1].splitlines()
    assert writes and all(ln.rstrip().endswith("done") for ln in writes), writes


def test_an_old_state_is_said_to_be_old(demo: Path) -> None:
    result = show(demo, "EXP-101", "--max-age", "0")
    assert result.exit_code == 0
    assert "old (last sync" in result.output and "handoff sync" in result.output


def test_an_unknown_key_is_one_line_with_what_to_try(demo: Path) -> None:
    result = show(demo, "EXP-9999")
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln]
    assert len(lines) == 1 and "EXP-9999" in lines[0] and "try a Jira key" in lines[0]
    as_json = show(demo, "EXP-9999", "--json")
    assert json.loads(as_json.stdout.splitlines()[-1])["exit_code"] == 2


def _item(fields: dict[str, Any], updated: datetime) -> SourceItem:
    return SourceItem(system="jira", scope="jira:EXP", id="1", key="EXP-1", url="", kind="issue",
                      updated=updated, title="t", fields=fields)  # fmt: skip


def test_history_keeps_a_row_per_content_change_not_per_reread() -> None:
    state = memory_store()
    t0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
    state.upsert_items([_item({"Primary metric": "a"}, t0)], 1, t0)
    state.upsert_items([_item({"Primary metric": "a"}, t0)], 2, t0 + timedelta(minutes=5))
    state.upsert_items([_item({"Primary metric": "b"}, t0 + timedelta(hours=1))], 3, t0)
    history = state.item_history({("jira", "1")})
    assert [(c.run_id, dict(c.fields)) for c in history] == [
        (1, {"Primary metric": "a"}),
        (3, {"Primary metric": "b"}),
    ]


def test_an_owner_set_by_a_command_shows_the_command_as_its_source(tmp_path: Path) -> None:
    from engine_fixtures import workspace, write_config

    from connectors._retry import FAST_POLICY
    from connectors.sandbox import Sandbox
    from sync.engine.connect import connect
    from sync.engine.run import Engine, SyncOptions
    from sync.settings import load_settings

    ws = workspace()
    at = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    issue = ws["jira"]["issues"][2]
    issue["comments"] = [{"author": "ana", "created": at,
                          "body": "/handoff owner outcome [~accountid:acc-ben]"}]  # fmt: skip
    with Sandbox(ws) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db")
        settings = load_settings(config)
        conns = connect(settings, policy=FAST_POLICY)
        assert Engine(settings, conns.connectors, conns.scopes).run(SyncOptions()).exit_code == 0
    body = shown(config, issue["key"])
    owners = body["fields"]["outcome_owner"]
    assert [(v["value"], v["source"]["field"]) for v in owners] == [
        ("Ben Okafor", "command by ana")
    ]
