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

After its own writes, a system's apply takes over what nobody holds (`Claims.more`): writes a
worker planned and then died without sending, and its own writes it found held by another
worker on their item (that one sends only its own), waiting for those while the other's claim
lives, at most a lease's length. What is still pending then is reported, and its items stay
taken up for the next run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import datetime, timedelta

from connectors.base import WriteOp
from sync.store import Store

__all__ = ["BATCH", "POLL", "Claims", "ClaimsFor", "enqueue"]

BATCH = 50  # writes claimed at a time, just before they are sent
POLL = 0.2  # seconds between looks at writes another worker's claim on their item holds
SKEW = timedelta(seconds=5)  # how far apart the workers' clocks may be


def enqueue(
    ops: Sequence[WriteOp],
    state: Store,
    run_id: int,
    now: datetime,
    holder: str = "",
    began: datetime | None = None,
    taken: Collection[tuple[str, str]] = (),
) -> set[str]:
    """Put the plan in the outbox (step 1 of apply for every op), replacing what it makes
    stale; returns the keys of the ops not to send: this run finished them, or (shared)
    another worker did since this run `began` reading. `holder`: this worker's id on a
    shared state ("" for one worker alone); `taken`: the items its plan took up, whose
    marks become this run's to clear when it settles (`evaluate.settle`)."""
    if not holder:
        state.outbox_supersede(sorted({op.system for op in ops}), run_id, now)
        return state.outbox_plan_many(ops, run_id, now)
    state.mark_taken(taken, run_id)
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
        since: datetime | None = None,
    ) -> None:
        self.state = state
        self.holder = holder
        self.ttl = ttl
        self.clock = clock
        self.ops = list(ops)
        self.at = {op.key: i for i, op in enumerate(self.ops)}
        # Writes in the outbox before this run planned were its plan's to replace or to let
        # be (not needed any more): only those planned or tried since are taken over (less
        # a moment for other machines' clocks).
        self.since = (since or clock()) - SKEW
        self.asked: set[str] = set()
        self.got: set[str] = set()
        # Items where a comment create was sent and never confirmed (by any worker): a create
        # there looks for the marker first, whatever this run's discovery saw.
        self.unsure: set[tuple[str, str]] = set()
        self.away: dict[str, WriteOp] = {}  # its own writes another worker's claims kept
        self.adopted: set[tuple[str, str]] = set()  # items of writes taken over (`more`)
        self.retaken = 0  # how many of `away` this worker sent after all
        self.left: list[WriteOp] = []  # of `away`, what nobody has in hand at the end

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
        if op.key in self.got:
            return True
        self.away[op.key] = op
        return False

    def more(self, system: str, stop: Callable[[], bool]) -> Iterator[list[WriteOp]]:
        """After this worker's own writes of `system`: batches of the pending writes nobody
        holds, claimed for it to send (a dead worker's plan; its own `away` once the other
        worker's claim on their item is gone), waiting (every `POLL`, at most a lease's
        length) while some of `away` are kept by another's claim on their item and by no
        claim of their own. Those still so at the end are `left` for the caller to report."""
        deadline = time.monotonic() + self.ttl.total_seconds()
        waiting: set[str] = set()
        for _ in range(1_000_000):  # each round claims writes or waits; bounded anyway
            if stop():
                break
            batch = self._adopt(system)
            if batch:
                yield batch
                continue
            # Those this worker got are in hand (their "done" may still be kept back).
            waiting = self.state.outbox_waiting(self.away, self.holder, self.clock()) - self.got
            if not waiting or time.monotonic() >= deadline:
                break
            time.sleep(POLL)
        self.left = [op for key, op in self.away.items() if key in waiting]

    def left_note(self) -> str:
        return (
            "Not sent: another worker held a write of this item for longer than this run "
            f"waits ({self.ttl.total_seconds():g} s) and has not sent this one. The next run "
            "sends it."
        )

    def _adopt(self, system: str) -> list[WriteOp]:
        rows = self.state.outbox_adoptable(system, self.holder, self.clock(), BATCH, self.since)
        got = self.state.outbox_claim([o.key for o in rows], self.holder, self.clock(), self.ttl)
        batch = [o for o in rows if o.key in got]
        if batch:
            self.asked.update(got)
            self.got |= got
            self.unsure = self.state.unconfirmed_creates()
            # Not in this run's plan: its discovery may not have looked at these items.
            self.adopted |= {(o.system, o.item_id) for o in batch}
            self.retaken += sum(1 for o in batch if o.key in self.away)
        return batch

    def settled(self, base: Callable[[WriteOp], bool] | None) -> Callable[[WriteOp], bool] | None:
        """`base` (this run knows our comment on the op's item), except where a create of
        ours may have landed unheard since this run's discovery."""
        if base is None:
            return None

        def settled(op: WriteOp) -> bool:
            item = (op.system, op.item_id)
            return item not in self.unsure and item not in self.adopted and base(op)

        return settled


ClaimsFor = Callable[[Sequence[WriteOp]], Claims]
