"""Which deliveries a served sync must act on, from their bodies alone: a burst that is only the
echo of our own writes (our marker comment, our labels, changed by our own account) is done
without a sync; a person's change in the same burst, another change made with our token, or a
delivery not understood still syncs. A person's Notion comment names the page whose comments
to read; our bot's comment names none."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sync.serve.targets import comment_reads, echo_only
from sync.store import InboxRow, memory_store

US = {"github": "handoff-bot", "jira": "acc-bot", "notion": "bot-0001"}
LABELS = frozenset({"handoff:missing-fields", "handoff:unlinked"})
PAGE = "9a8b7c6d-0000-4000-8000-0000000000a1"
OUR_TEXT = "*Handoff check:* all clear. handoff-sync:abc/def"


def _github(login: str | None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"action": "edited", "number": 2,
                            "repository": {"full_name": "acme/web"}, **extra}
    if login:
        body["sender"] = {"login": login, "type": "User"}
    return body


def _jira(user: str, author: str, text: str = OUR_TEXT) -> dict[str, Any]:
    return {"webhookEvent": "comment_updated", "user": {"accountId": user},
            "issue": {"key": "EXP-2"},
            "comment": {"author": {"accountId": author}, "updateAuthor": {"accountId": author},
                        "body": text}}


def _notion(kind: str, *authors: tuple[str, str]) -> dict[str, Any]:
    return {"type": kind, "authors": [{"id": i, "type": t} for i, t in authors],
            "entity": {"id": "c1", "type": "comment"},
            "data": {"page_id": PAGE, "parent": {"id": PAGE, "type": "page"}}}


def _rows(*deliveries: tuple[str, dict[str, Any]]) -> tuple[list[InboxRow], Any]:
    store = memory_store()
    for n, (system, body) in enumerate(deliveries):
        store.inbox_put(system, f"d{n}", json.dumps(body).encode(), datetime.now(UTC))
    return store.inbox_pending(), store.inbox_body


OURS = [
    ("github", _github("handoff-bot", comment={"id": 7, "body": OUR_TEXT})),
    ("github", _github("handoff-bot", action="unlabeled", label={"name": "handoff:unlinked"})),
    ("jira", _jira("acc-bot", "acc-bot")),
    ("notion", _notion("comment.updated", ("bot-0001", "bot"))),
]


def test_a_burst_of_our_own_writes_echo_needs_no_sync() -> None:
    rows, body = _rows(*OURS)
    assert echo_only(rows, body, US, LABELS)
    assert comment_reads(rows, body) == {}  # our comment is no command: nothing to read


def test_a_person_or_another_change_in_the_same_burst_still_syncs() -> None:
    for theirs in [
        ("github", _github("ben-gh", comment={"id": 8, "body": "/handoff ack"})),
        ("github", _github(None, comment={"id": 7, "body": OUR_TEXT})),  # sender not known
        ("github", _github("handoff-bot", changes={"title": {"from": "x"}})),  # our token, a title
        ("github", _github("handoff-bot", action="labeled", label={"name": "bug"})),
        ("jira", _jira("acc-ben", "acc-ben", "/handoff ack")),
        ("jira", _jira("acc-bot", "acc-bot", "a note made with our token")),
        ("jira", {"webhookEvent": "jira:issue_updated", "user": {"accountId": "acc-bot"},
                  "changelog": {"items": [{"field": "description"}]}}),
        ("notion", _notion("comment.created", ("bot-0001", "bot"), ("u-ben", "person"))),
        ("notion", _notion("page.properties_updated", ("bot-0001", "bot"))),  # not told apart
        ("notion", _notion("comment.created")),  # no authors
    ]:
        rows, body = _rows(*OURS, theirs)
        assert not echo_only(rows, body, US, LABELS), theirs
    rows, body = _rows(*OURS)
    assert not echo_only(rows, body, {**US, "jira": ""}, LABELS)  # our Jira account unknown
    assert not echo_only([], body, US, LABELS)  # a poll is never an echo


def test_a_person_s_notion_comment_names_its_page_for_a_comment_read() -> None:
    rows, body = _rows(*OURS, ("notion", _notion("comment.created", ("u-ben", "person"))),
                       ("notion", _notion("comment.deleted", ("u-ben", "person"))))
    assert comment_reads(rows, body) == {"notion": {PAGE}}


def test_our_step_reply_is_our_own_write_too() -> None:
    """Issue 17: a reply per escalation step is a new comment of ours with its own marker
    (sync.writeback.steps); its creation and its "done" edit come back as deliveries that need
    no sync, like our sticky comment's."""
    from sync.writeback.steps import step_marker

    marker = step_marker("github", "acme/web#2", "f", 1)
    reply = f"@ana: this needs you now (escalation step 2, approver). {marker}"
    ours = [
        ("github", _github("handoff-bot", action="created", comment={"id": 9, "body": reply})),
        ("jira", {**_jira("acc-bot", "acc-bot", reply), "webhookEvent": "comment_created"}),
        ("jira", _jira("acc-bot", "acc-bot", reply)),  # edited to say done
    ]
    rows, body = _rows(*OURS, *ours)
    assert echo_only(rows, body, US, LABELS)
    # The same words with another account's login are a person's: a sync.
    rows, body = _rows(("github", _github("ben-gh", action="created",
                                          comment={"id": 9, "body": reply})))
    assert not echo_only(rows, body, US, LABELS)
