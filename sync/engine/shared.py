"""One worker of several on a shared state (PostgreSQL): its id, its heartbeat, its scopes.

A run on a shared state is a worker (`Worker`): it leases the scopes it pulls (a scope another
worker holds is skipped: that one reads it), claims the writes it sends
(sync.engine.claimed), and plans under the state's plan lock. A heartbeat thread renews its
leases and claims every third of `[state] lease_seconds` while the run lives; a worker killed
outright stops renewing, and what it held expires for the others to take over. SQLite keeps
one run at a time (its run lock) and none of this.

Never write from what was not read: a skipped scope read in full before stands as stored; a
skipped scope never read in full is waited for (bounded by the lease's length) until its
holder has read it whole, and is blind otherwise (writes held back, as for a failed read).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from sync.engine.claimed import Claims, ClaimsFor
from sync.engine.knowledge import ScopeOutcome
from sync.settings import Settings
from sync.store import Store, plan_lock

__all__ = ["POLL", "SKIPPED_BLIND", "Worker", "new_holder"]

log = logging.getLogger(__name__)

POLL = 0.5  # seconds between looks at a skipped scope another worker is reading
SKIPPED_BLIND = (
    "{scope}: another worker ({holder}) held it and did not read it in full (it failed, "
    "stopped, or took over {wait:g} s); it has never been read in full, so this run wrote "
    "nothing. The next run reads it."
)


def new_holder() -> str:
    """This worker's id: which machine, which process, which run."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """One run's part in a shared state: leases, claims, heartbeat, release."""

    def __init__(self, state: Store, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.state = state
        self.settings = settings
        self.ttl = timedelta(seconds=settings.state.lease_seconds)
        self.clock = clock
        self.holder = new_holder()
        self.planned: datetime | None = None  # when it began planning (see `planning`)
        self.held: list[str] = []  # the scopes it leased (and pulls)
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # -- lifetime ------------------------------------------------------------------------
    def start(self) -> None:
        self._beat = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        self._beat.start()

    def end(self) -> None:
        """Stop renewing and give back every lease and claim (the run is over)."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=10)
        try:
            self.state.outbox_unclaim(self.holder)
            self.state.release_scopes(self.holder)
        except Exception as exc:  # they expire anyway; the run's own outcome matters more
            log.warning("could not give back the leases and claims of %s: %s", self.holder, exc)

    def _heartbeat(self) -> None:
        every = max(0.05, self.ttl.total_seconds() / 3)
        while not self._stop.wait(every):
            try:
                now = self.clock()
                held = list(self.held)  # the pulls add to it meanwhile
                if held:
                    self.state.lease_scopes(held, self.holder, now, self.ttl)
                self.state.renew_claims(self.holder, now, self.ttl)
            except Exception as exc:  # a blip: the next beat tries again before expiry
                log.warning("heartbeat of %s failed: %s", self.holder, exc)

    def planning(self) -> AbstractContextManager[object]:
        """The state's plan lock: workers plan one at a time (their pulls and sends overlap).
        Its plan covers every write put in the outbox before it began: of those, it takes
        over only the ones tried since (sync.engine.claimed `Claims.more`)."""
        self.planned = self.planned or self.clock()
        return plan_lock(self.settings, self.settings.state.plan_wait_seconds)

    # -- scopes --------------------------------------------------------------------------
    def take(self, scope: str) -> bool:
        """Lease `scope` just before pulling it; False: another worker holds it (skipped)."""
        got = self.state.lease_scopes([scope], self.holder, self.clock(), self.ttl)
        if got:
            self.held.append(scope)
        return bool(got)

    def await_skipped(self, skipped: Sequence[ScopeOutcome]) -> None:
        """Skipped scopes never read in full: wait while another worker's lease on one lives
        (its heartbeat renews it; a killed worker's runs out within `lease_seconds`) until
        that worker has read it whole, at most `plan_wait_seconds`. One still unread (its
        holder failed, died or is too slow) gets an error, which makes it blind
        (sync.engine.knowledge.blind_scopes)."""
        wait = self.settings.state.plan_wait_seconds
        deadline = time.monotonic() + wait
        pending = [o for o in skipped if not self._read(o.scope)]
        holders: dict[str, str] = {}
        while pending and time.monotonic() < deadline:
            live = self.state.live_leases(self.clock())
            holders.update({o.scope: live[o.scope] for o in pending if o.scope in live})
            # A lease given back or run out without a read: no one is reading it now.
            pending = [
                o
                for o in pending
                if not self._read(o.scope) and live.get(o.scope, self.holder) != self.holder
            ]
            if pending:
                time.sleep(POLL)
        for o in skipped:
            if not self._read(o.scope):
                o.error = SKIPPED_BLIND.format(
                    scope=o.scope, holder=holders.get(o.scope, "gone"), wait=wait
                )

    def claims(self, clock: Callable[[], datetime]) -> ClaimsFor:
        """How apply claims one system's writes for this worker."""
        return lambda ops: Claims(self.state, self.holder, self.ttl, clock, ops, self.planned)

    def _read(self, scope: str) -> bool:
        """Read in full by someone: a cursor, or a whole read recorded (a worker records it
        before its plan; its cursor moves only after its writes)."""
        return self.state.cursor(scope) is not None or scope in self.state.last_reads()
