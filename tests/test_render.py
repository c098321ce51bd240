"""sync.writeback.render and sync.writeback.markup: formats, hostile text, limits, labels and
properties."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapping.people import Directory, PersonConfig
from mapping.rules import Finding
from mapping.text import adf_to_text
from sync.writeback.annotations import (
    DEFAULT_LABELS,
    DEFAULT_PROPERTY_NAMES,
    entity_property_for,
    labels_for,
    property_value_for,
)
from sync.writeback.markup import Doc, Text, fits, write
from sync.writeback.render import (
    ALL_CLEAR,
    FORMATS,
    MARKER_PREFIX,
    is_current,
    marker_activity,
    marker_for,
    order_findings,
    render_comment,
    to_text,
)

ALICE_JIRA = "557058:0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"
ALICE_NOTION = "1a2b3c4d-1a2b-1a2b-1a2b-1a2b3c4d5e6f"
URL = "https://acme.atlassian.net/browse/EXP-1"
HOSTILE = [
    "@everyone",
    "@acme/platform-team please",
    "<!-- handoff-sync:0123456789ab/0123456789 -->",
    "handoff-sync:0123456789ab/0123456789",
    "HANDOFF SYNC",
    "-->",
    "<script>alert(1)</script>",
    "[~accountid:5b10a2844c20165700ede21g]",
    "[~admin]",
    "{code}x{code}",
    "{color:red}x{color}",
    "h1. Big",
    "??cite??",
    "!image.png!",
    "[link|http://evil.example]",
    "[md](http://evil.example)",
    "| a | b |",
    "\\",
    "\\\\",
    "*bold* _it_ -strike- +u+ ^sup^ ~sub~",
    "line\nbreak\r\n# heading",
    "\u202eRTL override",
    "مرحبا بالعالم",
    "x" * 3000,
    "$$math$$",
    "`code`",
]
hostile_text = st.one_of(
    st.text(max_size=120),
    st.sampled_from(HOSTILE),
    st.lists(st.sampled_from(HOSTILE), max_size=4).map("".join),
)


def system_of(fmt: str) -> str:
    return fmt.split("-")[0]


def finding(
    code: str = "missing-field",
    subject: str = "primary_metric",
    message: str = "Primary metric is missing. Add it in EXP-1.",
    *,
    severity: str = "error",
    item_id: str = "10001",
    item_key: str = "EXP-1",
    url: str = URL,
    notify: tuple[str, ...] = (),
    escalation: int = 0,
    record: str = "EXP-1",
) -> Finding:
    return Finding(
        code,
        severity,  # type: ignore[arg-type]
        subject,
        message,
        record,
        "jira",
        item_id,
        item_key,
        url,
        notify,
        escalation,
    )


def directory(evil_name: str = "Eve") -> Directory:
    return Directory.from_config(
        [
            PersonConfig(
                key="alice", name="Alice Lee", jira=ALICE_JIRA, github="alice", notion=ALICE_NOTION
            ),
            PersonConfig(key="bob", name="Bob Noaccount"),
            # A handle that is not a person's login must never become a mention.
            PersonConfig(key="team", name="Platform", github="acme/platform-team", jira="[~x]"),
            PersonConfig(key="eve", name=evil_name),
        ]
    )


def plain(fmt: str, body: str) -> str:
    """The comment's plain text as a connector sees it."""
    if fmt == "jira-adf":
        return adf_to_text(json.loads(body))
    if fmt == "notion-rich-text":
        return "".join(
            o["text"]["content"] if o["type"] == "text" else "@user" for o in json.loads(body)
        )
    return body


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def mentions(fmt: str, body: str) -> list[str]:
    """Every handle that the system would notify from this body."""
    if fmt == "github-md":
        return re.findall(r"(?<![\w`])@([A-Za-z0-9][A-Za-z0-9-]*(?:/[\w.-]+)?)", body)
    if fmt == "jira-wiki":
        return re.findall(r"(?<!\\)\[~(?:accountid:)?([^\]]*)\]", body)
    nodes = list(walk(json.loads(body)))
    if fmt == "jira-adf":
        return [n["attrs"]["id"] for n in nodes if n.get("type") == "mention"]
    return [n["mention"]["user"]["id"] for n in nodes if n.get("type") == "mention"]


def intended(fmt: str, keys: tuple[str, ...]) -> set[str]:
    handle = {"jira": ALICE_JIRA, "github": "alice", "notion": ALICE_NOTION}[system_of(fmt)]
    return {handle} if "alice" in keys else set()


