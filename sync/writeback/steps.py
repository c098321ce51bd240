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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from connectors.base import STEP_PREFIX, WriteOp
from mapping.escalation import EscalationConfig
from mapping.record import HandoffRecord, PersonRef
from mapping.rules import Finding
from sync.writeback.markup import Doc, Format, Line, Span, Text, clean, write
from sync.writeback.tasks import MAX_MESSAGE, People, person_name, person_span

__all__ = [
    "DONE",
    "STEP_FOOTER",
    "STEP_PREFIX",
    "ReplyNotice",
    "ReplyPlace",
    "SeenReply",
    "StepReply",
    "Wake",
    "describe_replies",
    "first_step",
    "plan_step_replies",
    "step_marker",
]

STEP_FOOTER = "Sent once for this escalation step; it is not updated."
DONE = "Done: this has been resolved; nothing is due any more."
ROLE = ("owner", "approver", "lead")


def step_marker(system: str, item: str, finding_id: str, step: int, person: str = "") -> str:
    """The marker of one person told of one finding at one step (`item`: the uid, else the
    id). One reply carries the markers of every notice it gives (see `plan_step_replies`)."""
    parts: list[object] = [system, item, finding_id, step] + ([person] if person else [])
    digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
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
    """A notice a reply on the item gave (by its marker): which finding, at which step, in
    which comment, and whether that comment already says done."""

    marker: str
    comment_id: str
    done: bool = False
    finding_id: str = ""
    step: int = 0


@dataclass(frozen=True)
class ReplyNotice:
    """One person told of one finding at one step, by the reply that carries `marker`."""

    marker: str
    finding_id: str
    step: int
    person: str


@dataclass(frozen=True)
class StepReply:
    """One planned reply write; `people` are the directory keys it mentions, `notices` what
    it tells each of them (a reply.create), `step` the highest step it tells of."""

    action: Literal["reply.create", "reply.done"]
    system: str
    scope: str
    item_id: str
    item_key: str
    marker: str  # the first of the reply's markers: the one its outbox row is found by
    body: str
    step: int
    finding_id: str
    people: tuple[str, ...] = ()
    target: str = ""  # the comment to mark done
    notices: tuple[ReplyNotice, ...] = ()

    def to_op(self) -> WriteOp:
        """The write, for the outbox: the facts the store keeps about it go in `value`."""
        facts = {
            "finding": self.finding_id, "step": self.step, "people": list(self.people),
            "notices": [[n.marker, n.finding_id, n.step, n.person] for n in self.notices],
        }  # fmt: skip
        return WriteOp(
            self.system, self.scope, self.item_id, self.item_key, self.action, body=self.body,
            value=json.dumps(facts, sort_keys=True), target=self.target, marker=self.marker,
        )  # fmt: skip


# A person -> None inside their working hours, else the start of their next working period.
Wake = Callable[[str], datetime | None]


def plan_step_replies(
    place: ReplyPlace,
    findings: Iterable[Finding],
    seen: Mapping[str, SeenReply],
    told: Mapping[str, frozenset[str]],
    people: People | None,
    *,
    wake: Wake | None = None,
    later: list[tuple[str, datetime]] | None = None,
) -> list[StepReply]:
    """The replies this item needs now.

    `seen`: the notices replies on the item gave, by marker; `told`: per finding id, the
    people already told (the first step's, see `first_step`, and those earlier replies named):
    a step names only the people it adds, so nobody hears twice. A finding that jumps two
    steps in one run is told once, for the step it reached.

    Quiet hours: `wake(person)` is None while the person is inside their working hours, else
    the start of their next working period; a person outside them is not named now, and
    (record key, that time) goes to `later` so the record is looked at again then.
    Digest: everything due in one run on one item is ONE reply, naming each person once and
    carrying the marker of each notice it gives (found again by any of them after a crash).
    """
    ours = [f for f in findings if (f.system, f.item_id) == (place.system, place.item_id)]
    item = place.uid or place.item_id
    due: list[tuple[Finding, ReplyNotice]] = []
    for f in sorted(ours, key=lambda f: f.id):
        # The first step is told by our comment itself, which mentions them when it is made.
        if f.escalation < 1:
            continue
        for person in dict.fromkeys(f.notify):
            marker = step_marker(place.system, item, f.id, f.escalation, person)
            if person in told.get(f.id, ()) or marker in seen:
                continue
            at = wake(person) if wake is not None else None
            if at is not None:
                if later is not None:
                    later.append((f.record_key, at))
                continue
            due.append((f, ReplyNotice(marker, f.id, f.escalation, person)))
    out = [_create(place, due, people)] if due else []
    return out + _dones(place, ours, seen)


