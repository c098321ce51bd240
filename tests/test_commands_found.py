"""Which comments a pull hands over as people's commands: a person's, never ours or an app's."""

from __future__ import annotations

from connectors.base import may_command
from connectors.github_comments import _is_said
from connectors.jira_text import adf_plain_text
from connectors.notion_text import said_in


def test_our_own_comments_are_never_commands() -> None:
    assert may_command("please /handoff ack")
    assert not may_command("✓ ben: /handoff ack — done\n<!-- handoff-sync:abc -->")
    assert not may_command("no command")


def test_github_a_person_not_us_nor_an_app() -> None:
    body = {"body": "/handoff ack"}
    assert _is_said({**body, "user": {"login": "ben-gh", "type": "User"}}, "handoff-bot")
    assert not _is_said({**body, "user": {"login": "handoff-bot", "type": "Bot"}}, "handoff-bot")
    assert not _is_said({**body, "user": {"login": "ci[bot]", "type": "Bot"}}, "handoff-bot")
    assert not _is_said({**body, "user": None}, "handoff-bot")  # a deleted account


def test_jira_adf_mentions_read_as_wiki_mentions_for_commands_only() -> None:
    doc = {"type": "doc", "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "/handoff owner outcome "},
        {"type": "mention", "attrs": {"id": "acc-ben", "text": "@Ben"}},
    ]}]}  # fmt: skip
    assert adf_plain_text(doc, mentions=True) == "/handoff owner outcome [~accountid:acc-ben]"
    assert adf_plain_text(doc) == "/handoff owner outcome "


def test_notion_user_mentions_read_as_ids_and_bots_skipped() -> None:
    rich = [
        {"type": "text", "plain_text": "/handoff owner engineering "},
        {"type": "mention", "mention": {"type": "user", "user": {"id": "u-ana"}},
         "plain_text": "@Ana"},
    ]  # fmt: skip
    comments = [
        {"id": "c1", "created_by": {"id": "u-ben"}, "rich_text": rich,
         "created_time": "2026-11-01T10:00:00.000Z"},
        {"id": "c2", "created_by": {"id": "bot-us"}, "rich_text": rich},
        {"id": "c3", "created_by": {"id": "b2", "type": "bot"}, "rich_text": rich},
    ]  # fmt: skip
    (said,) = said_in(comments, "bot-us")
    assert (said.id, said.author, said.text) == ("c1", "u-ben", "/handoff owner engineering @u-ana")
    assert said.at.year == 2026
