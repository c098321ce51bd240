"""The demo's live edit: a person fills in a missing field, through the service's own API.

`handoff demo --live` makes this edit once `handoff serve` is running and the sandbox sends
its webhooks, then watches our comment on the linked Notion page change. The edit goes
through Jira's REST API like any person's, so its webhook is the real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from .workspace import DEFAULT_TOKENS, JIRA_EMAIL

__all__ = ["LIVE", "LiveEdit", "live_comment", "make_live_edit"]


@dataclass(frozen=True)
class LiveEdit:
    who: str
    issue: str
    field: str
    value: str
    page: str  # the Notion page of the same handoff, where the comment is watched

    @property
    def told(self) -> str:
        return f"{self.who} sets {self.field} on {self.issue} in Jira"


# EXP-107 is in design with no primary metric; its Notion brief's comment says so.
LIVE = LiveEdit(
    who="Isla Brown",
    issue="EXP-107",
    field="Primary metric",
    value="gift-wrap attach rate",
    page="13207e3d-5722-430f-ac97-d69b4904d39d",
)


def _token(system: str) -> str:
    return next(t for t, access in DEFAULT_TOKENS[system].items() if access == "write")


def make_live_edit(sb: Any, edit: LiveEdit = LIVE) -> None:
    """Set the field on the issue through Jira's REST API (PUT /rest/api/3/issue/{key})."""
    fields = sb.workspace["jira"]["fields"]
    field_id = next(f["id"] for f in fields if f["name"] == edit.field)
    r = requests.put(
        f"{sb.url}/rest/api/3/issue/{edit.issue}",
        json={"fields": {field_id: edit.value}},
        auth=(JIRA_EMAIL, _token("jira")),
        timeout=10,
    )
    r.raise_for_status()


def live_comment(sb: Any, edit: LiveEdit = LIVE) -> str:
    """Our comment on the watched Notion page, as Notion's API shows it ("" if none)."""
    r = requests.get(
        f"{sb.url}/v1/comments",
        params={"block_id": edit.page, "page_size": "100"},
        headers={"Authorization": f"Bearer {_token('notion')}", "Notion-Version": "2025-09-03"},
        timeout=10,
    )
    r.raise_for_status()
    texts = ["".join(t["plain_text"] for t in c["rich_text"]) for c in r.json()["results"]]
    return next((t for t in texts if "handoff-sync:" in t), "")
