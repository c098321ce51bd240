"""Workspaces the sandbox serves: the file format, loading, and default credentials.

A workspace is one JSON document:

    {"people": [{"key", "name", "email", "jira_account_id", "github_login",
                 "notion_user_id", "time_zone", "active"}],
     "tokens": {"jira": {"<token>": "write" | "read"}, "github": {...}, "notion": {...}},
     "jira": {...}, "github": {...}, "notion": {...}}

Each service's section is described in its own module (jira_api, github_api, notion_api).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_TOKENS", "JIRA_EMAIL", "empty_workspace", "load_workspace"]

# Fixed, obviously fake credentials: the sandbox is loopback-only test equipment.
DEFAULT_TOKENS: dict[str, dict[str, str]] = {
    "jira": {"sandbox-jira-write": "write", "sandbox-jira-read": "read"},
    "github": {"sandbox-github-write": "write", "sandbox-github-read": "read"},
    "notion": {"sandbox-notion-write": "write", "sandbox-notion-read": "read"},
}
JIRA_EMAIL = "handoff-bot@example.com"


def empty_workspace() -> dict[str, Any]:
    return {"people": [], "tokens": DEFAULT_TOKENS, "jira": {}, "github": {}, "notion": {}}


def load_workspace(path: str | Path) -> dict[str, Any]:
    """Read a workspace file; missing sections are empty."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    ws = empty_workspace()
    ws.update(data)
    return ws
