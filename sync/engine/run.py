"""One sync, as a pipeline: pull -> store -> comments -> reconcile -> apply.

Pulls (`pull`) run one thread per system and stream items to the store a batch at a time,
each pull finding our comments in batches on the way; what they found is settled against the
state next (`comments`; no comment is read item by item), so that reconcile and plan
(`reconcile`) are pure: they read every stored item, so an item stored by an earlier run is
planned again on every run and a cursor can never skip past unplanned work. A dry run does
all of this against an in-memory copy of the state and stops before apply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.base import Connector, Cursor, Scope, WriteOp
from connectors.errors import AuthError, ConnectorError, HandoffSyncError
from mapping.people import Directory
from sync.engine.access import lost_access, lost_note
from sync.engine.apply import apply
from sync.engine.clock import clamp_cursor
from sync.engine.comments import Discovery, discover, read_comments
from sync.engine.connect import Unreachable
from sync.engine.knowledge import (
    ScopeOutcome,
    blind_scopes,
    jira_keys,
    mark_gone,
    record_reads,
    stale_note,
    stale_scopes,
)
from sync.engine.pacing import Pacer, Stop
from sync.engine.pull import Progress, pull
from sync.engine.reconcile import Reconciled, reconcile
from sync.engine.result import SyncResult, run_outcome
from sync.settings import Settings
from sync.store import STORE_ERRORS, Store, copy_of, open_store, run_lock, store_error
from sync.store.identity import check_served, served_by
from sync.systems import runtime
from sync.writeback.plan import PlanConfig, describe

__all__ = [
    "Engine",
    "ScopeOutcome",
    "SyncOptions",
    "SyncResult",
    "plan_config",
    "run_outcome",
]

log = logging.getLogger(__name__)

BLIND = (
    "{scopes} has never been read in full, and a handoff's other items may live there, so "
    "this run wrote nothing ({n} writes held back). Fix the error above; the next run writes."
)


@dataclass(frozen=True)
class SyncOptions:
    dry_run: bool = False
    full: bool = False
    only: frozenset[str] = frozenset()  # systems to pull and write; empty means all
    adopt_config: bool = False  # let the state file serve this config from now on


def plan_config(settings: Settings) -> PlanConfig:
    """How to write back, from settings (see `sync.systems.runtime`)."""
    return runtime.plan_config(settings)


@dataclass(frozen=True)
class _Run:
    """What every step of one run shares."""

    state: Store
    opts: SyncOptions
    run_id: int
    now: datetime
    systems: list[str]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Engine:
    """Runs syncs for one configuration against the given connectors."""

    def __init__(
        self,
        settings: Settings,
        connectors: Mapping[str, Connector],
        scopes: Sequence[Scope],
        *,
        clock: Callable[[], datetime] = _utcnow,
        pacer: Pacer | None = None,
        progress: Progress | None = None,
        halt: Stop | None = None,
        known_errors: Sequence[str] = (),
    ) -> None:
        self.settings = settings
        self.runtime = runtime.runtime(settings)
        self.connectors = dict(connectors)
        self.scopes = list(scopes)
        self.clock = clock
        self.pacer = pacer
        self.progress = progress or (lambda phase, done, total: None)
        self.halt = halt
        # Systems that could not even be opened (sync.engine.connect): the run must not end as "ok".
        self.known_errors = list(known_errors)

    # -- the run ---------------------------------------------------------------------------
    def run(self, opts: SyncOptions) -> SyncResult:
        if opts.dry_run:
            # An in-memory copy: the plan uses real history and the state stays untouched.
            with copy_of(self.settings) as state:
                check_served(state, served_by(self.settings), adopt=opts.adopt_config)
                return self._run(state, opts)
        with run_lock(self.settings), open_store(self.settings) as state:
            check_served(state, served_by(self.settings), adopt=opts.adopt_config)
            return self._run(state, opts)

    def _run(self, state: Store, opts: SyncOptions) -> SyncResult:
        now = self.clock()
        run_id = state.start_run(now, dry_run=opts.dry_run)
        result = SyncResult(
            run_id=run_id, dry_run=opts.dry_run, at=now, errors=list(self.known_errors)
        )
        systems = [s for s in self.connectors if not opts.only or s in opts.only]
        run = _Run(state, opts, run_id, now, systems)
        try:
            # pull -> store -> comments -> reconcile (pure) -> apply
            directory, people_failed, found = self._read(run, result)
            items = {(i.system, i.id): i for i in state.iter_items() if i.state == "present"}
            self.progress("reconcile", 0, len(items))
            changed = {(o.scope, i) for o in result.scopes for i in o.changed}
            comments = read_comments(
                state,
                {s: self.connectors[s] for s in systems},
                items.values(),
                self.settings.link,
                found,
                changed,
                pacer=self.pacer,
                clock=self.clock,
            )
            done = reconcile(
                items.values(),
                self.runtime,
                directory,
                now=now,
                opened=state.opened_at(),
                comments=comments,
                systems=systems,
                known_keys=jira_keys(items.values(), result.scopes),
                found=found.found,
            )
            self._record(run, result, done, people_failed)
            if opts.dry_run:
                result.plan_text = describe(result.ops, [t.item for t in done.targets])
            else:
                self._write(run, result, found)
        except HandoffSyncError as exc:
            result.errors.append(exc.message)
            raise
        except STORE_ERRORS as exc:
            error = store_error(exc, self.settings)
            result.errors.append(error.message)
            raise error from exc
        except BaseException as exc:  # a bug, or Ctrl-C before the writes: never "ok"
            if isinstance(exc, KeyboardInterrupt):
                result.interrupted = (self.halt.reason if self.halt else "") or "SIGINT"
            else:
                result.errors.append(f"unexpected error ({type(exc).__name__}); see the log")
            raise
        finally:
            self._finish(state, run_id, result)
        return result

    def _read(self, run: _Run, result: SyncResult) -> tuple[Directory, dict[str, bool], Discovery]:
        """People, then every scope pulled into the store with our comments on its items;
        what a run learns before planning."""
        state, now = run.state, run.now
        directory, people_failed = self._directory(run.systems, result)
        cursors = {
            s.key: None if run.opts.full else state.cursor(s.key)
            for s in self.scopes
            if s.system in run.systems
        }
        result.scopes = pull(
            self.connectors,
            self.scopes,
            cursors,
            state,
            run_id=run.run_id,
            now=now,
            progress=self.progress,
        )
        mark_gone(state, result.scopes)
        found = discover(state, result.scopes, now)
        if not run.opts.dry_run:
            record_reads(state, result.scopes, now)
        for o in result.scopes:
            o.unreached = self._unreached(o.scope)  # `connect` has reported those
        result.errors += [
            s.error
            for s in result.scopes
            if s.error and not s.unreached and s.error not in result.errors
        ]
        return directory, people_failed, found

    def _record(
        self, run: _Run, result: SyncResult, done: Reconciled, people_failed: dict[str, bool]
    ) -> None:
        """Store records and findings, and hold every write back when a scope is blind."""
        state, now = run.state, run.now
        result.records = len(done.records)
        result.findings = [f for fs in done.findings.values() for f in fs]
        # A scope that has never been read in full may hold the other half of a handoff:
        # without it, findings can be false ("no owner" while the owner sits there), so
        # this run neither records them nor writes anything, in any system.
        result.blind, result.blind_by_auth = blind_scopes(state, result.scopes, people_failed)
        blind = result.blind
        result.stale = stale_scopes(state, result.scopes, blind)
        result.lost = lost_access(state, result.scopes, blind, now)
        result.errors += [
            lost_note(scope, result.lost[scope], at, now)
            if scope in result.lost
            else stale_note(scope, at, now)
            for scope, at in result.stale.items()
        ]
        state.upsert_records(done.records, now)
        if not blind:
            state.record_findings(run.run_id, result.findings, now, records=None)
        result.ops = list(done.ops)
        if blind and not run.opts.dry_run:
            if result.ops or len(blind) < len(result.scopes):
                # Say what was held back where; a lone system that could not even be
                # opened has said all there is to say in `connect`'s one line.
                result.errors.append(BLIND.format(n=len(result.ops), scopes=", ".join(blind)))
            result.ops = []
        log.info(
            "%d handoffs, %d open findings, %d writes planned",
            len(done.records),
            len(result.findings),
            len(result.ops),
        )

    def _write(self, run: _Run, result: SyncResult, found: Discovery) -> None:
        """Apply the plan, then move the cursors: every pulled item was stored and planned."""
        if self.halt is not None:
            self.halt.writing = True
        self.progress("write", 0, len(result.ops))
        done = [0]

        def on_progress(op: WriteOp, outcome: str) -> None:
            done[0] += 1
            self.progress("write", done[0], len(result.ops))

        result.applied = apply(
            result.ops,
            {s: self.connectors[s] for s in run.systems},
            run.state,
            run_id=run.run_id,
            now=self.clock,
            pacer=self.pacer,
            on_progress=on_progress,
            halt=self.halt,
            settled=found.settled,
        )
        result.interrupted = result.applied.interrupted
        for outcome in result.scopes:
            if not outcome.error and outcome.newest is not None:
                connector = self.connectors.get(outcome.scope.partition(":")[0])
                upto = clamp_cursor(connector, outcome.newest)  # not past the server
                run.state.advance_cursor(
                    outcome.scope, Cursor(upto), now=run.now, run_id=run.run_id
                )

    def _finish(self, state: Store, run_id: int, result: SyncResult) -> None:
        """Record how the run ended; a state file that cannot take even that is logged."""
        try:
            state.finish_run(
                run_id, self.clock(), outcome=run_outcome(result), counts=result.counts()
            )
        except STORE_ERRORS as exc:
            log.warning("could not record how run %d ended: %s", run_id, exc)

    # -- steps -----------------------------------------------------------------------------
    def _unreached(self, scope_key: str) -> bool:
        """The scope's system could not be opened: `connect` has reported that already."""
        system = scope_key.partition(":")[0]
        return isinstance(self.connectors.get(system), Unreachable)

    def _directory(
        self, systems: Iterable[str], result: SyncResult
    ) -> tuple[Directory, dict[str, bool]]:
        """The people directory, and the systems whose people could not be read (-> whether
        for a refused token)."""
        directory = self.runtime.directory()
        failed: dict[str, bool] = {}
        for system in systems:
            try:
                directory.add_accounts(self.connectors[system].people())
            except ConnectorError as exc:
                # Without this system's people, owners there look unknown: say so, go on.
                failed[system] = isinstance(exc, AuthError)
                if not isinstance(self.connectors[system], Unreachable):
                    result.errors.append(exc.message)
        return directory, failed
