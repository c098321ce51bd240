"""A reply per escalation step, between the store, the pure planner and the outbox.

`plan_replies` asks `sync.writeback.steps` for the replies a batch's items need, from the
replies the state knows were sent; `send_reply` carries one out for `sync.engine.apply`:

    reply.create: where an earlier attempt carried one of its notices and no reply is
                  recorded for it since (a crash after the request and before the outbox row
                  said done), look for that marker on the item first: found, it is done and
                  not sent again; else (or with no such attempt: no read at all) the new
                  comment is posted.
    reply.done:   the reply is edited to say done; one someone deleted is done too.

Either way the outbox row and the state's reply row are written in one transaction
(`Store.outbox_done`), so a reply is planned again only if it was never confirmed, and then
its marker settles it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from connectors.base import CommentRef, WriteOp, WriteResult
from connectors.errors import NotFound
from mapping.notify import in_working_hours, next_working_start
from mapping.people import Directory
from mapping.record import HandoffRecord
from sync.store import Store
from sync.store.rows import reply_facts
from sync.systems.runtime import Runtime
from sync.writeback.plan import Target
from sync.writeback.rollout import allowed
from sync.writeback.steps import ReplyPlace, SeenReply, Wake, first_step, plan_step_replies

__all__ = ["REPLY_ACTIONS", "REPLY_WHAT", "plan_replies", "replies_on", "send_reply"]

REPLY_ACTIONS = frozenset({"reply.create", "reply.done"})
REPLY_WHAT = {  # for a failure's message (sync.engine.apply)
    "reply.create": "post the escalation step's reply",
    "reply.done": "mark the escalation step's reply done",
}


def replies_on(runtime: Runtime) -> bool:
    """`[notify] reply` (default on): whether a step is told by a reply on the item."""
    return runtime.settings.notify.reply


def _wake(runtime: Runtime, directory: Directory, now: datetime) -> Wake:
    """Quiet hours for replies, as for the other channels (mapping.notify): None while the
    person is inside their working hours in their own time zone, else their next start."""
    esc = runtime.rules.escalation

    def wake(person: str) -> datetime | None:
        found = directory.get(person)
        zone = esc.zone(found.time_zone if found else "")
        if in_working_hours(now, zone, esc):
            return None
        # No working hours at all: told at once rather than never.
        return next_working_start(now, zone, esc)

    return wake


def plan_replies(
    state: Store,
    targets: Sequence[Target],
    records: Sequence[HandoffRecord],
    runtime: Runtime,
    directory: Directory,
    now: datetime,
) -> tuple[list[WriteOp], dict[str, datetime]]:
    """The reply writes for these targets (their findings as reconcile left them), and per
    record the earliest time a person it waits for (quiet hours) starts working."""
    if not replies_on(runtime):
        return [], {}
    esc = runtime.rules.escalation
    first = {r.key: first_step(r, esc) for r in records}
    stored = state.step_replies_of([(t.item.system, t.item.item_id) for t in targets])
    wake, later = _wake(runtime, directory, now), list[tuple[str, datetime]]()
    ops: list[WriteOp] = []
    for t in targets:
        view = t.item
        rows = stored.get((view.system, view.item_id), [])
        if not t.findings and not rows:
            continue
        seen = {
            r.marker: SeenReply(r.marker, r.comment_id, r.done, r.finding_id, r.step) for r in rows
        }
        told = {f.id: first.get(f.record_key, frozenset()) for f in t.findings}
        for r in rows:
            told[r.finding_id] = told.get(r.finding_id, frozenset()) | set(r.people)
        place = ReplyPlace(
            view.system, view.scope, view.item_id, view.item_key, view.uid,
            runtime.plan.fmt(view.system),
        )  # fmt: skip
        replies = plan_step_replies(
            place, t.findings, seen, told, directory, wake=wake, later=later
        )
        ops += [r.to_op() for r in replies]
    waits: dict[str, datetime] = {}
    for key, at in later:
        waits[key] = min(at, waits.get(key, at))
    return allowed(ops, runtime.plan.rollout), waits


def _found(
    op: WriteOp, find: Callable[[WriteOp], CommentRef | None], unsure: set[str]
) -> tuple[WriteOp, str]:
    """A reply create sent before (a crash, a timeout), looked up by each of its markers an
    earlier attempt carried (a later plan may carry other notices than the one sent): the op
    as far as the reply found tells it (its notices whose marker that reply holds; all, when
    its text is not known) and the reply's id; or (op, "") when none is there. A reply no
    earlier attempt carried is not looked for: nothing of it can be on the item."""
    _, _, _, notices = reply_facts(op)
    for marker in sorted(({n[0] for n in notices} | {op.marker}) & unsure):
        ref = find(replace(op, marker=marker))
        if ref is None:
            continue
        held = [n for n in notices if n[0] in ref.text] if ref.text else notices
        facts = json.loads(op.value or "{}")
        facts["notices"] = [list(n) for n in held]
        return replace(op, value=json.dumps(facts, sort_keys=True)), ref.id
    return op, ""


def send_reply(
    op: WriteOp,
    find: Callable[[WriteOp], CommentRef | None],
    send: Callable[[WriteOp], WriteResult],
    state: Store,
    run_id: int,
    now: Callable[[], datetime],
) -> str:
    """One reply op through the outbox; returns the report field it counts under."""
    unsure = state.replies_unsure(op.system, op.item_id) if op.action == "reply.create" else set()
    state.outbox_sending(op, run_id, now())
    if op.action == "reply.create":
        held, ref_id = _found(op, find, unsure)
        if ref_id:  # sent before a crash: never twice (what it did not tell waits a run)
            state.outbox_done(
                op, run_id, now(), target=ref_id, result="unchanged",
                detail="our reply is already there", sent=held, later=True,
            )  # fmt: skip
            return "unchanged"
        sent = replace(op, action="comment.create", target="")
    else:
        sent = replace(op, action="comment.update")
    try:
        result = send(sent)
    except NotFound:
        if op.action == "reply.create":
            raise
        state.outbox_done(
            op, run_id, now(), target=op.target, result="unchanged",
            detail="the reply was deleted", later=True,
        )  # fmt: skip
        return "unchanged"
    state.outbox_done(
        op, run_id, now(), target=result.target or sent.target,
        detail=f"sent as {sent.action}", answer=result, later=True,
    )  # fmt: skip
    return "done"
