"""Rules on people: owners who are missing or not a person, informed lists too long to read."""

from __future__ import annotations

from mapping.finding import (
    Context,
    Finding,
    comparable,
    field_label,
    fix_at,
    item_name,
    new_finding,
)
from mapping.record import ROLE_FIELDS, HandoffRecord, PersonRef

__all__ = ["noisy", "ownerless"]

# What people read. Placeholders are filled with record values, unescaped: renderers escape.
OWNER_NONE = "Nobody is named as {label}. Name one person in {item}."
OWNER_GROUP = "{label} is {who}, a group or bot, not a person. Name one person in {item}."
OWNER_UNKNOWN = "{label} {who} is not in the people directory. Check the name in {item}."
OWNER_INACTIVE = "{label} {who} has an inactive account. Name an active owner in {item}."
NOISY = "{count} people are informed; the single-threaded owner gets lost. Trim the list."


def _who(ref: PersonRef) -> str:
    return ref.label


def ownerless(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """A role required now has no owner, or a group, bot, unknown or inactive account."""
    required = set(ctx.cfg.required_at(record.stage))
    found = []
    for role in ROLE_FIELDS:
        if role not in required:
            continue
        values = record.values(role)
        label = field_label(role)
        refs = [(v, v.value) for v in values if isinstance(v.value, PersonRef)]
        text = ""
        at = fix_at(record, values)
        if not refs:
            text = OWNER_NONE.format(label=label, item=item_name(at))
        for value, ref in refs:
            person = ctx.directory.get(ref.key) if ref.key else None
            if ref.kind != "person":
                text = OWNER_GROUP.format(label=label, who=_who(ref), item=item_name(value.source))
            elif person is None:
                text = OWNER_UNKNOWN.format(
                    label=label, who=_who(ref), item=item_name(value.source)
                )
            elif not person.active:
                text = OWNER_INACTIVE.format(
                    label=label, who=_who(ref), item=item_name(value.source)
                )
            if text:
                at = value.source
                break
        if text:
            found.append(new_finding(record, "ownerless", "error", role, text, at))
    return found


def noisy(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """An informed list so long that the owner is lost in it."""
    people = {comparable(v.value) for v in record.informed}
    if len(people) <= ctx.cfg.noisy_threshold:
        return []
    text = NOISY.format(count=len(people))
    return [new_finding(record, "noisy", "info", "informed", text, fix_at(record, record.informed))]
