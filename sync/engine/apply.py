"""Carry out a plan: each write goes through the outbox, is sent once, and is recorded.

For every op, in this order:

    1. outbox row "planned", the whole plan at once (ops this run already finished skipped)
    2. outbox row "sending": its own transaction, durable before the request goes out
    3. a comment.create on an item whose comment this run does not know (the pulls' batched
       discovery did not cover it, or an earlier create there is unconfirmed): ask the system
       for our marker first; if it is there, edit it (or do nothing when the text matches)
    4. connector.apply, paced under the system's write budget
    5. outbox "done" + audit row + our comment's id and body + the item as the write left
       it (labels, the answer's fields and edit time, so the next pull sees our echo as no
       change), written with the next op's step 2 (at most 100 ops on, and at the end): a
       crash before that leaves the op "sending", as a crash during the request does, and
       step 3 settles it

A crash between any two steps leaves either nothing sent (the next run sends it) or a write
the next run finds again (step 3, or the labels in the fresh pull), so nothing is doubled and
nothing is lost. The next run's plan, made from fresh reads, replaces whatever an interrupted
run left in the outbox.

Failures: ItemError, NotFound and TransientError fail that op and the run goes on; AuthError
and RateLimited stop that system (its remaining ops are recorded as not attempted, in one
statement and without audit rows) and the other systems go on; so do GIVE_UP_AFTER transient
failures in a row (the system is down).

Each system runs in its own thread; the state serialises their writes behind one lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from connectors.base import CommentRef, Connector, Scope, WriteOp, WriteResult
from connectors.errors import (
    AuthError,
    ConnectorError,
    Interrupted,
    NotFound,
    RateLimited,
    TransientError,
    scrub,
)
from sync.engine.applied import ApplyReport, Failure
from sync.engine.claimed import Claims, ClaimsFor, enqueue
from sync.engine.pacing import Pacer, Stop
from sync.engine.replies import REPLY_ACTIONS, REPLY_WHAT, send_reply
from sync.store import Store
from sync.writeback.render import MARKER_PREFIX, is_current, marker_for

__all__ = ["GIVE_UP_AFTER", "ApplyReport", "Failure", "apply"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")


_WHAT = {
    "comment.create": "post the handoff comment",
    "comment.update": "update the handoff comment",
    "label.add": "add the label {name}",
    "label.remove": "remove the label {name}",
    "property.set": "set the property {name}",
    "entity_property.set": "set the entity property {name}",
    **REPLY_WHAT,
}

Progress = Callable[[WriteOp, str], None]
Settled = Callable[[WriteOp], bool]  # this run knows our comment on the op's item
GIVE_UP_AFTER = 10  # transient failures in a row after which a system is taken as down


def apply(
    ops: Sequence[WriteOp],
    connectors: Mapping[str, Connector],
    state: Store,
    *,
    run_id: int,
    now: Callable[[], datetime],
    pacer: Pacer | None = None,
    on_progress: Progress | None = None,
    halt: Stop | None = None,
    settled: Settled | None = None,
    planned: set[str] | None = None,
    claims: ClaimsFor | None = None,
) -> ApplyReport:
    """Send `ops` through the outbox; one thread per system. `on_progress(op, outcome)` is
    called from those threads with "done", "unchanged", "skipped", "failed", "elsewhere" or
    "not-attempted". Once `halt` is set, no further write starts. `planned`: the plan is in
    the outbox already (`claimed.enqueue`; these keys this run finished); `claims`: a shared
    state's, each op is sent only once claimed (`claimed.Claims`)."""
    # Shared: every system, for each takes over what nobody holds (`Claims.more`).
    by_system: dict[str, list[WriteOp]] = {s: [] for s in connectors} if claims else {}
    for op in ops:
        by_system.setdefault(op.system, []).append(op)
    # The whole plan in the outbox first, a chunk per transaction (step 1 for every op).
    finished = enqueue(ops, state, run_id, now()) if planned is None else planned
    workers = [
        _SystemRun(system, todo, connectors.get(system), state, run_id, now, pacer, on_progress)
        for system, todo in by_system.items()
    ]
    for w in workers:
        w.halt = halt
        w.finished = finished
        w.claims = claims(w.ops) if claims is not None else None
        w.settled = w.claims.settled(settled) if w.claims is not None else settled
    report = ApplyReport()
    if len(workers) <= 1:
        for w in workers:
            report.merge(w.run())
        return report
    with ThreadPoolExecutor(max_workers=len(workers), thread_name_prefix="apply") as pool:
        futures = [pool.submit(w.run) for w in workers]
        # result() re-raises a worker's crash here, after the other systems have finished.
        for fut in futures:
            report.merge(fut.result())
    return report


