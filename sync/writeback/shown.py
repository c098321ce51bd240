"""What a property shows, reduced to what we set, so the plan compares like with like.

The APIs answer with more than we send (ids, colours, a wrapper around Jira's entity
property); planning again after applying a plan must still give `[]`.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps", "entity_key", "loads", "property_key", "value_type"]


def dumps(value: Any) -> str:
    """Canonical JSON text: what we write, and what we compare what is shown against."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def loads(text: str | None) -> Any:
    """JSON text as read back; None when empty or not JSON (someone edited it by hand)."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def property_key(text: str | None, ptype: str) -> str:
    """What a Notion property shows, reduced to what we set ("" when empty).

    The API answers with more than we send (ids, colours, plain_text), so compare only the
    option name or the text.
    """
    value = loads(text)
    if not isinstance(value, dict):
        return ""
    inner = value.get(ptype)
    if ptype == "rich_text":
        if not isinstance(inner, list):
            return ""
        parts = []
        for obj in inner:
            if isinstance(obj, dict):
                content = (obj.get("text") or {}).get("content")
                parts.append(str(obj.get("plain_text", content or "")))
        return "".join(parts)
    if ptype == "multi_select" and isinstance(inner, list):
        return ", ".join(str(o.get("name") or "") for o in inner if isinstance(o, dict))
    if ptype == "checkbox":
        return "yes" if inner is True else ""  # unticked is Notion's empty checkbox
    if isinstance(inner, dict):
        return str(inner.get("name") or "")
    return ""


def entity_key(text: str | None) -> str:
    """A Jira entity property as canonical JSON text ("" when unset)."""
    value = loads(text)
    if isinstance(value, dict) and set(value) == {"key", "value"}:
        value = value["value"]  # the REST answer wraps the value we stored
    return "" if value is None else dumps(value)


def value_type(value: str) -> str:
    """The Notion property type a value we set is written in (its one key)."""
    parsed = loads(value)
    if isinstance(parsed, dict) and parsed:
        return next(iter(parsed))
    return "select"
