"""A reply per escalation step: a short NEW comment that mentions whoever a step reaches.

Pure: no I/O, no clock. Editing our sticky comment to add a mention does not reliably notify
anyone (docs/notifications.md), so when a finding climbs to a new step, the people that step
adds are told by a new comment, which notifies on creation in every system:

    finding at step n ─┐
    replies seen ──────┼─▶ plan_step_replies ─▶ reply.create (once per finding and step)
    people told ───────┘                      └▶ reply.done   (its finding closed or fell back)

Each reply carries its own marker (`step_marker`): a distinct kind, so a pull that looks for
our sticky comment (`handoff-sync:`) never takes a reply for it, and a write interrupted by a
crash is found again by that marker instead of being sent twice. A reply is never rewritten
while its finding is open; when the finding closes it is edited to say it is done (without a
mention: nobody needs to hear that twice).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from connectors.base import STEP_PREFIX, WriteOp
from mapping.escalation import EscalationConfig
from mapping.record import HandoffRecord, PersonRef
from mapping.rules import Finding
from sync import systems
from sync.writeback.markup import Doc, Format, Line, Mention, Span, Text, clean, write
from sync.writeback.tasks import MAX_MESSAGE, MAX_NAME, People

__all__ = [
    "DONE",
    "STEP_FOOTER",
    "STEP_PREFIX",
    "ReplyPlace",
    "SeenReply",
    "StepReply",
    "describe_replies",
    "first_step",
    "plan_step_replies",
    "step_marker",
]

STEP_FOOTER = "Sent once for this escalation step; it is not updated."
DONE = "Done: this has been resolved; nothing is due any more."
ROLE = ("owner", "approver", "lead")


def step_marker(system: str, item: str, finding_id: str, step: int) -> str:
    """The marker of the reply for one finding at one step (`item`: the uid, else the id)."""
    digest = hashlib.sha256(json.dumps([system, item, finding_id, step]).encode()).hexdigest()
    return f"{STEP_PREFIX}{digest[:12]}/s{step}"


@dataclass(frozen=True)
class ReplyPlace:
    """The item the replies go on."""

    system: str
    scope: str
    item_id: str
    item_key: str
    uid: str = ""
    fmt: Format = "github-md"


@dataclass(frozen=True)
class SeenReply:
    """A step reply found on the item (by its marker), and whether it already says done."""

    marker: str
    comment_id: str
    done: bool = False


@dataclass(frozen=True)
class StepReply:
    """One planned reply write; `people` are the directory keys it mentions."""

    action: Literal["reply.create", "reply.done"]
    system: str
    scope: str
    item_id: str
    item_key: str
    marker: str
    body: str
    step: int
    finding_id: str
    people: tuple[str, ...] = ()
    target: str = ""  # the comment to mark done

    def to_op(self) -> WriteOp:
        """The write, for the outbox: the facts the store keeps about it go in `value`."""
        facts = {"finding": self.finding_id, "step": self.step, "people": list(self.people)}
        return WriteOp(
            self.system, self.scope, self.item_id, self.item_key, self.action, body=self.body,
            value=json.dumps(facts, sort_keys=True), target=self.target, marker=self.marker,
        )  # fmt: skip


def plan_step_replies(
    place: ReplyPlace,
    findings: Iterable[Finding],
    seen: Mapping[str, SeenReply],
    told: Mapping[str, frozenset[str]],
    people: People | None,
) -> list[StepReply]:
    """The replies this item needs now.

    `seen`: step replies on the item by marker; `told`: per finding id, the people already
    told (the first step's, see `first_step`, and those earlier replies named): a step names
    only the people it adds, so nobody hears twice. A finding that jumps two steps in one run
    gets one reply, for the step it reached, naming everyone both steps add.
    """
    ours = [f for f in findings if (f.system, f.item_id) == (place.system, place.item_id)]
    item = place.uid or place.item_id
    open_markers: set[str] = set()
    out: list[StepReply] = []
    for f in sorted(ours, key=lambda f: f.id):
        open_markers |= {step_marker(place.system, item, f.id, k) for k in range(f.escalation + 1)}
        marker = step_marker(place.system, item, f.id, f.escalation)
        newcomers = tuple(p for p in dict.fromkeys(f.notify) if p not in told.get(f.id, ()))
        # The first step is told by our comment itself, which mentions them when it is made.
        if f.escalation < 1 or marker in seen or not newcomers:
            continue
        body = write(_ask(place.system, f, newcomers, people, marker), place.fmt)
        out.append(_reply(place, "reply.create", marker, body, f, newcomers))
    for marker, reply in sorted(seen.items()):
        if marker not in open_markers and not reply.done:
            doc = Doc((Text(DONE, trusted=True),), (), (), marker, STEP_FOOTER)
            body = write(doc, place.fmt)
            step = int(marker.rpartition("/s")[2] or 0)
            out.append(
                StepReply(
                    "reply.done", place.system, place.scope, place.item_id, place.item_key,
                    marker, body, step, "", target=reply.comment_id,
                )
            )  # fmt: skip
    return out


def first_step(record: HandoffRecord, cfg: EscalationConfig) -> frozenset[str]:
    """Who the ladder's first step reaches on this record (as `mapping.rules` escalates)."""
    if not cfg.ladder:
        return frozenset()
    first = min(cfg.ladder, key=lambda s: s.after_hours).to
    if first == "lead":
        return frozenset(cfg.leads)
    roles = (record.cost_cap_approver,) if first == "approver" else (
        record.outcome_owner, record.engineering_owner)  # fmt: skip
    for values in roles:
        keys = [v.value.key for v in values if isinstance(v.value, PersonRef) and v.value.key]
        if keys:
            return frozenset(keys)
    return frozenset()


def _reply(
    place: ReplyPlace, action: Literal["reply.create"], marker: str, body: str, f: Finding,
    newcomers: tuple[str, ...],
) -> StepReply:  # fmt: skip
    return StepReply(
        action, place.system, place.scope, place.item_id, place.item_key, marker, body,
        f.escalation, f.id, newcomers,
    )  # fmt: skip


def _ask(
    system: str, f: Finding, newcomers: Sequence[str], people: People | None, marker: str
) -> Doc:
    """The ask: "@Ana @Bo: this needs you now (escalation step 2, approver)." and what."""
    spans: list[Span] = []
    for i, key in enumerate(newcomers):
        if i:
            spans.append(Text(" ", trusted=True))
        spans.append(_person(system, key, people))
    role = ROLE[f.escalation] if f.escalation < len(ROLE) else "next"
    spans.append(
        Text(f": this needs you now (escalation step {f.escalation + 1}, {role}).", trusted=True)
    )
    what: Line = (Text(clean(f.message, MAX_MESSAGE) or f.code),)
    return Doc(tuple(spans), (what,), (), marker, STEP_FOOTER)


def _person(system: str, key: str, people: People | None) -> Span:
    """A mention that notifies where the directory knows the person's handle, else the name."""
    person = people.get(key) if people is not None else None
    name = clean((person.name or person.key) if person else key, MAX_NAME) or "someone"
    handle = person.ids.get(system, "") if person else ""
    spec = systems.get(system)
    if handle and spec is not None and spec.mentions(handle):
        return Mention(handle, name)
    return Text(name)


def describe_replies(replies: Iterable[StepReply]) -> list[str]:
    """One line per reply, for `--dry-run`."""
    lines = []
    for r in replies:
        if r.action == "reply.create":
            who = ", ".join(r.people)
            lines.append(f"{r.item_key}: new reply telling {who} (step {r.step + 1}) [{r.marker}]")
        else:
            lines.append(f"{r.item_key}: mark step reply {r.target} done [{r.marker}]")
    return lines
