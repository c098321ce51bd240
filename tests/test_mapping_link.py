"""Linking: keys in PR titles, branches and bodies, Notion properties; fast and stable."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from connectors.base import SourceItem
from mapping import Directory, FieldMaps, LinkConfig, PersonConfig, build_records, link

T0 = datetime(2025, 1, 1, tzinfo=UTC)
CFG = LinkConfig()


def jira(key: str, **fields) -> SourceItem:
    return SourceItem(
        "jira",
        "jira:EXP",
        f"id-{key}",
        key,
        f"https://j/{key}",
        "issue",
        T0,
        f"Issue {key}",
        {"summary": f"Issue {key}", **fields},
    )


def pull(
    number: int, title: str = "", branch: str = "main", body: str | None = None, **fields
) -> SourceItem:
    ident = f"acme/web#{number}"
    raw = {"title": title, "body": body, "head": {"ref": branch}, **fields}
    return SourceItem(
        "github",
        "github:acme/web",
        ident,
        ident,
        f"https://github.com/acme/web/pull/{number}",
        "pull",
        T0,
        title,
        raw,
    )


def page(ident: str, **props) -> SourceItem:
    return SourceItem(
        "notion", "notion:db", ident, ident, f"https://n/{ident}", "page", T0, ident, props
    )


def url(value: str) -> dict:
    return {"type": "url", "url": value}


def test_keys_in_title_branch_body_and_notion_properties_link_one_record() -> None:
    items = [
        pull(1, "Checkout EXP-42"),
        pull(2, "refactor", branch="feature/exp-42-flag"),  # branch keys are matched as given
        pull(3, "misc", body="Part of EXP-42"),
        page("brief", Jira=url("https://j/browse/EXP-42")),
        page("notes", PR=url("https://github.com/acme/web/pull/1")),
        jira("EXP-42"),
        jira("EXP-7"),
    ]
    groups = {g[0].key: sorted(i.key for i in g) for g in link(items, CFG)}
    assert groups["EXP-42"] == sorted(["EXP-42", "acme/web#1", "acme/web#3", "brief", "notes"])
    assert groups["EXP-7"] == ["EXP-7"]
    assert groups["acme/web#2"] == ["acme/web#2"]  # lowercase branch: no key pattern match


def test_body_keys_count_only_when_title_and_branch_name_none() -> None:
    items = [jira("EXP-1"), jira("EXP-2"), pull(5, "EXP-2 rollout", body="follows EXP-1")]
    groups = sorted(sorted(i.key for i in g) for g in link(items, CFG))
    assert groups == [["EXP-1"], ["EXP-2", "acme/web#5"]]


def test_unknown_projects_are_not_keys_when_projects_are_known() -> None:
    items = [jira("EXP-1"), pull(6, "Support UTF-8 and SHA-256")]
    (record,) = [
        r for r in build_records(items, FieldMaps(), Directory(), CFG) if r.key == "acme/web#6"
    ]
    assert not record.linked


def test_bots_and_ignored_labels_are_left_out() -> None:
    items = [pull(7, "Bump x", user={"login": "dependabot[bot]"}), jira("EXP-3")]
    assert [g[0].key for g in link(items, CFG)] == ["EXP-3"]


def test_disagreeing_sources_keep_both_values_with_provenance() -> None:
    directory = Directory.from_config(
        [PersonConfig("ana", jira="acc-ana"), PersonConfig("bo", github="bo")]
    )
    items = [
        jira("EXP-9", assignee={"accountId": "acc-ana", "displayName": "Ana"}),
        pull(9, "EXP-9", assignees=[{"login": "bo"}], requested_teams=[{"slug": "growth"}]),
    ]
    (record,) = build_records(items, FieldMaps(), directory, CFG)
    owners = [(v.value.key, v.source.system, v.source.field) for v in record.engineering_owner]
    assert owners == [("ana", "jira", "assignee"), ("bo", "github", "assignees")]
    assert [(v.value.handle, v.value.kind) for v in record.approve] == [("growth", "group")]


def test_same_input_in_any_order_gives_the_same_records() -> None:
    items = [jira(f"EXP-{i}") for i in range(30)] + [pull(i, f"EXP-{i % 40}") for i in range(60)]
    first = build_records(items, FieldMaps(), Directory(), CFG)
    shuffled = items[:]
    random.Random(4).shuffle(shuffled)
    assert build_records(shuffled, FieldMaps(), Directory(), CFG) == first
    assert [r.key for r in first] == sorted(r.key for r in first)


def test_one_hundred_thousand_items_link_into_the_right_groups() -> None:
    # Speed is measured in bench/, not asserted here: machines are shared and noisy.
    items = []
    for i in range(40_000):
        items.append(jira(f"EXP-{i}"))
        items.append(pull(i, f"EXP-{i} change", body="## Rollback trigger\nerror > 2%"))
        if i % 2:
            items.append(page(f"p{i}", Jira=url(f"https://j/browse/EXP-{i}")))
    assert len(items) >= 100_000
    groups = link(items, CFG)
    assert len(groups) == 40_000
    assert all(len(g) in (2, 3) for g in groups)


def test_an_approvers_go_decision_signs_off_the_cost_cap() -> None:
    """Who decided is joined to the directory like any owner, so the sign-off is recognised."""
    from mapping.people import PersonConfig
    from mapping.rules import RulesConfig, evaluate

    desc = (
        "h2. Cost cap\n20000 USD\n\nh2. Cost cap approver\n[~accountid:acc-hugo]\n\n"
        "h2. Decision log\ngo by [~accountid:acc-hugo] on 2026-11-01\n"
    )
    item = jira("EXP-1", description=desc, status={"name": "In Progress"})
    people = [PersonConfig(key="hugo", name="Hugo", jira="acc-hugo")]
    directory = Directory.from_config(people, [])
    (record,) = build_records([item], FieldMaps(), directory, CFG)
    (decision,) = record.decision_log
    assert decision.value.who.key == "hugo"
    found = evaluate(record, RulesConfig(), directory, T0.replace(year=2026, month=11, day=2))
    assert not [f for f in found if f.code == "decision-missing" and "cost cap" in f.message]


def test_a_pr_naming_only_a_key_jira_does_not_have_is_unlinked_and_names_it() -> None:
    pr = SourceItem(
        system="github",
        scope="github:acme/web",
        id="acme/web#9",
        key="acme/web#9",
        url="https://github.com/acme/web/pull/9",
        kind="pull",
        updated=datetime(2026, 11, 1, tzinfo=UTC),
        title="EXP-99 tidy",
    )
    (unknown,) = build_records([pr], FieldMaps(), Directory(), CFG, known_keys={"EXP-1"})
    assert (unknown.key, unknown.linked, unknown.unknown_keys) == ("acme/web#9", False, ("EXP-99",))
    (known,) = build_records([pr], FieldMaps(), Directory(), CFG, known_keys={"EXP-99"})
    assert (known.key, known.linked) == ("EXP-99", True)
    (unsure,) = build_records([pr], FieldMaps(), Directory(), CFG)  # Jira not read in full
    assert (unsure.key, unsure.linked) == ("EXP-99", True)
