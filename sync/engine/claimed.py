"""Writes on a shared state: the plan into the outbox, and each write claimed before it is
sent, so that of several workers exactly one sends it (sync.engine.shared).

The plan goes in under the plan lock (`enqueue`): on a shared state it replaces only the
pending writes of the items it writes to, and never one another worker holds a live claim on
(it may be on the wire now); one worker alone (SQLite) replaces every pending write of its
systems, as before. Apply then claims its writes a batch at a time just before sending them
(`Claims`) and sends only what it got: the store gives no two workers live claims on writes of
one item at once (two creates would both miss the marker and post twice). A write whose claim
ran out (its worker died) is found by the next claimant; an item where a comment create was
sent and never confirmed is then looked up by its marker before anything is posted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from connectors.base import WriteOp
from sync.store import Store

__all__ = ["BATCH", "Claims", "ClaimsFor", "enqueue"]

BATCH = 50  # writes claimed at a time, just before they are sent


def enqueue(
    ops: Sequence[WriteOp],
    state: Store,
    run_id: int,
    now: datetime,
    holder: str = "",
    began: datetime | None = None,
) -> set[str]:
    """Put the plan in the outbox (step 1 of apply for every op), replacing what it makes
    stale; returns the keys of the ops not to send: this run finished them, or (shared)
    another worker did since this run `began` reading. `holder`: this worker's id on a
    shared state ("" for one worker alone)."""
    if not holder:
        state.outbox_supersede(sorted({op.system for op in ops}), run_id, now)
        return state.outbox_plan_many(ops, run_id, now)
    items = {(op.system, op.item_id) for op in ops}
    state.outbox_supersede_items(items, run_id, now, holder)
    return state.outbox_plan_many(ops, run_id, now, since=began)


class Claims:
    """One system's writes of one apply, claimed `BATCH` at a time in their order."""

    def __init__(
        self,
        state: Store,
        holder: str,
        ttl: timedelta,
        clock: Callable[[], datetime],
        ops: Sequence[WriteOp],
    ) -> None:
        self.state = state
        self.holder = holder
        self.ttl = ttl
        self.clock = clock
        self.ops = list(ops)
        self.at = {op.key: i for i, op in enumerate(self.ops)}
        self.asked: set[str] = set()
        self.got: set[str] = set()
        # Items where a comment create was sent and never confirmed (by any worker): a create
        # there looks for the marker first, whatever this run's discovery saw.
        self.unsure: set[tuple[str, str]] = set()

    def mine(self, op: WriteOp) -> bool:
        """Whether this worker holds `op` now (claiming the next batch when it is reached)."""
        if op.key not in self.asked:
            start = self.at.get(op.key, 0)
            chunk = [o.key for o in self.ops[start : start + BATCH] if o.key not in self.asked]
            chunk = chunk or [op.key]
            self.asked.update(chunk)
            self.got |= self.state.outbox_claim(chunk, self.holder, self.clock(), self.ttl)
            # Read after the claim: a dead worker's send is on record by the time its claim
            # ran out and this one was granted.
            self.unsure = self.state.unconfirmed_creates()
        return op.key in self.got

    def settled(self, base: Callable[[WriteOp], bool] | None) -> Callable[[WriteOp], bool] | None:
        """`base` (this run knows our comment on the op's item), except where a create of
        ours may have landed unheard since this run's discovery."""
        if base is None:
            return None
        return lambda op: (op.system, op.item_id) not in self.unsure and base(op)


ClaimsFor = Callable[[Sequence[WriteOp]], Claims]
