"""People's commands between the store and the pure reconcile: read, parsed, answered.

The pulls keep each person's `/handoff` comment in the store (`Store.said_put`); here the
comments kept on a batch's items become `mapping.commands.Command`s for reconcile, and what
reconcile made of them goes back: each comment's answer lines, once per change, with an audit
row (`Store.said_answered`). The answers themselves show in our comment on the item.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from connectors.base import SourceItem, WriteOp
from mapping.commands import Command, CommandSource, parse_commands
from mapping.commands_apply import Outcome
from sync import systems
from sync.store import Store

__all__ = ["commands_of", "record_answers"]

# The reaction on a command's comment where the system has them: done, or not understood.
ACCEPTED, REFUSED = "+1", "confused"

Key = tuple[str, str]


def commands_of(state: Store, items: Iterable[SourceItem]) -> dict[Key, list[Command]]:
    """The commands people wrote on these items, as the store keeps them."""
    by_key = {(i.system, i.id): i for i in items}
    out: dict[Key, list[Command]] = {}
    for key, said in state.said_for(list(by_key)).items():
        item = by_key[key]
        for s in said:
            src = CommandSource(item.system, item.id, item.key, s.id, s.author, s.at, item.url)
            out.setdefault(key, []).extend(parse_commands(s.text, src))
    return out


def record_answers(
    state: Store,
    outcomes: Sequence[Outcome],
    items: Iterable[SourceItem],
    now: datetime,
) -> list[WriteOp]:
    """Each comment's answer lines to the store (and the audit, when they changed), and a
    reaction on each comment answered where its system shows reactions: when the answer is
    new, or when the reaction for it was never done (a crash or a blind run between the
    answer and its write). Once done it is not planned again; sent again it cannot double,
    since GitHub answers a repeated reaction with the one already there."""
    answers: dict[Key, list[str]] = {}
    ok: dict[Key, bool] = {}
    for o in outcomes:
        src = o.command.source
        key = (src.system, src.comment_id)
        answers.setdefault(key, []).append(o.line)
        ok[key] = ok.get(key, True) and o.ok
    fresh = state.said_answered(answers, None, now) if answers else set()
    scopes = {(i.system, i.id): i.scope for i in items}
    ops = []
    planned: set[Key] = set()  # one reaction per comment, however many commands it held
    for o in outcomes:
        src = o.command.source
        key = (src.system, src.comment_id)
        spec = systems.get(src.system)
        if key in planned or spec is None or not spec.supports("reactions"):
            continue
        op = WriteOp(
            system=src.system,
            scope=scopes.get((src.system, src.item_id), ""),
            item_id=src.item_id,
            item_key=src.item_key,
            action="reaction.create",
            target=src.comment_id,
            value=ACCEPTED if ok[key] else REFUSED,
        )
        if key in fresh or not _done(state, op):
            planned.add(key)
            ops.append(op)
    return ops


def _done(state: Store, op: WriteOp) -> bool:
    """Whether this very write (same idempotency key) is done, in any run."""
    row = state.outbox_row(op.key)
    return row is not None and row.status == "done"
