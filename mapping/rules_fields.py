"""Rules on field values: required fields that are empty, linked items that disagree."""

from __future__ import annotations

from typing import Any

from mapping.finding import (
    Context,
    Finding,
    Severity,
    comparable,
    display,
    field_label,
    fix_at,
    item_name,
    new_finding,
)
from mapping.record import LIST_FIELDS, ROLE_FIELDS, HandoffRecord, Stage, Value

__all__ = ["conflict", "missing_field"]

# What people read. Placeholders are filled with record values, unescaped: renderers escape.
MISSING = "{label} is missing. From the {stage} stage on, the handoff needs it. Add it in {item}."
CONFLICT = "The linked items disagree on {label}: {values}. Settle on one value."


def missing_field(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """A required field is empty in every linked item (roles are `ownerless`'s job)."""
    severity: Severity = "error" if record.stage.reached(Stage.RUN) else "warning"
    found = []
    for name in ctx.cfg.required_at(record.stage):
        if name in ROLE_FIELDS or record.values(name):
            continue
        at = fix_at(record)
        text = MISSING.format(label=field_label(name), stage=record.stage.value, item=item_name(at))
        found.append(new_finding(record, "missing-field", severity, name, text, at))
    return found


def conflict(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """Linked items give different values for a field that must have one."""
    found = []
    for name in ctx.cfg.conflict_fields:
        if name in LIST_FIELDS:
            continue
        values = record.values(name)
        distinct: dict[Any, Value] = {}
        for value in values:
            distinct.setdefault(comparable(value.value), value)
        if len(distinct) < 2:
            continue
        shown = "; ".join(
            f"{display(v.value)} ({item_name(v.source)})" for v in list(distinct.values())[:5]
        )
        at = list(distinct.values())[1].source
        text = CONFLICT.format(label=field_label(name), values=shown)
        found.append(new_finding(record, "conflict", "warning", name, text, at))
    return found
