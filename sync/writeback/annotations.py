"""The labels and property values an item's findings call for (the comment is render.py's).

Pure and deterministic like the comment: the same findings give the same labels, the same
Notion property value and the same Jira entity property text, so a second run plans nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from mapping.rules import Finding
from sync.writeback.markup import clean, dumps, safe_url
from sync.writeback.render import MAX_MESSAGE, order_findings

__all__ = [
    "DEFAULT_LABELS",
    "DEFAULT_PROPERTY_NAMES",
    "PropType",
    "entity_property_for",
    "labels_for",
    "property_value_for",
]

PropType = Literal["select", "status", "rich_text", "multi_select", "checkbox"]

# What people read. Module constants, trusted by the writers: no markup specials in them.

DEFAULT_LABELS: Mapping[str, str] = {
    "missing-field": "handoff:missing-fields",
    "ownerless": "handoff:ownerless",
    "conflict": "handoff:conflict",
    "expired": "handoff:expired",
    "stale": "handoff:stale",
    "decision-missing": "handoff:decision-missing",
    "needs-sync": "handoff:needs-sync",
    "noisy": "handoff:noisy",
    "unlinked": "handoff:unlinked",
}
DEFAULT_PROPERTY_NAMES: Mapping[str, str] = {
    "all-clear": "All clear",
    "missing-field": "Missing fields",
    "ownerless": "No owner",
    "conflict": "Sources disagree",
    "expired": "Expired",
    "stale": "Stale",
    "decision-missing": "Decision missing",
    "needs-sync": "Needs sync",
    "noisy": "Too many informed",
    "unlinked": "Not linked",
}
_NOTION_CHARS = 2_000


def labels_for(findings: Iterable[Finding], label_names: Mapping[str, str]) -> set[str]:
    """The managed labels an item should carry: one per finding code that has a label."""
    return {label_names[f.code] for f in findings if label_names.get(f.code)}


def _option(name: str) -> str:
    # Notion select and status option names cannot hold commas and stop at 100 characters.
    return clean(name.replace(",", " "), 100)


def property_value_for(
    findings: Iterable[Finding], prop_type: PropType, names: Mapping[str, str]
) -> dict[str, Any]:
    """The Notion property value for an item's findings; "All clear" when there are none.

    rich_text and multi_select name every finding code, select and status the most severe
    one, and a checkbox is ticked while any finding is open.
    """
    ordered = order_findings(findings)

    def name(code: str) -> str:
        return names.get(code) or DEFAULT_PROPERTY_NAMES.get(code) or code

    if prop_type == "rich_text":
        codes = list(dict.fromkeys(f.code for f in ordered)) or ["all-clear"]
        text = clean(", ".join(name(c) for c in codes), _NOTION_CHARS)
        return {"rich_text": [{"type": "text", "text": {"content": text}}]}
    if prop_type == "multi_select":
        codes = list(dict.fromkeys(f.code for f in ordered)) or ["all-clear"]
        return {"multi_select": [{"name": _option(name(c))} for c in codes]}
    if prop_type == "checkbox":
        return {"checkbox": bool(ordered)}  # ticked while findings are open
    if prop_type not in ("select", "status"):
        raise ValueError(f"unsupported Notion property type {prop_type!r}")
    top = ordered[0].code if ordered else "all-clear"
    return {prop_type: {"name": _option(name(top))}}


def entity_property_for(findings: Iterable[Finding], max_chars: int = 30_000) -> str:
    """The Jira entity property value: the findings as JSON text, deterministic and bounded."""
    ordered = order_findings(findings)
    entries: list[dict[str, Any]] = []
    value: dict[str, Any] = {"version": 1, "status": "clear", "count": 0, "findings": entries}
    if ordered:
        value.update(status="findings", count=len(ordered))
    for f in ordered:
        entry = {
            "id": f.id,
            "code": f.code,
            "severity": f.severity,
            "subject": f.subject,
            "message": f.message[:MAX_MESSAGE],
            "item": f.item_key,
            "url": safe_url(f.url),
            "escalation": f.escalation,
        }
        if len(dumps(value)) + len(dumps(entry)) + 1 > max_chars:
            break  # `count` still tells how many there were
        entries.append(entry)
    return dumps(value)
