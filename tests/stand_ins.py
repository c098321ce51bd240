"""Test stand-ins for what mapping hands the store: real Findings, and records cut down to the
fields the store keeps (one place, so the stand-ins cannot drift from each other)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mapping.rules import Finding

__all__ = ["Rec", "Src", "finding"]


def finding(record_key: str, code: str, subject: str, **kw: Any) -> Finding:
    """A mapping.rules.Finding with plain defaults; `kw` overrides any field."""
    fields: dict[str, Any] = {
        "severity": "error",
        "message": "Fix it.",
        "system": "jira",
        "item_id": "",
        "item_key": "",
        "url": "",
        "notify": ("ana",),
        "escalation": 0,
    }
    return Finding(record_key=record_key, code=code, subject=subject, **(fields | kw))


@dataclass(frozen=True)
class Src:
    """A record's source, as `HandoffRecord.sources` holds it for the store."""

    system: str
    item_id: str


@dataclass(frozen=True)
class Rec:
    """A HandoffRecord cut down to what `Store.upsert_records` reads."""

    key: str
    title: str
    stage: str
    sources: tuple[Src, ...]
