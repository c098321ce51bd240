"""A record's values as `handoff show` names them: short text for people, and the source of
each (system, item, field, and when that item last changed as the state knows it)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from connectors.base import SourceItem
from mapping.people import Directory
from mapping.record import (
    ChecklistItem,
    Decision,
    HandoffRecord,
    Money,
    PersonRef,
    Stage,
    Value,
)

__all__ = ["field_values", "owner_time_zone", "source_of", "value_text"]

_LIMIT = 160  # characters of one value on a line


def value_text(value: Any, limit: int = _LIMIT) -> str:
    """One value as a lead reads it: a person's name, "8,000 EUR", "[x] event", a date."""
    text = _text(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(value: Any) -> str:
    if isinstance(value, PersonRef):
        kind = f" ({value.kind})" if value.kind != "person" else ""
        return f"{value.label}{kind}"
    if isinstance(value, Money):
        return f"{value.amount:,.0f} {value.currency}".strip()
    if isinstance(value, ChecklistItem):
        return f"[{'x' if value.done else ' '}] {value.text}"
    if isinstance(value, Decision):
        parts: list[str] = [value.kind]
        if value.who is not None:
            parts.append(f"by {value.who.label}")
        if value.when is not None:
            parts.append(f"on {_when(value.when)}")
        return " ".join(parts) + (f": {value.note}" if value.note else "")
    if isinstance(value, Stage):
        return value.value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime | date):
        return _when(value)
    return str(value)


def _when(value: datetime | date) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.isoformat(timespec="minutes")
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def source_of(value: Value, items: Mapping[tuple[str, str], SourceItem]) -> dict[str, Any]:
    """Where a value came from, and when its item last changed (None: not in the state)."""
    src = value.source
    item = items.get((src.system, src.item_id))
    return {
        "system": src.system,
        "item": src.item_key or src.item_id,
        "item_id": src.item_id,
        "field": src.field,
        "url": src.url or (item.url if item else ""),
        "when": item.updated if item else None,
    }


def field_values(
    record: HandoffRecord, items: Mapping[tuple[str, str], SourceItem]
) -> list[tuple[str, list[dict[str, Any]]]]:
    """(field, [{"value", "text", "source"}]) for every field of the record, in record order."""
    out = []
    for name, values in record.items():
        shown = [
            {"value": v.value, "text": value_text(v.value), "source": source_of(v, items)}
            for v in values
        ]
        out.append((name, shown))
    return out


def owner_time_zone(record: HandoffRecord, directory: Directory) -> str:
    """The time zone escalation hours are counted in: the outcome owner's, else the
    engineering owner's (as `mapping.due` counts them); "" for the default."""
    owners = [
        v.value.key
        for v in (*record.outcome_owner, *record.engineering_owner)
        if isinstance(v.value, PersonRef) and v.value.key
    ]
    person = directory.get(owners[0]) if owners else None
    return person.time_zone if person else ""
