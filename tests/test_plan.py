"""sync.writeback.plan: the writes per item, only managed labels, and planning after applying
gives []."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import CommentRef, SourceItem, WriteOp
from connectors.errors import PlanError
from mapping.people import Directory, PersonConfig
from mapping.rules import CODES, Finding
from mapping.text import adf_to_text
from sync.writeback.plan import ItemView, PlanConfig, Target, describe, plan
from sync.writeback.render import marker_for, render_comment

PEOPLE = Directory.from_config(
    [
        PersonConfig(key="alice", name="Alice", jira="557058:alice", github="alice"),
        PersonConfig(key="bob", name="Bob", notion="1a2b3c4d-1a2b-1a2b-1a2b-1a2b3c4d5e6f"),
    ]
)


def finding(code: str = "missing-field", subject: str = "hypothesis", **kw: object) -> Finding:
    values: dict[str, object] = {
        "severity": "error",
        "message": f"{subject} is missing. Add it in EXP-1.",
        "record_key": "EXP-1",
        "system": "jira",
        "item_id": "10001",
        "item_key": "EXP-1",
        "url": "https://acme.atlassian.net/browse/EXP-1",
    }
    values.update(kw)
    return Finding(code=code, subject=subject, **values)  # type: ignore[arg-type]


def view(system: str = "jira", item_id: str = "10001", **kw: object) -> ItemView:
    key = {"jira": "EXP-1", "github": "acme/web#3", "notion": "Checkout test"}[system]
    return ItemView(system, f"{system}:scope", item_id, key, **kw)  # type: ignore[arg-type]


# --- simulate: what applying a plan does to what items show --------------------------------


def shown_text(op: WriteOp, plain: bool) -> str:
    """What a connector would later report: the exact body, or its plain text."""
    if not plain:
        return op.body
    if op.system == "jira" and op.body.startswith("{"):
        return adf_to_text(json.loads(op.body))
    if op.system == "notion":
        return "".join(o.get("text", {}).get("content", "@Bob") for o in json.loads(op.body))
    return op.body


def notion_answer(value: str) -> str:
    """A Notion property as the API returns it: ids, colours and plain_text added."""
    prop = json.loads(value)
    (ptype, inner), *_ = prop.items()
    if ptype == "rich_text":
        inner = [{**o, "plain_text": o["text"]["content"], "annotations": {}} for o in inner]
    else:
        inner = {**inner, "id": "opt1", "color": "red"}
    return json.dumps({"id": "abc", "type": ptype, ptype: inner})


def simulate(views: Iterable[ItemView], ops: list[WriteOp], plain: bool = False) -> list[ItemView]:
    """Apply WriteOps to item views the way the systems would."""
    by_id = {(v.system, v.item_id): v for v in views}
    for op in ops:
        key = (op.system, op.item_id)
        v = by_id[key]
        if op.action == "comment.create":
            assert v.comment is None, "a second comment on one item"
            v = replace(v, comment=CommentRef(f"c-{op.item_id}", shown_text(op, plain)))
        elif op.action == "comment.update":
            assert v.comment is not None and op.target == v.comment.id
            v = replace(v, comment=CommentRef(op.target, shown_text(op, plain)))
        elif op.action == "label.add":
            assert op.name not in v.labels
            v = replace(v, labels=(*v.labels, op.name))
        elif op.action == "label.remove":
            assert op.name in v.labels
            v = replace(v, labels=tuple(x for x in v.labels if x != op.name))
        elif op.action == "property.set":
            v = replace(v, property_value=notion_answer(op.value) if plain else op.value)
        elif op.action == "entity_property.set":
            wrapped = json.dumps({"key": op.name, "value": json.loads(op.value)})
            v = replace(v, entity_property=wrapped if plain else op.value)
        by_id[key] = v
    return list(by_id.values())


def replan(targets: list[Target], cfg: PlanConfig, plain: bool = False) -> list[WriteOp]:
    ops = plan(targets, cfg, PEOPLE)
    after = {(v.system, v.item_id): v for v in simulate([t.item for t in targets], ops, plain)}
    return plan(
        [replace(t, item=after[t.item.system, t.item.item_id]) for t in targets], cfg, PEOPLE
    )


# --- examples -----------------------------------------------------------------------------


def test_first_run_creates_comment_and_labels() -> None:
    target = Target(view(labels=("team-a",)), (finding(), finding("ownerless", "outcome_owner")))
    ops = plan([target], PlanConfig(), PEOPLE)
    assert [(o.action, o.name) for o in ops] == [
        ("comment.create", ""),
        ("label.add", "handoff:missing-fields"),
        ("label.add", "handoff:ownerless"),
    ]
    create = ops[0]
    assert create.marker == marker_for("jira", "10001") and create.marker in create.body
    assert create.body.startswith("*Handoff check:* 2 things need attention")
    assert replan([target], PlanConfig()) == []


def test_changed_findings_edit_the_comment_in_place_and_swap_labels() -> None:
    old = render_comment("jira", [finding()], PEOPLE, fmt="jira-wiki", item_id="10001")
    item = view(labels=("handoff:missing-fields", "keep-me"), comment=CommentRef("77", old))
    ops = plan([Target(item, (finding("ownerless", "outcome_owner"),))], PlanConfig(), PEOPLE)
    assert [(o.action, o.name, o.target) for o in ops] == [
        ("comment.update", "", "77"),
        ("label.add", "handoff:ownerless", ""),
        ("label.remove", "handoff:missing-fields", ""),
    ]


def test_findings_gone_turns_the_comment_into_the_all_clear() -> None:
    old = render_comment("github", [finding()], PEOPLE, fmt="github-md", item_id="acme/web#3")
    item = view("github", "acme/web#3", labels=("handoff:missing-fields",))
    item = replace(item, comment=CommentRef("5", old))
    ops = plan([Target(item)], PlanConfig(), PEOPLE)
    assert [o.action for o in ops] == ["comment.update", "label.remove"]
    assert "All clear — nothing missing as of this check." in ops[0].body
    assert replan([Target(item)], PlanConfig()) == []


def test_clean_item_without_comment_gets_nothing_unless_configured() -> None:
    target = Target(view("notion", "page-1", labels=("x",)))
    assert plan([target], PlanConfig(), PEOPLE) == []
    ops = plan([target], PlanConfig(all_clear_on_clean_items=True), PEOPLE)
    assert [o.action for o in ops] == ["comment.create", "property.set"]
    assert json.loads(ops[1].value) == {"select": {"name": "All clear"}}


def test_only_managed_labels_are_touched() -> None:
    item = view(labels=("handoff:stale", "handoff:custom", "customer"))
    cfg = PlanConfig(managed_labels=frozenset({"handoff:stale", "handoff:missing-fields"}))
    ops = plan([Target(item, (finding(),))], cfg, PEOPLE)
    labels = [(o.action, o.name) for o in ops if o.action.startswith("label")]
    assert labels == [("label.add", "handoff:missing-fields"), ("label.remove", "handoff:stale")]


def test_notion_gets_no_labels_but_a_property() -> None:
    target = Target(view("notion", "page-1", labels=("handoff:ownerless",)), (finding(),))
    ops = plan([target], PlanConfig(notion_property="Check"), PEOPLE)
    assert [(o.action, o.name) for o in ops] == [("comment.create", ""), ("property.set", "Check")]
    assert json.loads(ops[1].value) == {"select": {"name": "Missing fields"}}
    assert ops[0].marker in json.loads(ops[0].body)[-1]["text"]["content"]


@pytest.mark.parametrize("ptype", ["select", "status", "rich_text"])
def test_notion_property_read_back_in_api_shape_is_not_rewritten(ptype: str) -> None:
    cfg = PlanConfig(notion_property_type=ptype)  # type: ignore[arg-type]
    target = Target(view("notion", "page-1"), (finding(),))
    assert replan([target], cfg, plain=True) == []


def test_jira_entity_property_when_configured() -> None:
    cfg = PlanConfig(jira_entity_property=True, jira_format="adf")
    target = Target(view(), (finding(),))
    ops = plan([target], cfg, PEOPLE)
    assert [o.action for o in ops] == ["comment.create", "label.add", "entity_property.set"]
    assert ops[-1].name == "handoff-sync.findings"
    assert json.loads(ops[-1].value)["count"] == 1
    assert json.loads(ops[0].body)["type"] == "doc"
    assert replan([target], cfg, plain=True) == []
    assert plan([Target(view())], cfg, PEOPLE) == []  # clean and never engaged: nothing


def test_order_is_deterministic_across_input_order() -> None:
    targets = [
        Target(view("github", "acme/web#3"), (finding(),)),
        Target(view("jira", "10001"), (finding(),)),
        Target(view("notion", "page-1"), (finding(),)),
    ]
    one = plan(targets, PlanConfig(), PEOPLE)
    assert one == plan(targets[::-1], PlanConfig(), PEOPLE)
    assert [o.system for o in one if o.action == "comment.create"] == ["github", "jira", "notion"]


def test_an_item_listed_twice_gets_one_comment_with_all_findings() -> None:
    a = Target(view(), (finding(subject="a"),))
    b = Target(view(), (finding(subject="b"),))
    ops = plan([a, b], PlanConfig(), PEOPLE)
    assert [o.action for o in ops].count("comment.create") == 1
    assert "2 things are missing" in ops[0].body


def test_unknown_system_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match="expected jira, github or notion"):
        plan([Target(ItemView("gitlab", "s", "1", "k"), (finding(),))], PlanConfig(), PEOPLE)


def test_view_from_a_pulled_item() -> None:
    item = SourceItem(
        "notion",
        "notion:db",
        "page-1",
        "Checkout test",
        "https://notion.so/page-1",
        "page",
        datetime(2026, 1, 1, tzinfo=UTC),
        fields={"Check": {"type": "select", "select": {"name": "All clear"}}},
        comment=CommentRef("c1", "text"),
    )
    got = ItemView.from_item(item, property_name="Check")
    assert got.comment == CommentRef("c1", "text") and got.url == "https://notion.so/page-1"
    assert json.loads(got.property_value or "") == {
        "type": "select",
        "select": {"name": "All clear"},
    }


# --- describe -----------------------------------------------------------------------------


def test_describe_shows_a_readable_diff_per_item() -> None:
    old = render_comment("jira", [finding()], PEOPLE, fmt="jira-wiki", item_id="10001")
    item = view(
        url="https://acme.atlassian.net/browse/EXP-1",
        labels=("handoff:missing-fields",),
        comment=CommentRef("77", old),
    )
    new = view("github", "acme/web#3", url="https://github.com/acme/web/pull/3")
    targets = [Target(item, (finding("ownerless", "outcome_owner"),)), Target(new, (finding(),))]
    ops = plan(targets, PlanConfig(), PEOPLE)
    text = describe(ops, [item, new])
    assert text == describe(ops, [item, new])
    assert text.startswith("5 writes on 2 items:")
    assert "github acme/web#3  https://github.com/acme/web/pull/3\n  comment: create\n" in text
    assert "    **Handoff check:** 1 thing is missing before this can run." in text
    assert "jira EXP-1  https://acme.atlassian.net/browse/EXP-1\n  comment: edit 77" in text
    assert "    -* *Blocker · Missing:* hypothesis is missing. Add it in EXP\\-1." in text
    assert "    +* *Blocker · No owner:* outcome\\_owner is missing." in text
    assert "  labels: +handoff:ownerless -handoff:missing-fields" in text
    assert "\x1b" not in text
    assert describe([]) == "Nothing to write: every item already shows its findings."


def test_describe_property_changes() -> None:
    item = view("notion", "page-1", property_value=notion_answer('{"select":{"name":"Stale"}}'))
    ops = plan([Target(item, (finding(),))], PlanConfig(), PEOPLE)
    assert '  property "Handoff check": Stale -> Missing fields' in describe(ops, [item])


# --- the invariant: apply the plan, plan again, nothing left -------------------------------

SUBJECTS = ["hypothesis", "primary_metric", "outcome_owner", "expiry"]
LABELS = ["handoff:missing-fields", "handoff:ownerless", "handoff:stale", "team-a", "Customer"]

findings_st = st.lists(
    st.builds(
        finding,
        code=st.sampled_from(CODES),
        subject=st.sampled_from(SUBJECTS),
        severity=st.sampled_from(["error", "warning", "info"]),
        message=st.text(max_size=40),
        notify=st.lists(st.sampled_from(["alice", "bob", "carol"]), max_size=2).map(tuple),
        escalation=st.integers(0, 3),
        item_id=st.sampled_from(["10001", "acme/web#3", "page-1"]),
    ),
    max_size=5,
)


@st.composite
def targets_st(draw: st.DrawFn) -> list[Target]:
    targets = []
    for system, item_id in [("jira", "10001"), ("github", "acme/web#3"), ("notion", "page-1")]:
        if not draw(st.booleans()):
            continue
        findings = tuple(draw(findings_st))
        old = draw(
            st.one_of(
                st.none(),
                st.text(max_size=30),
                findings_st.map(
                    lambda fs, s=system, i=item_id: render_comment(
                        s, fs, PEOPLE, fmt="jira-wiki" if s == "jira" else "github-md", item_id=i
                    )
                ),
            )
        )
        prop = draw(
            st.sampled_from(
                [None, "", "{}", '{"select":null}', '{"select":{"name":"Stale"}}', "not json"]
            )
        )
        item = view(
            system,
            item_id,
            labels=tuple(draw(st.lists(st.sampled_from(LABELS), unique=True, max_size=4))),
            comment=None if old is None else CommentRef("c0", old),
            property_value=prop if system == "notion" else None,
            entity_property=draw(st.sampled_from([None, '{"count":9}']))
            if system == "jira"
            else None,
        )
        targets.append(
            Target(item, findings, (("EXP-1", "https://acme.atlassian.net/browse/EXP-1"),))
        )
    return targets


cfg_st = st.builds(
    PlanConfig,
    jira_format=st.sampled_from(["wiki", "adf"]),
    notion_property_type=st.sampled_from(["select", "status", "rich_text"]),
    jira_entity_property=st.booleans(),
    all_clear_on_clean_items=st.booleans(),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(targets=targets_st(), cfg=cfg_st, plain=st.booleans())
def test_planning_after_applying_a_plan_gives_nothing(
    targets: list[Target], cfg: PlanConfig, plain: bool
) -> None:
    ops = plan(targets, cfg, PEOPLE)
    assert ops == plan(list(reversed(targets)), cfg, PEOPLE)  # deterministic
    for t in targets:
        mine = [o for o in ops if o.item_id == t.item.item_id]
        assert sum(o.action.startswith("comment.") for o in mine) <= 1
        removed = {o.name for o in mine if o.action == "label.remove"}
        assert not removed & {"team-a", "Customer"}
        if not t.findings and t.item.comment is None and not cfg.all_clear_on_clean_items:
            # Nothing to say and never said anything: only stale marks of ours are cleared.
            assert not [o for o in mine if o.action.startswith("comment.")]
            for op in mine:
                if op.action.endswith("property.set"):
                    assert "All clear" in op.value or '"status":"clear"' in op.value
    assert replan(targets, cfg, plain) == []


# --- duplicates of our comment (issue 11) ---------------------------------------------------


@pytest.mark.parametrize("system", ["jira", "github", "notion"])
def test_later_copies_of_our_comment_are_deleted_and_the_oldest_kept(system: str) -> None:
    item = {"jira": "10001", "github": "acme/web#3", "notion": "p1"}[system]
    ref = CommentRef("100", "whatever", duplicates=("101", "102"))
    ops = plan([Target(view(system, item, comment=ref), (finding(),))], PlanConfig(), PEOPLE)
    deletes = [op for op in ops if op.action == "comment.delete"]
    assert [op.target for op in deletes] == ["101", "102"]
    assert all(op.target != "100" for op in ops if op.action != "comment.update")
    assert "comment: delete 101" in describe(ops)


@pytest.mark.parametrize("system", ["jira", "github", "notion"])
def test_the_marker_names_the_item_by_its_uid_when_known(system: str) -> None:
    ops = plan([Target(view(system, "acme/web#3", uid="4242"), (finding(),))], PlanConfig(), PEOPLE)
    (create,) = [op for op in ops if op.action == "comment.create"]
    assert create.marker == marker_for(system, "4242") != marker_for(system, "acme/web#3")
    assert (
        create.marker in adf_to_text(json.loads(create.body))
        if system == "jira" and (create.body.startswith("{"))
        else create.marker in create.body
    )


@pytest.mark.parametrize("plain", [False, True])
def test_a_comment_marked_by_the_older_id_marker_is_current_not_rewritten(plain: bool) -> None:
    """Comments written before markers named the item by its uid stay as they are while
    their visible text is what we would write: a grown marker alone rewrites nothing."""
    old = plan([Target(view("github", "acme/web#3"), (finding(),))], PlanConfig(), PEOPLE)
    (create,) = [op for op in old if op.action == "comment.create"]
    ref = CommentRef("100", shown_text(create, plain))

    again = plan(
        [Target(view("github", "acme/web#3", uid="4242", comment=ref), (finding(),))],
        PlanConfig(),
        PEOPLE,
    )

    assert [op for op in again if op.action.startswith("comment.")] == []