class _SystemRun:
    """The ops of one system, applied in order by one thread."""

    def __init__(
        self,
        system: str,
        ops: list[WriteOp],
        connector: Connector | None,
        state: Store,
        run_id: int,
        now: Callable[[], datetime],
        pacer: Pacer | None,
        on_progress: Progress | None,
    ) -> None:
        self.system = system
        self.ops = ops
        self.connector = connector
        self.state = state
        self.run_id = run_id
        self.now = now
        self.pacer = pacer
        self.on_progress = on_progress
        self.report = ApplyReport()
        self.halt: Stop | None = None
        self.finished: set[str] = set()  # op keys this run had already done
        self.settled: Settled | None = None
        self.claims: Claims | None = None  # a shared state's: send only what this one holds
        self.stop = "" if connector else f"no {system} connector is configured"  # why not

    def run(self) -> ApplyReport:
        try:
            self._run(self.ops)
            if self.claims is not None:
                self._more(self.claims)
            return self.report
        finally:
            self.state.outbox_flush()  # the settled ops kept back (see outbox_done later=)

    def _more(self, claims: Claims) -> None:
        """Then what nobody holds (claimed.Claims.more); what is left unsent is said."""
        self.on_progress = None  # the plan's count is reached: these are on top of it
        halt = self.halt
        for batch in claims.more(
            self.system, lambda: bool(self.stop) or bool(halt and halt.is_set())
        ):
            self._run(batch)
        self.report.elsewhere -= claims.retaken
        for op in claims.left:  # not "ok" silently; the outbox row stays the other's to touch
            self._report_failure(op, claims.left_note(), attempted=False)
            self.report.held.add((op.system, op.item_id))

    def _run(self, ops: Sequence[WriteOp]) -> None:
        in_a_row = 0  # transient failures since the last success
        for at, op in enumerate(ops):
            if not self.stop and self.halt is not None and self.halt.is_set():
                self.report.interrupted = self.halt.reason
                self.stop = f"Not attempted: the run was stopped ({self.halt.reason})."
            if self.stop:
                self._not_attempted(ops[at:], self.stop)
                break
            try:
                outcome = self._apply_one(op)
            except Interrupted:
                # A pause (pacing, a retry's backoff) was cut short: this op was not sent, or
                # its outcome is unknown and the next run's marker lookup settles it.
                reason = self.halt.reason if self.halt is not None else "a signal"
                self.report.interrupted = reason
                self.stop = f"Not attempted: the run was stopped ({reason})."
                self._fail(op, self.stop, attempted=False)
                continue
            except (AuthError, RateLimited) as exc:
                if isinstance(exc, AuthError):
                    self.report.refused.add(self.system)
                self.stop = self._stop(f"{self.system} stopped: {exc}")
                self._fail(op, str(exc))
                continue
            except NotFound as exc:
                # The item is gone or hidden from us: stop planning writes to it until a pull
                # sees it again, so one deleted ticket does not fail every later run.
                self.state.mark_item(op.system, op.item_id, "deleted")
                self._fail(op, str(exc))
                continue
            except ConnectorError as exc:
                self._fail(op, str(exc))
                in_a_row = in_a_row + 1 if isinstance(exc, TransientError) else 0
                if in_a_row >= GIVE_UP_AFTER:
                    # Each transient failure already spent the retry policy's whole deadline;
                    # the system is down, so the rest wait for the next run.
                    self.stop = self._stop(
                        f"{self.system} stopped after {in_a_row} failed writes in a row: {exc}"
                    )
                continue
            in_a_row = 0
            setattr(self.report, outcome, getattr(self.report, outcome) + 1)
            self._progress(op, outcome)

    def _not_attempted(self, left: Sequence[WriteOp], why: str) -> None:
        """The ops a stopped system never reached: their outbox rows (planned, with the
        reason) in one statement, and no audit rows, for none of them was attempted."""
        self.state.outbox_not_attempted(self.system, self.run_id, self.now(), why)
        for op in left:
            self._report_failure(op, why, attempted=False)

    def _stop(self, why: str) -> str:
        self.report.stopped[self.system] = why
        log.warning("stopping %s writes: %s", self.system, why)
        return why

    def _apply_one(self, op: WriteOp) -> str:
        """Steps 1-5 for one op; returns the report field it counts under."""
        if op.key in self.finished:
            return "skipped"
        if self.claims is not None and not self.claims.mine(op):
            return "elsewhere"  # another worker holds it, or a write on its item
        if op.action in REPLY_ACTIONS:  # a step's own reply (issue 17)
            return send_reply(op, self._find, self._send, self.state, self.run_id, self.now)
        self.state.outbox_sending(op, self.run_id, self.now())
        if op.action in ("comment.create", "comment.update"):
            sent, known = self._resolve_comment(op)
            if sent is None:
                self.state.outbox_done(
                    op,
                    self.run_id,
                    self.now(),
                    target=known,
                    result="unchanged",
                    detail="our comment already says this",
                    later=True,
                )
                return "unchanged"
        else:
            sent = op
        try:
            result = self._send(sent)
        except NotFound:
            if sent.action != "comment.update":
                raise
            # Someone deleted our comment: forget it and write it again.
            self.state.forget_comment(op.system, op.item_id)
            sent = self._comment_gone(op)
            result = self._send(sent)
        detail = "" if sent == op else f"sent as {sent.action} {sent.target}".rstrip()
        self.state.outbox_done(
            op,
            self.run_id,
            self.now(),
            target=result.target or sent.target,
            detail=detail,
            sent=sent,
            answer=result,  # the item's new edit time and fields: its echo is no change
            later=True,
        )
        return "done"

    def _resolve_comment(self, op: WriteOp) -> tuple[WriteOp | None, str]:
        """What to send for a comment op: (write, "") or (None, comment id) when our comment
        is there and already says exactly this.

        An update is sent as planned: the plan saw the comment's text and it differs. A create
        becomes an update of the comment we know (or find by marker); when we know one with
        this very text, the plan's "create" may mean someone deleted it, so look first.
        """
        if op.action == "comment.update":
            return op, ""
        stored = self.state.comment_for(op.item_id, system=op.system)
        if stored is not None and stored.body != op.body:
            return replace(op, action="comment.update", target=stored.comment_id), ""
        if stored is None and self.settled is not None and self.settled(op):
            return op, ""  # this run's discovery saw none of ours there: no second look
        ref = self._find(op)
        if ref is None:
            if stored is not None:
                self.state.forget_comment(op.system, op.item_id)
            return op, ""
        self._drop_duplicates(op, ref)
        if is_current(ref.text, op.body):
            return None, ref.id
        return replace(op, action="comment.update", target=ref.id), ""

    def _drop_duplicates(self, op: WriteOp, ref: CommentRef) -> None:
        """Later copies of our comment (two runs or installations raced): the oldest is the
        one we keep, the others are deleted; one already gone is done (see each connector)."""
        for dup in ref.duplicates:
            if dup and dup != ref.id:
                self._send(replace(op, action="comment.delete", target=dup, body=""))

    def _comment_gone(self, op: WriteOp) -> WriteOp:
        ref = self._find(op)
        if ref is None:
            return replace(op, action="comment.create", target="")
        return replace(op, action="comment.update", target=ref.id)

    def _find(self, op: WriteOp) -> CommentRef | None:
        conn = self.connector
        if not op.marker or conn is None:
            return None
        if self.pacer:
            self.pacer.wait(self.system, write=False, halt=self.halt)
        system, _, name = op.scope.partition(":")
        scope = Scope(system or op.system, name)
        found = _guard(op, lambda: conn.find_comment(scope, op.item_id, op.marker))
        legacy = marker_for(op.system, op.item_id)
        if found is None and op.marker.startswith(MARKER_PREFIX) and legacy != op.marker:
            # Written before markers named the item by its uid: still ours, still the one.
            if self.pacer:
                self.pacer.wait(self.system, write=False, halt=self.halt)
            found = _guard(op, lambda: conn.find_comment(scope, op.item_id, legacy))
        return found

    def _send(self, op: WriteOp) -> WriteResult:
        conn = self.connector
        assert conn is not None  # run() stops a system without a connector before sending
        if self.pacer:
            self.pacer.wait(self.system, halt=self.halt)
        result = _guard(op, lambda: conn.apply(op))
        if not result.ok:
            raise ConnectorError(
                result.detail or "the write was refused", system=op.system, scope=op.scope
            )
        return result

    def _fail(self, op: WriteOp, message: str, *, attempted: bool = True) -> None:
        text = self._report_failure(op, message, attempted=attempted)
        self.state.outbox_failed(op, self.run_id, self.now(), text, attempted=attempted, later=True)

    def _report_failure(self, op: WriteOp, message: str, *, attempted: bool) -> str:
        what = _WHAT.get(op.action, op.action).format(name=op.name)
        text = scrub(f"{op.item_key}: could not {what}. {message}")
        self.report.failures.append(
            Failure(op.system, op.item_id, op.item_key, op.action, text, op.key, attempted)
        )
        if attempted:
            self.report.failed += 1
        else:
            self.report.not_attempted += 1
        self._progress(op, "failed" if attempted else "not-attempted")
        return text

    def _progress(self, op: WriteOp, outcome: str) -> None:
        if self.on_progress:
            self.on_progress(op, outcome)


def _guard(op: WriteOp, call: Callable[[], _T]) -> _T:
    """Run a connector call; an unexpected exception from it fails this op, not the run."""
    try:
        return call()
    except (ConnectorError, Interrupted):
        raise
    except Exception as exc:
        log.exception("unexpected error from the %s connector on %s", op.system, op.item_key)
        raise ConnectorError(
            f"unexpected error ({type(exc).__name__}); see the log",
            system=op.system,
            scope=op.scope,
            internal=repr(exc),
        ) from exc
