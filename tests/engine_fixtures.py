"""A small team workspace and config for end-to-end engine tests against the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.sandbox import JIRA_EMAIL

DB_ID = "1f2e3d4c-5b6a-4789-9abc-def012345678"
ANA_NOTION = "0a1b2c3d-0000-4000-8000-000000000001"
BEN_NOTION = "0a1b2c3d-0000-4000-8000-000000000002"

PEOPLE = [
    {
        "key": "ana",
        "name": "Ana Souza",
        "email": "ana@example.com",
        "jira_account_id": "acc-ana",
        "github_login": "ana-gh",
        "notion_user_id": ANA_NOTION,
        "time_zone": "America/Sao_Paulo",
        "active": True,
    },
    {
        "key": "ben",
        "name": "Ben Okafor",
        "email": "ben@example.com",
        "jira_account_id": "acc-ben",
        "github_login": "ben-gh",
        "notion_user_id": BEN_NOTION,
        "time_zone": "Europe/Berlin",
        "active": True,
    },
]

FULL_BRIEF = (
    "h2. Hypothesis\nA bigger button lifts checkout conversion.\n\nh2. Primary metric\nConversion"
)


def workspace(stamp: str = "2026-11-01T09:00:00Z") -> dict[str, Any]:
    """Three Jira issues, two PRs and one Notion page, with a known set of problems:

    EXP-1 clean design brief; EXP-2 lacks only its hypothesis; EXP-3 lacks its hypothesis and
    has no outcome owner (no reporter); PR #1 links EXP-1; PR #2 links nothing; the Notion page
    links EXP-2 by URL.
    """
    return {
        "people": PEOPLE,
        "jira": {
            "projects": [{"key": "EXP", "name": "Experiments"}],
            "issues": [
                {
                    "key": "EXP-1",
                    "summary": "Bigger checkout button",
                    "status": "To Do",
                    "assignee": "ana",
                    "reporter": "ben",
                    "description": FULL_BRIEF,
                    "created": stamp,
                    "updated": stamp,
                },
                {
                    "key": "EXP-2",
                    "summary": "Free shipping banner",
                    "status": "To Do",
                    "assignee": "ana",
                    "reporter": "ben",
                    "description": "h2. Primary metric\nOrders per visitor",
                    "created": stamp,
                    "updated": stamp,
                },
                {
                    "key": "EXP-3",
                    "summary": "One-page checkout <script>alert(1)</script>",
                    "status": "To Do",
                    "assignee": "ana",
                    "reporter": None,
                    "description": "h2. Primary metric\nCheckout completion",
                    "created": stamp,
                    "updated": stamp,
                },
            ],
        },
        "github": {
            "repos": {
                "acme/web": {
                    "pulls": [
                        {
                            "number": 1,
                            "title": "EXP-1 bigger button",
                            "body": "## Rollback trigger\nConversion drops 2%",
                            "user": "ana-gh",
                            "head": "feature/exp-1",
                            "created_at": stamp,
                            "updated_at": stamp,
                        },
                        {
                            "number": 2,
                            "title": "Tidy CSS",
                            "body": "No ticket.",
                            "user": "ben-gh",
                            "head": "chore/css",
                            "created_at": stamp,
                            "updated_at": stamp,
                        },
                    ]
                }
            }
        },
        "notion": {
            "databases": [
                {
                    "id": DB_ID,
                    "title": "Experiment briefs",
                    "properties": {
                        "Name": "title",
                        "Jira": "url",
                        "Outcome owner": "people",
                        "Handoff check": "rich_text",
                    },
                    "pages": [
                        {
                            "id": "9a8b7c6d-0000-4000-8000-0000000000a1",
                            "created_time": stamp,
                            "last_edited_time": stamp,
                            "properties": {
                                "Name": "Free shipping banner brief",
                                "Jira": "https://example.atlassian.net/browse/EXP-2",
                                "Outcome owner": [BEN_NOTION],
                            },
                        }
                    ],
                }
            ]
        },
    }


def write_config(path: Path, url: str, state: Path, *, api_version: int = 2) -> Path:
    """A config pointing at a sandbox on `url` with the sandbox's write tokens."""
    people = "\n".join(
        f'[[people]]\nkey = "{p["key"]}"\nname = "{p["name"]}"\nemail = "{p["email"]}"\n'
        f'jira = "{p["jira_account_id"]}"\ngithub = "{p["github_login"]}"\n'
        f'notion = "{p["notion_user_id"]}"\ntime_zone = "{p["time_zone"]}"\n'
        for p in PEOPLE
    )
    path.write_text(
        f"""
[state]
path = "{state}"

[jira]
url = "{url}"
email = "{JIRA_EMAIL}"
token = "sandbox-jira-write"
api_version = {api_version}
projects = ["EXP"]

[github]
url = "{url}/api/v3"
token = "sandbox-github-write"
repos = ["acme/web"]

[notion]
url = "{url}"
token = "sandbox-notion-write"
databases = ["{DB_ID}"]

{people}
""",
        encoding="utf-8",
    )
    return path