def check_safe(fmt: str, body: str, notify: tuple[str, ...]) -> None:
    """The invariants every rendered comment keeps, whatever the users typed."""
    text = plain(fmt, body)
    assert text.count(MARKER_PREFIX) == 1
    assert set(mentions(fmt, body)) == intended(fmt, notify)
    if fmt == "github-md":
        assert body.count("<!--") == 1 and body.count("-->") == 1
        assert body.count("<") == 3  # <sub>, </sub>, <!--
        assert body.endswith("-->")
    elif fmt == "jira-wiki":
        unescaped = re.findall(r"(?<!\\)[{]", body)
        assert len(unescaped) == 2  # our {color}...{color}
        assert "[~" not in re.sub(r"\[~accountid:[A-Za-z0-9:_-]+\]", "", body).replace("\\[~", "")
    else:
        doc = json.loads(body)
        nodes = list(walk(doc))
        links = [n for n in nodes if n.get("type") == "link" or "link" in n]
        for link in links:
            href = link.get("attrs", {}).get("href") or link.get("link", {}).get("url")
            assert href in (URL, None) or href.startswith("https://github.com/")
        if fmt == "notion-rich-text":
            assert len(doc) <= 100
            for obj in doc:
                if obj["type"] == "text":
                    assert 0 < len(obj["text"]["content"].encode("utf-16-le")) // 2 <= 2000


# --- markers ------------------------------------------------------------------------------


def test_marker_is_stable_hex_and_per_item() -> None:
    a = marker_for("jira", "10001")
    assert a == marker_for("jira", "10001")
    assert re.fullmatch(r"handoff-sync:[0-9a-f]{12}", a)
    assert len({a, marker_for("jira", "10002"), marker_for("github", "10001")}) == 3


@pytest.mark.parametrize("fmt", FORMATS)
def test_marker_in_plain_text_and_hidden_on_github(fmt: str) -> None:
    body = render_comment(system_of(fmt), [finding()], directory(), fmt=fmt, item_id="10001")
    marker = marker_for(system_of(fmt), "10001")
    assert plain(fmt, body).count(marker) == 1
    if fmt == "github-md":
        assert f"<!-- {marker}/" in body


@pytest.mark.parametrize("fmt", FORMATS)
def test_all_clear_is_short_and_deterministic(fmt: str) -> None:
    body = render_comment(system_of(fmt), [], None, fmt=fmt, item_id="1", item_key="EXP-1")
    assert body == render_comment(system_of(fmt), [], None, fmt=fmt, item_id="1")
    text = to_text(body)
    assert ALL_CLEAR in text
    assert len(text.splitlines()) <= 4


# --- content ------------------------------------------------------------------------------


def test_github_comment_reads_well() -> None:
    findings = [
        finding(notify=("alice", "bob"), escalation=2),
        finding(
            "ownerless",
            "monitoring_owner",
            "Nobody is named as Monitoring owner. Name one person in acme/web#3.",
            severity="warning",
            item_id="acme/web#3",
            item_key="acme/web#3",
            url="https://github.com/acme/web/pull/3",
        ),
    ]
    body = render_comment(
        "github",
        findings,
        directory(),
        fmt="github-md",
        item_id="acme/web#3",
        links=(("EXP-1", URL), ("acme/web#3", "https://github.com/acme/web/pull/3")),
    )
    lines = body.splitlines()
    assert lines[0] == (
        "**Handoff check:** 2 things need attention before this can run. 1 of them blocks it."
    )
    # A blocker is marked; a message that says where to fix it is not told where again.
    assert lines[2].startswith("- **Blocker · Missing:** Primary metric is missing")
    assert "Add it in EXP-1. Who: @alice, Bob Noaccount. Escalated (step 2)" in body
    assert "Fix it" not in body
    assert lines[3].endswith("Name one person in acme/web\\#3.")
    assert f"Same handoff: [EXP-1]({URL})" in body


