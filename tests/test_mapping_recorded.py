"""The field maps read every real recorded payload, and a few give hand-checked values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.base import Account, SourceItem
from mapping import Directory, FieldMaps, LinkConfig, PersonRef, Stage, build_records, item_values
from mapping import github as github_map
from mapping import jira as jira_map
from mapping import notion as notion_map

T0 = datetime(2025, 1, 1, tzinfo=UTC)
MAPS = FieldMaps()


def _jira_items(api: Path) -> list[SourceItem]:
    items = []
    for path in sorted((api / "recorded/jira").rglob("*.json")):
        body = json.loads(path.read_text())
        issues = body.get("issues", []) if isinstance(body, dict) else []
        if isinstance(body, dict) and "fields" in body and "key" in body:
            issues = [body]
        for issue in issues:
            key = issue["key"]
            items.append(
                SourceItem(
                    "jira",
                    "jira:X",
                    issue.get("id", key),
                    key,
                    f"https://j/{key}",
                    "issue",
                    T0,
                    str(issue["fields"].get("summary", "")),
                    issue["fields"],
                )
            )
    return items


def _pulls(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [p for x in node for p in _pulls(x)]
    if isinstance(node, dict) and "head" in node and "number" in node:
        return [node]
    return []


def _github_items(api: Path) -> list[SourceItem]:
    items = []
    for path in sorted((api / "recorded/github/exchanges").glob("*.json")):
        for pull in _pulls(json.loads(path.read_text())["response"].get("body")):
            repo = (pull.get("base") or {}).get("repo") or {}
            ident = f"{repo.get('full_name', 'o/r')}#{pull['number']}"
            items.append(
                SourceItem(
                    "github",
                    "github:x",
                    ident,
                    ident,
                    pull.get("html_url", ""),
                    "pull",
                    T0,
                    pull.get("title") or "",
                    pull,
                )
            )
    return items


def _pages(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [p for x in node for p in _pages(x)]
    if isinstance(node, dict):
        found = [node] if node.get("object") == "page" and "properties" in node else []
        return found + [p for v in node.values() for p in _pages(v)]
    return []


def _notion_items(api: Path) -> list[SourceItem]:
    items = []
    for path in sorted((api / "recorded/notion/exchanges-2025-09-03").glob("*.json")):
        for page in _pages(json.loads(path.read_text())["response"].get("body")):
            items.append(
                SourceItem(
                    "notion",
                    "notion:db",
                    page["id"],
                    page["id"],
                    page.get("url", ""),
                    "page",
                    T0,
                    "",
                    page["properties"],
                )
            )
    return items


def test_every_recorded_payload_maps(shared_api: Path) -> None:
    jira, pulls, pages = (
        _jira_items(shared_api),
        _github_items(shared_api),
        _notion_items(shared_api),
    )
    assert len(jira) >= 4 and len(pulls) >= 10 and len(pages) >= 30
    for item in [*jira, *pulls, *pages]:
        before = json.dumps(item.fields, sort_keys=True, default=str)
        values = item_values(item, MAPS)
        assert "last_activity" in values
        assert json.dumps(item.fields, sort_keys=True, default=str) == before  # never mutated
    records = build_records([*jira, *pulls, *pages], MAPS, Directory(), LinkConfig())
    assert sum(len(r.sources) for r in records) <= len(jira) + len(pulls) + len(pages)


def test_airbyte_issue_fields(shared_api: Path) -> None:
    issue = next(i for i in _jira_items(shared_api) if i.key == "TESTKEY13-1")
    values = jira_map.to_values(issue, MAPS.jira)
    assert [v.value for v in values["status"]] == [Stage.DESIGN]  # "To Do"
    owner = values["engineering_owner"][0]
    assert owner.value.handle == "5fc9e78d2730d800760becc4"
    assert owner.source.field == "assignee"
    assert values["outcome_owner"][0].source.field == "reporter"
    assert "expiry" not in values  # duedate is null in this issue


def test_adf_heading_in_a_recorded_issue_counts_as_the_field(shared_api: Path) -> None:
    issue = next(i for i in _jira_items(shared_api) if i.key == "TESTKEY13-1")
    fields = dict(issue.fields)
    heading = {
        "type": "heading",
        "attrs": {"level": 2},
        "content": [{"type": "text", "text": "Hypothesis"}],
    }
    fields["description"] = {
        **fields["description"],
        "content": [heading, *fields["description"]["content"]],
    }
    values = jira_map.to_values(SourceItem(**{**issue.__dict__, "fields": fields}), MAPS.jira)
    assert [v.value for v in values["hypothesis"]] == ["Test issue"]
    assert values["hypothesis"][0].source.field == "description: Hypothesis"


def test_v2_wiki_heading_counts_as_the_field() -> None:
    item = SourceItem(
        "jira",
        "jira:EXP",
        "1",
        "EXP-1",
        "u",
        "issue",
        T0,
        "t",
        {"description": "h2. Rollback trigger\nerror rate > 2%\nh2. Other\nx"},
    )
    values = jira_map.to_values(item, MAPS.jira)
    assert [v.value for v in values["rollback_triggers"]] == ["error rate > 2%"]


def test_recorded_pull_with_a_requested_team_treats_it_as_a_group(shared_api: Path) -> None:
    pull = next(
        i
        for i in _github_items(shared_api)
        if i.id == "PyGithub/PyGithub#31" and i.fields.get("requested_teams")
    )
    values = github_map.to_values(pull, MAPS.github)
    refs = [v.value for v in values["approve"]]
    assert PersonRef("github", "sfdye") in refs
    team = [r for r in refs if r.kind == "group"]
    assert [t.handle for t in team] == ["123"]  # the recorded team has only an id
    assert [v.value.handle for v in values["engineering_owner"]] == ["jacquev6"]


def test_recorded_notion_bot_in_a_people_property_is_not_a_person(shared_api: Path) -> None:
    users = json.loads(
        (
            shared_api
            / "recorded/notion/exchanges-2025-09-03/test_users_list__00__GET_v1_users__200.json"
        ).read_text()
    )["response"]["body"]["results"]
    page = _notion_items(shared_api)[0]
    props = {**page.fields, "Outcome owner": {"id": "x", "type": "people", "people": users}}
    item = SourceItem(**{**page.__dict__, "fields": props})
    values = notion_map.to_values(item, MAPS.notion)
    kinds = {v.value.name: v.value.kind for v in values["outcome_owner"]}
    assert kinds == {"Guillaume Gelin": "person", "notion-sdk-py": "bot"}
    directory = Directory()
    directory.add_accounts(
        [
            Account(
                "notion",
                u["id"],
                u["name"],
                kind="bot" if u["type"] == "bot" else "person",
                email=(u.get("person") or {}).get("email", ""),
            )
            for u in users
        ]
    )
    (record,) = build_records([item], MAPS, directory, LinkConfig(require_partner=[]))
    owners = {v.value.name: v.value for v in record.outcome_owner}
    assert owners["Guillaume Gelin"].key == "notion@ramnes.eu"
    assert owners["notion-sdk-py"].kind == "bot" and not owners["notion-sdk-py"].resolved