def _dones(
    place: ReplyPlace, ours: Sequence[Finding], seen: Mapping[str, SeenReply]
) -> list[StepReply]:
    """A reply whose every notice's finding closed (or fell below its step) says done."""
    level = {f.id: f.escalation for f in ours}
    by_comment: dict[str, list[SeenReply]] = {}
    for reply in seen.values():
        by_comment.setdefault(reply.comment_id, []).append(reply)
    out = []
    for comment, parts in sorted(by_comment.items()):
        if all(p.done for p in parts):
            continue
        if any(p.finding_id in level and p.step <= level[p.finding_id] for p in parts):
            continue
        markers = sorted(p.marker for p in parts)
        doc = Doc((Text(DONE, trusted=True),), (), (), " ".join(markers), STEP_FOOTER)
        step = max(p.step for p in parts)
        out.append(
            StepReply(
                "reply.done", place.system, place.scope, place.item_id, place.item_key,
                markers[0], write(doc, place.fmt), step, "", target=comment,
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


def _create(
    place: ReplyPlace, due: Sequence[tuple[Finding, ReplyNotice]], people: People | None
) -> StepReply:
    """One reply giving every notice due on the item now."""
    notices = tuple(n for _, n in due)
    markers = sorted(n.marker for n in notices)
    who = tuple(dict.fromkeys(n.person for n in notices))
    body = write(_ask(place.system, due, who, people, " ".join(markers)), place.fmt)
    first = min(notices, key=lambda n: n.marker)
    return StepReply(
        "reply.create", place.system, place.scope, place.item_id, place.item_key, markers[0],
        body, max(n.step for n in notices), first.finding_id, who, notices=notices,
    )  # fmt: skip


def _ask(
    system: str,
    due: Sequence[tuple[Finding, ReplyNotice]],
    who: Sequence[str],
    people: People | None,
    token: str,
) -> Doc:
    """The ask: "@Ana @Bo: this needs you now (escalation step 2, approver)." and what; with
    several findings, one line each (and whom it is for, when not everyone named)."""
    spans: list[Span] = []
    for i, key in enumerate(who):
        if i:
            spans.append(Text(" ", trusted=True))
        spans.append(person_span(system, key, people))
    findings = list({f.id: f for f, _ in due}.values())
    if len(findings) == 1:
        f = findings[0]
        spans.append(Text(f": this needs you now ({_step(f)}).", trusted=True))
        what: Line = (Text(clean(f.message, MAX_MESSAGE) or f.code),)
        return Doc(tuple(spans), (what,), (), token, STEP_FOOTER)
    spans.append(Text(": these need you now.", trusted=True))
    lines: list[Line] = []
    for f in findings:
        told = [n.person for g, n in due if g.id == f.id]
        line: list[Span] = [Text(clean(f.message, MAX_MESSAGE) or f.code)]
        line.append(Text(f" ({_step(f)}", trusted=True))
        if set(told) != set(who):
            names = ", ".join(person_name(k, people) for k in told)
            line.append(Text(f", for {names}"))
        line.append(Text(")", trusted=True))
        lines.append(tuple(line))
    return Doc(tuple(spans), tuple(lines), (), token, STEP_FOOTER)


def _step(f: Finding) -> str:
    role = ROLE[f.escalation] if f.escalation < len(ROLE) else "next"
    return f"escalation step {f.escalation + 1}, {role}"


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
