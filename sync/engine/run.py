"""One sync: pull every scope, fold items into records, find what is missing, plan, apply.

Pulls run one thread per system (each system has its own rate limit) and stream items to the
state a batch at a time. Reconcile and plan then read every stored item, so an item stored by
an earlier run is planned again on every run: a cursor can never skip past unplanned work.
A dry run does all of this against an in-memory copy of the state and stops before apply.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from connectors.base import CommentRef, Connector, Cursor, Scope, SourceItem, WriteOp
from connectors.errors import (
    AuthError,
    ConnectorError,
    HandoffSyncError,
    TransientError,
    scrub,
)
from mapping.link import build_records
from mapping.people import Directory
from mapping.record import HandoffRecord
from mapping.rules import Finding, evaluate
from sync.engine.access import lost_access, lost_note
from sync.engine.apply import apply
from sync.engine.clock import clamp_cursor
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
from sync.engine.own_writes import recognise_own_writes
from sync.engine.pacing import Pacer, Stop
from sync.engine.result import SyncResult, run_outcome
from sync.settings import Settings
from sync.store import STORE_ERRORS, Store, copy_of, open_store, run_lock, store_error
from sync.store.identity import check_served, served_by
from sync.systems import runtime
from sync.writeback.plan import ItemView, PlanConfig, Target, describe, plan
from sync.writeback.render import markers_for

__all__ = [
    "Engine",
    "ScopeOutcome",
    "SyncOptions",
    "SyncResult",
    "plan_config",
    "run_outcome",
]

log = logging.getLogger(__name__)

_DONE = object()  # end-of-scope sentinel on the pull queue
BLIND = (
    "{scopes} has never been read in full, and a handoff's other items may live there, so "
    "this run wrote nothing ({n} writes held back). Fix the error above; the next run writes."
)
_QUEUE_DEPTH = 2000  # items in flight between pull threads and the state writer


@dataclass(frozen=True)
class SyncOptions:
    dry_run: bool = False
    full: bool = False
    only: frozenset[str] = frozenset()  # systems to pull and write; empty means all
    adopt_config: bool = False  # let the state file serve this config from now on


def plan_config(settings: Settings) -> PlanConfig:
    """How to write back, from settings (see `sync.systems.runtime`)."""
    return runtime.plan_config(settings)


Progress = Callable[[str, int, int], None]  # (phase, done, total or 0)


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
        try:
            directory, people_failed = self._directory(systems, result)
            first = {s.key for s in self.scopes if state.cursor(s.key) is None}
            result.scopes = self._pull(state, systems, opts, run_id, now)
            mark_gone(state, result.scopes)
            first &= {o.scope for o in result.scopes if not o.error}
            found = recognise_own_writes(state, self.connectors, first, now, self._read_wait())
            if not opts.dry_run:
                record_reads(state, result.scopes, now)
            for o in result.scopes:
                o.unreached = self._unreached(o.scope)  # `connect` has reported those
            result.errors += [
                s.error
                for s in result.scopes
                if s.error and not s.unreached and s.error not in result.errors
            ]
            items = {(i.system, i.id): i for i in state.iter_items() if i.state == "present"}
            self.progress("reconcile", 0, len(items))
            records = build_records(
                items.values(),
                self.settings.fields,
                directory,
                self.settings.link,
                known_keys=jira_keys(items.values(), result.scopes),
            )
            result.records = len(records)
            findings = self._evaluate(state, records, directory, now)
            result.findings = [f for fs in findings.values() for f in fs]
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
            state.upsert_records(records, now)
            if not blind:
                state.record_findings(run_id, result.findings, now, records=None)
            changed = {(o.scope, i) for o in result.scopes for i in o.changed}
            targets = self._targets(state, records, findings, items, systems, changed, found)
            cfg = self.runtime.plan
            result.ops = plan(targets, cfg, directory)
            if blind and not opts.dry_run:
                if result.ops or len(blind) < len(result.scopes):
                    # Say what was held back where; a lone system that could not even be
                    # opened has said all there is to say in `connect`'s one line.
                    result.errors.append(BLIND.format(n=len(result.ops), scopes=", ".join(blind)))
                result.ops = []
            log.info(
                "%d handoffs, %d open findings, %d writes planned",
                len(records),
                len(result.findings),
                len(result.ops),
            )
            if opts.dry_run:
                result.plan_text = describe(result.ops, [t.item for t in targets])
            else:
                if self.halt is not None:
                    self.halt.writing = True
                self.progress("write", 0, len(result.ops))
                done = [0]

                def on_progress(op: WriteOp, outcome: str) -> None:
                    done[0] += 1
                    self.progress("write", done[0], len(result.ops))

                result.applied = apply(
                    result.ops,
                    {s: self.connectors[s] for s in systems},
                    state,
                    run_id=run_id,
                    now=self.clock,
                    pacer=self.pacer,
                    on_progress=on_progress,
                    halt=self.halt,
                )
                result.interrupted = result.applied.interrupted
                # Every pulled item is stored and was planned above; now the cursors may move.
                for outcome in result.scopes:
                    if not outcome.error and outcome.newest is not None:
                        connector = self.connectors.get(outcome.scope.partition(":")[0])
                        upto = clamp_cursor(connector, outcome.newest)  # not past the server
                        state.advance_cursor(outcome.scope, Cursor(upto), now=now, run_id=run_id)
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

    def _pull(
        self, state: Store, systems: Sequence[str], opts: SyncOptions, run_id: int, now: datetime
    ) -> list[ScopeOutcome]:
        """Pull every scope of `systems`, one thread per system, storing items as they come."""
        outcomes = {s.key: ScopeOutcome(s.key) for s in self.scopes if s.system in systems}
        cursors = {key: None if opts.full else state.cursor(key) for key in outcomes}
        for key, out in outcomes.items():
            out.full = cursors[key] is None
        q: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=_QUEUE_DEPTH)

        def worker(system: str) -> None:
            connector = self.connectors[system]
            for scope in (s for s in self.scopes if s.system == system):
                try:
                    for item in connector.pull(scope, cursors[scope.key]):
                        q.put((scope.key, item))
                    q.put((scope.key, _DONE))
                except HandoffSyncError as exc:
                    q.put((scope.key, exc))
                except Exception as exc:  # a bug in one scope must not stop the others
                    log.exception("pull of %s failed", scope.key)
                    q.put((scope.key, exc))

        threads = [
            threading.Thread(target=worker, args=(s,), name=f"pull-{s}", daemon=True)
            for s in systems
        ]
        for t in threads:
            t.start()
        pending = set(outcomes)
        batch: list[SourceItem] = []
        total = 0
        while pending:
            key, payload = q.get()
            if isinstance(payload, SourceItem):
                batch.append(payload)
                out = outcomes[key]
                out.pulled += 1
                out.changed.add(payload.id)
                if out.newest is None or payload.updated > out.newest:
                    out.newest = payload.updated
                if len(batch) >= 500:
                    state.upsert_items(batch, run_id, now)
                    total += len(batch)
                    batch = []
                    self.progress("pull", total, 0)
                continue
            pending.discard(key)
            if isinstance(payload, HandoffSyncError):
                outcomes[key].error = payload.message
                outcomes[key].auth = isinstance(payload, AuthError)
                outcomes[key].transient = isinstance(payload, TransientError)
            elif isinstance(payload, Exception):
                outcomes[key].error = scrub(
                    f"{key}: unexpected error ({type(payload).__name__}: {payload}); "
                    "the other scopes went on. Please report this with the log."
                )
        if batch:
            state.upsert_items(batch, run_id, now)
            total += len(batch)
        self.progress("pull", total, total)
        for t in threads:
            t.join(timeout=5)
        for out in outcomes.values():
            if out.error:
                log.warning("pull of %s failed: %s", out.scope, out.error)
            else:
                log.info("pulled %d changed items from %s", out.pulled, out.scope)
        return list(outcomes.values())

    def _evaluate(
        self,
        state: Store,
        records: Sequence[HandoffRecord],
        directory: Directory,
        now: datetime,
    ) -> dict[str, list[Finding]]:
        rules = self.runtime.rules
        opened = state.opened_at()
        return {r.key: evaluate(r, rules, directory, now, opened) for r in records}

    def _targets(
        self,
        state: Store,
        records: Sequence[HandoffRecord],
        findings: Mapping[str, list[Finding]],
        items: Mapping[tuple[str, str], SourceItem],
        systems: Sequence[str],
        changed: Collection[tuple[str, str]] = (),
        found: Mapping[tuple[str, str], CommentRef] | None = None,
    ) -> list[Target]:
        prop = self.runtime.property_name
        entity = self.runtime.entity_property_key
        comments = _stored_comments(state)
        targets = []
        for record in records:
            links = tuple((s.item_key, s.url) for s in record.sources)
            for src in record.sources:
                item = items.get((src.system, src.item_id))
                if item is None or item.system not in systems:
                    continue
                view = ItemView.from_item(item, property_name=prop, entity_property_key=entity)
                if found and (item.system, item.id) in found:  # with any later duplicates
                    view = replace(view, comment=found[(item.system, item.id)])
                stored = comments.get((item.system, item.id))
                if stored is not None and (item.scope, item.id) in changed:
                    shown = self._shown_comment(item, stored)
                    if shown is not None and shown != stored:
                        # A write that landed unheard (or an edit): remember what is there,
                        # or the next run plans from our old notes and sends it all again.
                        state.record_comment(
                            item.system, item.id, shown.id, shown.text, self.clock()
                        )
                    stored = shown
                if stored is not None:
                    view = _with_comment(view, stored)
                targets.append(Target(view, tuple(findings.get(record.key, ())), links))
        return targets

    def _read_wait(self) -> Callable[[str], object] | None:
        pacer = self.pacer
        return None if pacer is None else (lambda system: pacer.wait(system, write=False))

    def _shown_comment(self, item: SourceItem, stored: CommentRef) -> CommentRef | None:
        """Our comment as a changed item shows it now: someone may have edited or deleted it
        since we wrote it, and the plan must start from what people see, not from our notes."""
        connector = self.connectors[item.system]
        system, _, name = item.scope.partition(":")
        if self.pacer:
            self.pacer.wait(item.system, write=False)
        try:
            for marker in markers_for(item.system, item.id, item.uid):
                found = connector.find_comment(Scope(system, name), item.id, marker)
                if found is not None:
                    return found
            return None
        except ConnectorError as exc:
            log.warning("could not read our comment on %s, planning from state: %s", item.key, exc)
            return stored


def _with_comment(view: ItemView, comment: CommentRef) -> ItemView:
    # Our notes know the comment we keep; the pull may know later copies of it to delete.
    pulled = view.comment
    if pulled is not None and pulled.duplicates and not comment.duplicates:
        comment = replace(comment, duplicates=pulled.duplicates)
    return replace(view, comment=comment)


def _stored_comments(state: Store) -> dict[tuple[str, str], CommentRef]:
    """Where we wrote our comment on every item, in one read instead of one per item."""
    return {(c.system, c.item_id): CommentRef(c.comment_id, c.body) for c in state.iter_comments()}
