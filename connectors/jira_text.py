"""Jira's text and times as the connector reads them: comment bodies (wiki or ADF), Jira's
time stamps, the cursor position, JQL without its ORDER BY, and the client's field cache."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jira import JIRA

from .base import Cursor, SourceItem

__all__ = [
    "adf_plain_text",
    "after",
    "id_key",
    "parse_jira_time",
    "prime_field_cache",
    "strip_order_by",
]


def adf_plain_text(node: Any, *, mentions: bool = False) -> str:
    """Text of a comment body: a wiki string as is, an ADF document's text nodes joined.
    With `mentions`, a mention node reads as wiki markup does, `[~accountid:ID]` (commands)."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(adf_plain_text(n, mentions=mentions) for n in node)
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    attrs = node.get("attrs")
    if mentions and node.get("type") == "mention" and isinstance(attrs, dict) and attrs.get("id"):
        return f"[~accountid:{attrs['id']}]"
    sep = "\n" if node.get("type") in ("doc", "bulletList", "orderedList") else ""
    return sep.join(adf_plain_text(n, mentions=mentions) for n in node.get("content") or [])


def prime_field_cache(client: JIRA, fields: list[dict[str, Any]]) -> None:
    """Fill the client's own field cache from the list we just read, as it would fill it (by
    JQL clause name): its first search would otherwise GET /field again, one more request on
    every run."""
    if not getattr(client, "_fields_cache_value", None):
        client._fields_cache_value = {
            name: f["id"] for f in fields for name in f.get("clauseNames") or ()
        }


def parse_jira_time(text: str) -> datetime:
    """Jira's "2026-11-01T10:00:00.000+1300" (or ISO with Z) as an aware UTC datetime."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def after(item: SourceItem, cursor: Cursor) -> bool:
    """Strictly past the cursor position (updated, then numeric id for ties)."""
    if item.updated != cursor.updated:
        return item.updated > cursor.updated
    if not cursor.item_id:
        return True
    return id_key(item.id) > id_key(cursor.item_id)


def id_key(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)


def strip_order_by(jql: str) -> str:
    upper = jql.upper()
    at = upper.rfind("ORDER BY")
    return jql[:at].strip() if at >= 0 else jql
