"""Publish the leads' report where they already look: one GitHub issue, edited in place.

The issue is found again by a hidden marker in its body, never by a number kept in the state
(the report only reads a copy of the state). Each filtered report (`--team`, `--owner`) has a
marker of its own, so one team's report does not overwrite the report for everyone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from connectors.errors import ConfigError
from sync.report.data import Filters
from sync.settings import Settings

__all__ = ["BODY_LIMIT", "REPORT_MARKER", "Published", "issue_body", "marker_for", "publish"]

REPORT_MARKER = "<!-- handoff-sync:report -->"
BODY_LIMIT = 65536  # GitHub refuses a longer issue body (422)
CUT_NOTE = (
    "\n_The report is cut here: a GitHub issue holds at most 65,536 characters. "
    "Run `handoff report` for all of it._\n"
)
TARGET_HELP = "Publish the Markdown report as a GitHub issue: github:OWNER/REPO."
_TARGET = re.compile(r"github:([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)")


@dataclass(frozen=True)
class Published:
    where: str  # "owner/repo#12"
    url: str
    created: bool

    def describe(self) -> str:
        how = "opened" if self.created else "updated in place"
        return f"Report published to GitHub issue {self.where} ({how}): {self.url}"


def parse_target(value: str) -> str:
    """'github:owner/repo' -> 'owner/repo'; ValueError names the accepted form."""
    found = _TARGET.fullmatch(value.strip())
    if not found:
        raise ValueError(f"{value!r} is not a place to publish to; use github:OWNER/REPO")
    return found.group(1)


def marker_for(filters: Filters) -> str:
    """The hidden marker of this report: one for the whole team, one per team/owner filter."""
    parts = [f"{k}={_slug(v)}" for k, v in (("team", filters.team), ("owner", filters.owner)) if v]
    return f"<!-- handoff-sync:report {' '.join(parts)} -->" if parts else REPORT_MARKER


def _slug(value: str) -> str:
    # Inside an HTML comment: nothing that could close it ("-->") or break the match.
    return re.sub(r"[^A-Za-z0-9_.@]+", "_", value.strip()).lower()


def issue_title(filters: Filters) -> str:
    shown = [f"team {filters.team}" if filters.team else ""]
    shown.append(f"owner {filters.owner}" if filters.owner else "")
    which = " and ".join(s for s in shown if s)
    return f"Handoff report for {which}" if which else "Handoff report"


def issue_body(markdown: str, marker: str, limit: int = BODY_LIMIT) -> str:
    """The marker, then the report; cut at a line end with a note when GitHub would refuse it."""
    body = f"{marker}\n{markdown}"
    if len(body) <= limit:
        return body
    cut = body.rfind("\n", 0, limit - len(CUT_NOTE))
    return body[: max(cut, len(marker))] + "\n" + CUT_NOTE


def publish(settings: Settings, target: str, markdown: str, filters: Filters) -> Published:
    """Open or update the report's issue in repo `target` with the token of [github]."""
    from connectors._retry import RetryPolicy
    from connectors.github import GithubConnector
    from sync.engine.connect import open_connector
    from sync.systems.github import NAME as GITHUB

    connector = open_connector(settings, GITHUB, RetryPolicy())
    if not isinstance(connector, GithubConnector):  # pragma: no cover - open_connector's contract
        raise ConfigError("the [github] section did not open a GitHub connection")
    marker = marker_for(filters)
    number, url, created = connector.publish_issue(
        target, issue_title(filters), issue_body(markdown, marker), marker
    )
    return Published(f"{target}#{number}", url, created)
