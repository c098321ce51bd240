"""The worker of `handoff serve`: drains the webhook inbox a burst at a time, and polls anyway.

Deliveries are signals, not truth: each burst (deliveries until none came for
`debounce_seconds`, or `max_wait_seconds` after its first) makes one incremental sync of the
scopes its deliveries are about (`sync.serve.targets`), which re-reads what changed there since
each scope's cursor through the connectors and reconciles only the records those changes touch
(`sync.engine.incremental`). The burst's deliveries are marked done only when that sync has
finished; a sync stopped by SIGTERM (after its write in flight) leaves them in the inbox for
the next start. The echo of our own writes arrives as deliveries too; its sync finds no change
and writes nothing. Every `poll_minutes` (and once at start), whatever arrives, a sync reads
every scope: the safety net for the deliveries that never came.

Replicas on one state (several `handoff serve` behind a load balancer, one PostgreSQL) share
the inbox: a worker claims the rows of its burst before the sync (`inbox_claim`, one holder
per worker), renews the claim every third of `[serve] claim_seconds` while the sync runs, and
gives back what it did not mark done. A row claimed by another live replica is not this
worker's to wait for or to sync; a replica that died stops renewing, and its rows come back
once the claim runs out. With one replica (SQLite) no claim is ever refused.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connectors.errors import HandoffSyncError, scrub
from sync.serve.metrics import Metrics
from sync.store import InboxRow, Store

__all__ = ["LAST_POLL", "Outcome", "Worker"]

log = logging.getLogger("handoff.serve")
LAST_POLL = "serve_last_poll"  # the meta fact: when the service last read every scope
_TICK = 1.0  # the longest the worker sleeps without looking at the inbox
_BACKOFF_MAX = 300.0
KEEP = timedelta(days=7)  # synced deliveries are kept this long (ids deduplicate retries)


@dataclass(frozen=True)
class Outcome:
    """How one sync ended, as the worker needs it."""

    run_id: int | None
    ok: bool  # every scope read and every write done
    interrupted: bool  # stopped by a signal: the rest waits for the next start
    writes: int = 0
    echo: bool = False  # the burst was our own writes' echo alone: done without a sync


@dataclass(frozen=True)
class Timing:
    debounce: float
    max_wait: float
    poll: float
    claim: float = 300.0  # seconds a claim on inbox rows runs unrenewed ([serve] claim_seconds)


class Worker:
    """Run `run()` in a thread; `wake()` when a delivery is stored; `stop()` to end it."""

    def __init__(
        self,
        store: Store,
        sync: Callable[[list[InboxRow], bool], Outcome],
        timing: Timing,
        metrics: Metrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        holder: str = "",
    ) -> None:
        # Who claims inbox rows: this replica's worker, unique across machines and restarts.
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.store = store
        self.sync = sync
        self.timing = timing
        self.metrics = metrics
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.interrupted = False
        self.last_sync = clock()
        # The first poll comes at once: whatever changed while the service was down.
        self.last_poll = clock() - timedelta(seconds=timing.poll)
        self._backoff = 0.0

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """Until stopped: wait for a burst or the poll, sync, mark the burst done."""
        while not self._stop.is_set():
            try:
                nxt = self._next()
                if nxt is None:
                    break
                self._once(*nxt)
            except Exception as exc:  # the state cannot be read now: try again later
                log.debug("worker step failed", exc_info=exc)
                self._failed("inbox", f"{type(exc).__name__}: {exc}")
                self._wake.wait(min(self._backoff, 5.0))
            if self.interrupted:
                break
        self._give_back()
        log.info("worker stopped")

    def _next(self) -> tuple[list[InboxRow], bool] | None:
        """The burst to sync once it is ready, and whether the poll is due (a poll reads
        every scope, the burst's deliveries with it); None when stopped."""
        t = self.timing
        while not self._stop.is_set():
            now = self.clock()
            # What another replica holds is its own to sync: it neither delays nor makes ours.
            pending = self.store.inbox_pending(holder=self.holder, now=now)
            poll_at = self.last_poll + timedelta(seconds=t.poll)
            ready = poll_at
            if pending:
                quiet = pending[-1].received_at + timedelta(seconds=t.debounce)
                capped = pending[0].received_at + timedelta(seconds=t.max_wait)
                ready = min(quiet, capped, poll_at)
            ready = max(ready, self.last_sync + timedelta(seconds=self._backoff))
            if now >= ready:
                poll = now >= poll_at
                batch = self._claim(now) if pending else []
                if batch or poll:
                    return batch, poll
                self._wake.wait(0.05)  # another replica claimed them first: look again
                continue
            self._wake.wait(min(_TICK, (ready - now).total_seconds()))
            self._wake.clear()
        return None

    def _once(self, batch: list[InboxRow], poll: bool = False) -> None:
        trigger = "poll" if poll or not batch else "webhook"
        if batch:
            log.info("syncing for %d deliveries (%s)", len(batch), _about(batch))
        renewing = self._renewing([r.n for r in batch])
        try:
            out = self.sync(batch, trigger == "poll")
        except HandoffSyncError as exc:
            self._failed(trigger, exc.message)
            return
        except Exception as exc:  # a bug in one sync must not end the service
            log.debug("sync failed", exc_info=exc)
            self._failed(trigger, f"unexpected error ({type(exc).__name__}: {exc})")
            return
        finally:
            renewing.set()
        self.last_sync = self.clock()
        self.metrics.wrote(out.writes)
        if out.echo:
            self.metrics.count("echoes", trigger, len(batch))
        elif out.interrupted:
            self.interrupted = True
            self.metrics.count("syncs", (trigger, "interrupted"))
            log.info("stopped after the write in flight; %d deliveries wait", len(batch))
            self._give_back()  # another replica may take them now
            return
        else:
            self.metrics.count("syncs", (trigger, "ok" if out.ok else "failed"))
        # Whatever failed to read now is still past its scope's cursor: the next sync reads it.
        self.store.inbox_done([r.n for r in batch], self.last_sync, run_id=out.run_id)
        if trigger == "poll":
            self.last_poll = self.last_sync
            self.store.remember_fact(LAST_POLL, self.last_sync.isoformat())
        self.store.inbox_prune(self.last_sync - KEEP)
        self._backoff = 0.0 if out.ok else self._longer()

    def _claim(self, now: datetime) -> list[InboxRow]:
        return self.store.inbox_claim(self.holder, now, timedelta(seconds=self.timing.claim))

    def _renewing(self, ns: list[int]) -> threading.Event:
        """Renew the claim on rows `ns` every third of its length until the event is set (the
        sync ended): a sync longer than the claim keeps its rows."""
        done = threading.Event()
        if not ns:
            return done

        def renew() -> None:
            while not done.wait(self.timing.claim / 3):
                try:
                    self.store.inbox_claim(
                        self.holder, self.clock(), timedelta(seconds=self.timing.claim), only=ns
                    )
                except Exception as exc:  # the next renewal may reach the state again
                    log.debug("inbox claim renewal failed", exc_info=exc)

        threading.Thread(target=renew, name="handoff-inbox-claim", daemon=True).start()
        return done

    def _give_back(self) -> None:
        """Free the rows this worker claimed and did not mark done, for another replica."""
        try:
            self.store.inbox_unclaim(self.holder)
        except Exception as exc:  # unreachable state: the claims run out by themselves
            log.debug("inbox unclaim failed", exc_info=exc)

    def _failed(self, trigger: str, message: str) -> None:
        """The sync could not run (a lock held, a state or config problem): try again later,
        waiting longer each time; the deliveries stay in the inbox."""
        self.metrics.count("syncs", (trigger, "error"))
        self._give_back()
        self.last_sync = self.clock()
        self._backoff = self._longer()
        log.warning("sync did not run: %s; trying again in %.0f s", scrub(message), self._backoff)

    def _longer(self) -> float:
        return min(_BACKOFF_MAX, self.timing.poll, max(5.0, self._backoff * 2))


def _about(batch: list[InboxRow]) -> str:
    subjects = sorted({f"{r.system} {r.subject}".strip() for r in batch})
    more = f" and {len(subjects) - 5} more" if len(subjects) > 5 else ""
    return ", ".join(subjects[:5]) + more
