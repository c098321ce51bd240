"""The dry-run diff: a plan as people read it, item by item, mentions shown as names.

Pure: no I/O, no clock. `describe` prints what `sync.writeback.plan.plan` would write: each
item's comment (created, or its edit as a diff against what it shows now), labels and
properties. A mention is written as an account id or login (`[~accountid:5f2a…]`, `@lena-o`);
given the people directory, the diff names the person instead ("@Lena Ortiz").
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from connectors.base import WriteOp
from mapping.people import Person
from sync.writeback.markup import to_text
from sync.writeback.shown import loads, property_key, value_type

if TYPE_CHECKING:
    from sync.writeback.plan import ItemView

__all__ = ["NOTHING_TO_DO", "Names", "describe"]

NOTHING_TO_DO = "Nothing to write: every item already shows its findings."
# A mention as each format writes it: Jira wiki, and "@handle" (Markdown, ADF and Notion text).
_MENTION = re.compile(r"\[~accountid:([^\]\s]+)\]|(?<![\w\\])@([A-Za-z0-9][\w-]*)")


class Names(Protocol):
    """The part of `mapping.people.Directory` naming needs."""

    def resolve(self, system: str, handle: str) -> Person | None: ...


def _named(text: str, system: str, people: Names | None) -> str:
    """`text` with each mention of a known person shown as their name."""
    if people is None:
        return text

    def name(match: re.Match[str]) -> str:
        person = people.resolve(system, match.group(1) or match.group(2))
        return f"@{person.name or person.key}" if person is not None else match.group(0)

    return _MENTION.sub(name, text)


def describe(
    ops: Sequence[WriteOp], views: Iterable[ItemView] = (), people: Names | None = None
) -> str:
    """The plan as a readable diff per item, for `--dry-run`; deterministic, no colours.

    `views` (what each item shows now) add the item's URL and the old text to diff against;
    `people` (the directory) turns mentions into names.
    """
    if not ops:
        return NOTHING_TO_DO
    by_item = {(v.system, v.item_id): v for v in views}
    groups: dict[tuple[str, str], list[WriteOp]] = {}
    for op in ops:
        groups.setdefault((op.system, op.item_id), []).append(op)
    blocks = []
    for key, item_ops in groups.items():
        blocks.append(_describe_item(item_ops, by_item.get(key), people))
    count = len(ops)
    head = f"{count} write{'s' if count != 1 else ''} on {len(groups)} item"
    head += "s:" if len(groups) != 1 else ":"
    return "\n\n".join([head, *blocks])


def _told(op: WriteOp) -> str:
    facts = loads(op.value) or {}
    who = ", ".join(str(p) for p in facts.get("people", ())) or "nobody"
    return f"{who} (escalation step {int(facts.get('step', 0)) + 1})"


def _indent(text: str, prefix: str = "    ") -> list[str]:
    return [(prefix + line).rstrip() for line in text.splitlines()] or [prefix.rstrip()]


def _describe_item(ops: list[WriteOp], view: ItemView | None, people: Names | None) -> str:
    first = ops[0]
    url = view.url if view is not None else ""
    lines = [f"{first.system} {first.item_key}" + (f"  {url}" if url else "")]
    added = [f"+{op.name}" for op in ops if op.action == "label.add"]
    removed = [f"-{op.name}" for op in ops if op.action == "label.remove"]
    for op in ops:
        if op.action == "comment.create":
            lines.append("  comment: create")
            lines += _indent(_named(to_text(op.body), first.system, people))
        elif op.action == "comment.update":
            old = to_text(view.comment.text) if view is not None and view.comment else ""
            lines.append(f"  comment: edit {op.target}")
            new = _named(to_text(op.body), first.system, people)
            old = _named(old, first.system, people)
            diff = difflib.unified_diff(
                old.splitlines(), new.splitlines(), "shown", "planned", lineterm=""
            )
            lines += _indent("\n".join(diff))
        elif op.action == "comment.delete":
            lines.append(f"  comment: delete {op.target} (a duplicate of ours)")
        elif op.action == "reply.create":  # a step that notifies (sync.writeback.steps)
            lines.append("  reply: new comment, telling " + _told(op))
            lines += _indent(_named(to_text(op.body), first.system, people))
        elif op.action == "reply.done":
            lines.append(f"  reply: mark {op.target} done (its finding closed)")
        elif op.action == "property.set":
            ptype = value_type(op.value)
            before = property_key(view.property_value, ptype) if view is not None else ""
            after = property_key(op.value, ptype)
            lines.append(f'  property "{op.name}": {before or "(empty)"} -> {after or "(empty)"}')
        elif op.action == "entity_property.set":
            value = loads(op.value) or {}
            lines.append(f"  entity property {op.name}: set ({value.get('count', 0)} findings)")
    if added or removed:
        lines.append("  labels: " + " ".join(added + removed))
    return "\n".join(lines)
