"""One sync, as a pipeline: pull -> store -> comments -> reconcile -> apply.

Pulls (`pull`) run one thread per system and stream items to the store a batch at a time,
each pull finding our comments in batches on the way (no comment is read item by item);
what they found is settled against the state next (`comments`).
The reconcile step (`evaluate`) then takes up only what the run must look at: the items whose
stored rows moved, their records old and new, the records due by time, and whatever an
earlier run took up but did not carry through to the outbox (`incremental`); it reads our
comments on those and hands them to the pure `reconcile`. Only after the writes are in the
outbox is that work settled, so a cursor can never skip past unplanned work. A dry run does
all of this against an in-memory copy of the state and stops before apply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from connectors.base import Connector, Cursor, Scope, WriteOp
from connectors.errors import HandoffSyncError
from mapping.people import Directory
from mapping.rules import SEVERITIES, Finding
from sync.engine.access import lost_access, lost_note
from sync.engine.apply import apply
from sync.engine.claimed import enqueue
from sync.engine.clock import cursor_after
from sync.engine.comments import Discovery, discover, tell_known, tell_wanted
from sync.engine.connect import Unreachable
from sync.engine.constants import ConstantCache
from sync.engine.evaluate import Evaluated, evaluate_run, settle
from sync.engine.knowledge import (
    ScopeOutcome,
    blind_scopes,
    mark_gone,
    record_reads,
    stale_note,
    stale_scopes,
)
from sync.engine.notify import deliver
from sync.engine.pacing import Budget, Pacer, Stop, default_budgets, drain_seconds
from sync.engine.people import people_directory
from sync.engine.pull import Progress, pull
from sync.engine.result import SyncResult, run_outcome, stored_findings
from sync.engine.shared import Worker
from sync.settings import Settings
from sync.store import Store, copy_of, open_store, run_lock, shared_state, store_error, store_errors
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
    # Hold every open finding in `SyncResult.findings` (read from the state after the run);
    # the CLI shows only counts and says False, so its memory follows what the run evaluated.
    findings: bool = True


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
    worker: Worker | None = None  # on a shared state: this run's leases and claims


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
        constants: ConstantCache | None = None,
        comments_of: Mapping[str, Collection[str]] | None = None,
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
        self.constants = constants  # what `connect` gave the connectors; saved by each run
        # System -> items whose comment list a person changed unseen by the scope's read
        # (a webhook said so: `sync.serve.targets.comment_reads`); their comments are read.
        self.comments_of = dict(comments_of or {})
        if pacer is not None:
            # Reads share each system's budget with its writes (connectors.gate).
            for system, conn in self.connectors.items():
                if getattr(conn, "read_gate", False) is None:  # not gated by `connect`
                    setattr(conn, "read_gate", pacer.read_gate(system))  # noqa: B010

    # -- the run ---------------------------------------------------------------------------
    def run(self, opts: SyncOptions) -> SyncResult:
        if opts.dry_run:
            # An in-memory copy: the plan uses real history and the state stays untouched.
            with copy_of(self.settings) as state:
                check_served(state, served_by(self.settings), adopt=opts.adopt_config)
                return self._run(state, opts)
        if shared_state(self.settings):
            # Several workers at once: no run lock; scopes leased, writes claimed, and one
            # plan at a time under the plan lock (sync.engine.shared).
            with open_store(self.settings) as state:
                check_served(state, served_by(self.settings), adopt=opts.adopt_config)
                return self._run(state, opts, Worker(state, self.settings, self.clock))
        with run_lock(self.settings), open_store(self.settings) as state:
            check_served(state, served_by(self.settings), adopt=opts.adopt_config)
            return self._run(state, opts)

    def _run(self, state: Store, opts: SyncOptions, worker: Worker | None = None) -> SyncResult:
        now = self.clock()
        run_id = state.start_run(now, dry_run=opts.dry_run)
        result = SyncResult(
            run_id=run_id, dry_run=opts.dry_run, at=now, errors=list(self.known_errors)
        )
        systems = [s for s in self.connectors if not opts.only or s in opts.only]
        run = _Run(state, opts, run_id, now, systems, worker)
        try:
            if worker is not None:
                worker.start()
            # pull -> store -> comments -> reconcile (pure) -> apply
            directory, people_failed, found = self._read(run, result)
            if self.constants is not None:
                self.constants.save(state)
            self.progress("reconcile", 0, 0)
            with nullcontext() if worker is None else worker.planning():
                done, planned = self._plan(run, result, directory, people_failed, found)
            if opts.dry_run:
                result.plan_text = describe(result.ops, done.views, directory)
            else:
                self._write(run, result, found, planned)
                if not result.blind and not opts.only and not result.interrupted:
                    with nullcontext() if worker is None else worker.planning():  # see _plan
                        held = result.applied.held if result.applied else set()
                        settle(state, done, self.settings.link, run_id if worker else None, held)
            self._notify(run, result, directory)
        except HandoffSyncError as exc:
            result.errors.append(exc.message)
            raise
        except store_errors() as exc:
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
            if worker is not None:
                worker.end()
            self._finish(state, run_id, result)
        return result

    def _plan(
        self,
        run: _Run,
        result: SyncResult,
        directory: Directory,
        people_failed: dict[str, bool],
        found: Discovery,
    ) -> tuple[Evaluated, set[str] | None]:
        """Reconcile, record the findings, and (on a shared state, still under the plan lock)
        put the plan in the outbox; returns what was evaluated and the keys of the ops this
        run finished already (None: apply puts the plan in itself)."""
        state = run.state
        # Known before reconcile: a rebuild records findings a batch at a time (so never
        # holds them all), and a blind run records none.
        result.blind, result.blind_by_auth = blind_scopes(state, result.scopes, people_failed)
        done = evaluate_run(
            state,
            self.runtime,
            directory,
            self.connectors,
            result.scopes,
            systems=run.systems,
            now=run.now,
            full=run.opts.full,
            found=found,
            pacer=self.pacer,
            clock=self.clock,
            record=None if result.blind else partial(self._record_findings, run),
        )
        self._record(run, result, done)
        if run.worker is None or run.opts.dry_run:
            return done, None
        at, holder = self.clock(), run.worker.holder
        return done, enqueue(result.ops, state, run.run_id, at, holder, run.now, done.taken)

    def _read(self, run: _Run, result: SyncResult) -> tuple[Directory, dict[str, bool], Discovery]:
        """People, then every scope pulled into the store with our comments on its items;
        what a run learns before planning."""
        state, now = run.state, run.now
        conns = self.connectors
        directory, people_failed = people_directory(self.runtime, conns, run.systems, result)
        cursors = {
            s.key: None if run.opts.full else state.cursor(s.key)
            for s in self.scopes
            if s.system in run.systems
        }
        tell_known(state, {s: self.connectors[s] for s in run.systems}, cursors)
        tell_wanted(state, {s: self.connectors[s] for s in run.systems}, self.comments_of)
        result.scopes = pull(
            self.connectors,
            self.scopes,
            cursors,
            state,
            run_id=run.run_id,
            now=now,
            progress=self.progress,
            widths=self._widths(),
            take=None if run.worker is None else run.worker.take,  # leased scope by scope
        )
        mark_gone(state, result.scopes)
        found = discover(state, result.scopes, now)
        if not run.opts.dry_run:
            record_reads(state, result.scopes, now)
        if run.worker is not None:  # scopes another worker reads: waited for if never read
            # (after recording ours: two workers starting together wait for each other's)
            run.worker.await_skipped([o for o in result.scopes if o.skipped])
        for o in result.scopes:
            o.unreached = self._unreached(o.scope)  # `connect` has reported those
        result.errors += [
            s.error
            for s in result.scopes
            if s.error and not s.unreached and s.error not in result.errors
        ]
        return directory, people_failed, found

    def _record_findings(self, run: _Run, findings: list[Finding], records: set[str]) -> None:
        run.state.record_findings(run.run_id, findings, run.now, records=records)

    def _record(self, run: _Run, result: SyncResult, done: Evaluated) -> None:
        """Record findings, and hold every write back when a scope is blind."""
        state, now = run.state, run.now
        result.records = done.records
        result.checked = done.records if done.full else len(done.evaluated)
        # A scope that has never been read in full may hold the other half of a handoff:
        # without it, findings can be false ("no owner" while the owner sits there), so
        # this run neither records them nor writes anything, in any system.
        blind = result.blind
        result.stale = stale_scopes(state, result.scopes, blind)
        result.lost = lost_access(state, result.scopes, blind, now)
        result.errors += [
            lost_note(scope, result.lost[scope], at, now)
            if scope in result.lost
            else stale_note(scope, at, now)
            for scope, at in result.stale.items()
        ]
        if not blind:
            # A run that evaluated some records decides only theirs (and closes the findings
            # of those that vanished); the others' findings stand as stored.
            if not done.recorded:
                keys = None if done.full else done.evaluated
                state.record_findings(run.run_id, done.findings, now, records=keys)
            # Totals from the state; every open finding only when the caller wants them
            # (the CLI shows counts): a quiet run then holds no more than it evaluated.
            result.open_by_code = state.open_findings()
            if run.opts.findings:
                result.findings = stored_findings(state)
        else:
            outside = () if done.full else done.evaluated
            result.findings = done.findings + ([] if done.full else stored_findings(state, outside))
        # Blockers first (a stable sort: each item's writes keep their order), so a first
        # sync's backlog fixes what stops a run before what only informs.
        rank = len(SEVERITIES)
        result.ops = sorted(done.ops, key=lambda op: done.ranks.get((op.system, op.item_id), rank))
        result.drain_s = drain_seconds((op.system for op in result.ops), self._budgets())
        if blind and not run.opts.dry_run:
            if result.ops or len(blind) < len(result.scopes):
                # Say what was held back where; a lone system that could not even be
                # opened has said all there is to say in `connect`'s one line.
                result.errors.append(BLIND.format(n=len(result.ops), scopes=", ".join(blind)))
            result.ops = []
        log.info(
            "%d handoffs, %d open findings, %d writes planned",
            done.records,
            result.counts()["findings"],
            len(result.ops),
        )

    def _write(
        self, run: _Run, result: SyncResult, found: Discovery, planned: set[str] | None
    ) -> None:
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
            planned=planned,
            claims=None if run.worker is None or result.blind else run.worker.claims(self.clock),
        )
        result.interrupted = result.applied.interrupted
        for outcome in result.scopes:
            connector = self.connectors.get(outcome.scope.partition(":")[0])
            upto = cursor_after(connector, outcome.newest, outcome.began)
            if not outcome.error and upto is not None:
                run.state.advance_cursor(
                    outcome.scope, Cursor(upto), now=run.now, run_id=run.run_id
                )

    def _notify(self, run: _Run, result: SyncResult, directory: Directory) -> None:
        """Escalation steps due now (sync.engine.notify): listed by a dry run, else sent unless
        the run was blind or interrupted; by one worker at a time on a shared state."""
        dry = run.opts.dry_run
        if not dry and (result.blind or result.interrupted):
            return
        with nullcontext() if run.worker is None else run.worker.planning():
            told = deliver(run.state, self.settings, directory, run_id=run.run_id, now=run.now,
                           dry_run=dry, clock=None if dry else self.clock)  # fmt: skip
        if dry:
            result.plan_text = "\n".join([result.plan_text, *told.lines]).strip()
        else:
            result.errors += told.failed

    def _finish(self, state: Store, run_id: int, result: SyncResult) -> None:
        """Record how the run ended; a state file that cannot take even that is logged."""
        try:
            state.finish_run(
                run_id, self.clock(), outcome=run_outcome(result), counts=result.counts()
            )
        except store_errors() as exc:
            log.warning("could not record how run %d ended: %s", run_id, exc)

    # -- steps -----------------------------------------------------------------------------
    def _unreached(self, scope_key: str) -> bool:
        """The scope's system could not be opened: `connect` has reported that already."""
        system = scope_key.partition(":")[0]
        return isinstance(self.connectors.get(system), Unreachable)

    def _budgets(self) -> Mapping[str, Budget]:
        return self.pacer.budgets if self.pacer else default_budgets()

    def _widths(self) -> dict[str, int]:
        """Scopes of each system pulled side by side, from its budget."""
        return {s: max(1, b.width) for s, b in self._budgets().items()}
