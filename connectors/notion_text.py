"""Notion answers read as text: times, a page answer's edit time, people's command comments."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from .base import Said, may_command

__all__ = ["parse_time", "said_in", "shown"]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _command_text(rich_text: Any) -> str:
    """Plain text, with a user mention as `@<user id>`: the directory knows people by id."""
    out = []
    for t in rich_text or []:
        if not isinstance(t, dict):
            continue
        user = (t.get("mention") or {}).get("user") if t.get("type") == "mention" else None
        if isinstance(user, dict) and isinstance(user.get("id"), str):
            out.append(f"@{user['id']}")
        else:
            out.append(str(t.get("plain_text", "")))
    return "".join(out)


def said_in(comments: list[dict[str, Any]], me: str) -> tuple[Said, ...]:
    """People's comments with commands in a page's comment list (never ours, never a bot's)."""
    out = []
    for c in comments:
        author = c.get("created_by")
        if not isinstance(author, dict) or author.get("id") == me or author.get("type") == "bot":
            continue
        text = _command_text(c.get("rich_text"))
        if not may_command(text) or not isinstance(author.get("id"), str):
            continue
        stamp = c.get("last_edited_time") or c.get("created_time")
        at = datetime.min.replace(tzinfo=UTC)
        if isinstance(stamp, str):
            with contextlib.suppress(ValueError):
                at = parse_time(stamp)
        out.append(Said(str(c.get("id")), author["id"], text, at))
    return tuple(out)


def shown(page: Any, name: str) -> dict[str, Any]:
    """The page's edit time and property `name` from a page answer, as far as it shows them."""
    if not isinstance(page, dict):
        return {}
    out: dict[str, Any] = {}
    edited = page.get("last_edited_time")
    if isinstance(edited, str):
        with contextlib.suppress(ValueError):
            out["updated"] = parse_time(edited)
    prop = (page.get("properties") or {}).get(name)
    if isinstance(prop, dict):
        out["fields"] = {name: prop}
    return out
