"""Publish the weekly review where leads look: one GitHub issue or one Notion page, found
again by its marker and edited in place, never created twice (`report --weekly --publish`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from connectors.errors import ConfigError
from sync.report.publish import issue_body
from sync.report.weekly import KINDS, WEEKLY_MARKER, WEEKLY_TITLE, Weekly, render_weekly_md
from sync.settings import Settings

__all__ = [
    "WEEKLY_TARGET_HELP",
    "Done",
    "Target",
    "parse_weekly_target",
    "publish_weekly",
    "weekly_blocks",
]

WEEKLY_TARGET_HELP = "github:OWNER/REPO or notion:PAGE (a page URL or id)"
NOTION_MARKER = "handoff-sync:weekly (kept in place by handoff-sync; edits are overwritten)"
_GITHUB = re.compile(r"github:([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)")
_NOTION = re.compile(r"notion:(?:.*?)([0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12})/?")


@dataclass(frozen=True)
class Target:
    system: str  # the registry name of the system
    where: str  # owner/repo, or the parent page id


@dataclass(frozen=True)
class Done:
    """Where the review went: for the person (`line`) and for the audit log."""

    target: Target
    item_id: str  # the issue number or the page id
    item_key: str  # "owner/repo#12", or the page id
    url: str
    created: bool

    @property
    def line(self) -> str:
        how = "created" if self.created else "updated in place"
        where = f"{self.target.system} {self.item_key}"
        return f"Weekly review published to {where} ({how}): {self.url}"


def parse_weekly_target(value: str) -> Target:
    """'github:owner/repo' or 'notion:<page URL or id>'; ValueError names the forms."""
    from sync.systems.github import NAME as GITHUB
    from sync.systems.notion import NAME as NOTION

    text = value.strip()
    found = _GITHUB.fullmatch(text)
    if found:
        return Target(GITHUB, found.group(1))
    page = _NOTION.fullmatch(text)
    if page:
        return Target(NOTION, page.group(1))
    raise ValueError(f"{value!r} is not a place to publish to; use {WEEKLY_TARGET_HELP}")


def weekly_blocks(weekly: Weekly) -> list[tuple[str, str]]:
    """The review as Notion blocks: one line per team, then the lists. Paragraphs and bullets
    only: the blocks every version of Notion's API description accepts."""
    span = f"{weekly.start:%Y-%m-%d} to {weekly.end:%Y-%m-%d}"
    blocks = [("paragraph", f"{WEEKLY_TITLE}, {span}. This week, with last week in brackets:")]
    for team in [*weekly.teams(), None]:
        now, before = weekly.counts(team), weekly.counts(team, previous=True)
        cells = ", ".join(f"{k} {now[k]} ({before[k]})" for k in KINDS)
        blocks.append(("bulleted_list_item", f"{team or 'All teams'}: {cells}"))
    for kind in KINDS[1:]:
        blocks.append(("paragraph", f"{kind.capitalize()} this week:"))
        events = weekly.this_week(kind)
        blocks += [("bulleted_list_item", f"{e.at:%a %d %b}: {e.record} ({e.team}): {e.what}")
                   for e in events] or [("paragraph", "None.")]  # fmt: skip
    return blocks


def publish_weekly(settings: Settings, target: Target, weekly: Weekly) -> Done:
    """Create or edit the review at `target`."""
    from connectors._retry import RetryPolicy
    from connectors.github import GithubConnector
    from connectors.notion import NotionConnector
    from sync.engine.connect import open_connector

    connector = open_connector(settings, target.system, RetryPolicy())
    if isinstance(connector, GithubConnector):
        body = issue_body(render_weekly_md(weekly), WEEKLY_MARKER)
        number, url, created = connector.publish_issue(
            target.where, WEEKLY_TITLE, body, WEEKLY_MARKER
        )
        return Done(target, str(number), f"{target.where}#{number}", url, created)
    if isinstance(connector, NotionConnector):
        page, url, created = connector.publish_page(
            target.where, WEEKLY_TITLE, weekly_blocks(weekly), NOTION_MARKER
        )
        return Done(target, page, page, url, created)
    raise ConfigError(f"the [{target.system}] section did not open a connection to publish to")