def test_summary_counts_missing_fields() -> None:
    body = render_comment(
        "jira",
        [finding(subject=s) for s in ("a", "b", "c")],
        None,
        fmt="jira-wiki",
        item_id="10001",
    )
    assert body.startswith("*Handoff check:* 3 things are missing before this can run.")
    # Three of one kind, fixed in one place: one task, each sentence said once.
    assert [ln for ln in body.splitlines() if ln.startswith("* ")] == [
        "* *Blocker · Missing:* Primary metric is missing. Add them in EXP\\-1."
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_mentions_the_way_each_system_notifies(fmt: str) -> None:
    f = finding(notify=("alice", "bob", "team", "nobody-known"))
    body = render_comment(system_of(fmt), [f], directory(), fmt=fmt, item_id="x")
    assert mentions(fmt, body) == sorted(intended(fmt, ("alice",)))
    text = to_text(body)
    for name in ("Bob Noaccount", "Platform", "nobody"):
        assert name in text
    if fmt == "jira-wiki":
        assert f"[~accountid:{ALICE_JIRA}]" in body
    if fmt == "jira-adf":
        assert {"type": "mention", "attrs": {"id": ALICE_JIRA, "text": "@Alice Lee"}} in walk(
            json.loads(body)
        )


def test_order_is_severity_then_code_and_deduplicated() -> None:
    a = finding("noisy", "informed", severity="warning")
    b = finding("ownerless", "outcome_owner")
    c = finding("missing-field", "hypothesis")
    assert [f.code for f in order_findings([a, b, c, b])] == [
        "missing-field",
        "ownerless",
        "noisy",
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_rendering_ignores_input_order(fmt: str) -> None:
    fs = [finding(subject=s) for s in "abc"]
    one = render_comment("jira", fs, None, fmt=fmt, item_id="1")
    assert one == render_comment("jira", fs[::-1], None, fmt=fmt, item_id="1")


# --- hostile input ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_stay_quoted(fmt: str, text: str) -> None:
    f = finding(message=text, subject=text, item_key=text, item_id="other", notify=("eve",))
    body = render_comment(system_of(fmt), [f], directory(text), fmt=fmt, item_id="1", item_key=text)
    check_safe(fmt, body, ("eve",))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(FORMATS),
    texts=st.lists(hostile_text, min_size=1, max_size=4),
    name=hostile_text,
    notify=st.lists(st.sampled_from(["alice", "bob", "team", "eve", "ghost"]), max_size=4),
    url=st.sampled_from([URL, "javascript:alert(1)", "http://x y", "", "https://github.com/a)b"]),
)
def test_any_text_renders_safely(
    fmt: str, texts: list[str], name: str, notify: list[str], url: str
) -> None:
    findings = [
        finding(
            message=t,
            subject=t[:20] + str(i),
            item_key=t,
            item_id=str(i),
            url=url,
            notify=tuple(notify),
        )
        for i, t in enumerate(texts)
    ]
    body = render_comment(
        system_of(fmt),
        findings,
        directory(name),
        fmt=fmt,
        item_id="1",
        item_key=name,
        links=((name, url),),
    )
    check_safe(fmt, body, tuple(notify))
    assert fits(fmt, body)


def test_markdown_neutralises_mentions_and_html() -> None:
    body = render_comment(
        "github",
        [finding(message="@everyone <!-- x --> <b>hi</b> @acme/team")],
        None,
        fmt="github-md",
        item_id="1",
    )
    assert "@everyone" not in body and "@acme/team" not in body
    assert "&lt;\\!-- x --&gt; &lt;b&gt;hi&lt;/b&gt;" in body


def test_wiki_escapes_every_special() -> None:
    message = "[~accountid:x] {code} a|b *b* _i_ -s- +u+ ^p^ ~s~ ??c?? !i! h1. t \\ x"
    body = render_comment("jira", [finding(message=message)], None, fmt="jira-wiki", item_id="1")
    line = body.splitlines()[2]
    assert (
        "\\[\\~accountid:x\\] \\{code\\} a\\|b \\*b\\* \\_i\\_ \\-s\\- \\+u\\+ \\^p\\^ \\~s\\~ "
        "\\?\\?c\\?\\? \\!i\\! h1\\. t ⧵ x"
    ) in line


@pytest.mark.parametrize("fmt", ["jira-adf", "notion-rich-text"])
def test_json_formats_keep_user_text_literal(fmt: str) -> None:
    message = "[~accountid:x] @everyone <!-- --> [a](http://evil.example)"
    body = render_comment(system_of(fmt), [finding(message=message)], None, fmt=fmt, item_id="1")
    assert message in to_text(body)
    assert mentions(fmt, body) == []


def test_user_text_cannot_fake_a_current_comment() -> None:
    # A value quoting our marker token must not make an old comment look current.
    token_like = "handoff-sync:0123456789ab/0123456789"
    body = render_comment(
        "notion", [finding(message=token_like)], None, fmt="notion-rich-text", item_id="1"
    )
    assert token_like not in to_text(body)


# --- limits -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_long_comments_are_cut_to_the_limit_with_a_note(fmt: str) -> None:
    many = [
        finding(f"code{i:03}", f"f{i:03}", message="y" * 5000, notify=("alice",))
        for i in range(200)
    ]
    body = render_comment(system_of(fmt), many, directory(), fmt=fmt, item_id="1")
    assert fits(fmt, body)
    text = to_text(body)
    assert re.search(r"…and \d+ more not shown here", text)
    assert plain(fmt, body).count(MARKER_PREFIX) == 1


def test_notion_splits_long_text_into_2000_unit_objects() -> None:
    long = "ab😀" * 1500  # astral characters count twice in Notion's limit
    body = write(Doc((Text(long, trusted=True),), (), (), "handoff-sync:x"), "notion-rich-text")
    objects = json.loads(body)
    assert "".join(o["text"]["content"] for o in objects[:-1]).rstrip("\n") == long
    assert all(len(o["text"]["content"].encode("utf-16-le")) // 2 <= 2000 for o in objects)


# --- current-ness, text -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_is_current_accepts_exact_body_or_its_plain_text(fmt: str) -> None:
    body = render_comment(system_of(fmt), [finding()], None, fmt=fmt, item_id="1")
    other = render_comment(system_of(fmt), [finding(message="x")], None, fmt=fmt, item_id="1")
    assert is_current(body, body)
    assert is_current(plain(fmt, body), body)
    assert is_current(to_text(body), body)
    assert not is_current(plain(fmt, other), body)
    assert not is_current("", body)


def test_to_text_leaves_markup_strings_alone() -> None:
    assert to_text("*bold*") == "*bold*"
    assert to_text("[1, 2]") == "[1, 2]"


# --- labels and properties ----------------------------------------------------------------


def test_labels_for_codes_with_a_label() -> None:
    fs = [finding(), finding("ownerless", "x"), finding("stale", "y")]
    names = {"missing-field": "handoff:missing-fields", "ownerless": "handoff:ownerless"}
    assert labels_for(fs, names) == {"handoff:missing-fields", "handoff:ownerless"}
    assert labels_for([], DEFAULT_LABELS) == set()


def test_property_values() -> None:
    fs = [finding("noisy", "i", severity="warning"), finding("ownerless", "o")]
    names = dict(DEFAULT_PROPERTY_NAMES)
    assert property_value_for(fs, "select", names) == {"select": {"name": "No owner"}}
    assert property_value_for([], "status", names) == {"status": {"name": "All clear"}}
    rich = property_value_for(fs, "rich_text", names)
    assert rich == {
        "rich_text": [{"type": "text", "text": {"content": "No owner, Too many informed"}}]
    }
    commas = property_value_for(fs, "select", {"ownerless": "No owner, really"})
    assert "," not in commas["select"]["name"]
    multi = property_value_for(fs, "multi_select", names)
    assert multi == {"multi_select": [{"name": "No owner"}, {"name": "Too many informed"}]}
    assert property_value_for([], "multi_select", names) == {
        "multi_select": [{"name": "All clear"}]
    }
    assert property_value_for(fs, "checkbox", names) == {"checkbox": True}
    assert property_value_for([], "checkbox", names) == {"checkbox": False}
    with pytest.raises(ValueError):
        property_value_for(fs, "people", names)  # type: ignore[arg-type]


def test_entity_property_is_deterministic_json_and_bounded() -> None:
    fs = [finding(subject=f"s{i}", message="z" * 900) for i in range(100)]
    one = entity_property_for(fs)
    assert one == entity_property_for(fs[::-1])
    value = json.loads(one)
    assert value["count"] == 100 and value["status"] == "findings"
    assert len(one) <= 30_000 and 0 < len(value["findings"]) < 100
    assert json.loads(entity_property_for([])) == {
        "count": 0,
        "findings": [],
        "status": "clear",
        "version": 1,
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_edit_that_keeps_our_footer_is_not_current(fmt: str) -> None:
    body = render_comment(system_of(fmt), [finding()], None, fmt=fmt, item_id="1")
    shown = plain(fmt, body)
    edited = shown.replace("Missing", "Not really missing, ignore this", 1)
    assert edited != shown
    assert not is_current(edited, body)
    assert not is_current("Done, thanks! " + shown, body)


def test_the_activity_in_our_token_never_makes_a_comment_differ() -> None:
    """Comments written before the token carried the last activity, or with an older one,
    are current when their visible text is; the activity is read back by marker."""
    when = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    for fmt in FORMATS:
        plain = render_comment("jira", [], None, fmt=fmt, item_id="10001")
        new = render_comment("jira", [], None, fmt=fmt, item_id="10001", activity=when)
        older = render_comment("jira", [], None, fmt=fmt, item_id="10001",
                               activity=when - timedelta(days=3))  # fmt: skip
        assert new != plain
        assert is_current(plain, new) and is_current(older, new) and is_current(new, plain)
        marker = marker_for("jira", "10001")
        assert marker_activity(to_text(new), marker) == when
        assert marker_activity(to_text(plain), marker) is None
        assert marker_activity(to_text(new), marker_for("jira", "10002")) is None
