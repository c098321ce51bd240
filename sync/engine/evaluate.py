"""The reconcile step of a run: the records it must evaluate, a batch at a time.

`sync.engine.incremental` says which items a run takes up (or that it rebuilds everything);
this module decodes only those, reads our comments on them, hands them to the pure
`reconcile`, and stores each record, which record every item belongs to and when each
record is next due. The run's totals (records, open findings) come from the store, so a
run that evaluated ten records still reports all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from connectors.base import Connector, SourceItem, WriteOp
from mapping.due import next_due
from mapping.fields import FieldMaps
from mapping.link import LinkConfig
from mapping.people import Directory
from mapping.rules import Finding
from sync.engine.comments import Discovery, read_comments
from sync.engine.incremental import BASIS, basis, groups, refresh_links, select
from sync.engine.knowledge import ScopeOutcome, jira_keys
from sync.engine.pacing import Pacer
from sync.engine.reconcile import Reconciled, reconcile
from sync.store import Store
from sync.systems.runtime import Runtime
from sync.writeback.plan import ItemView

__all__ = ["Evaluated", "evaluate_run", "settle"]


@dataclass
class Evaluated:
    """What the reconcile step made of the run."""

    basis: str  # what the records now stored were built on (see `incremental.basis`)
    full: bool  # every record was evaluated
    maps: FieldMaps  # the field maps the stored extracts were computed with
    records: int = 0  # every record the stored items make now
    findings: list[Finding] = field(default_factory=list)  # every open finding now
    ops: list[WriteOp] = field(default_factory=list)
    views: list[ItemView] = field(default_factory=list)  # the items the ops write to
    evaluated: set[str] = field(default_factory=set)  # record keys decided by this run
    loaded: int = 0  # items decoded for reconcile


@dataclass(frozen=True)
class Inputs:
    """What every batch shares."""

    state: Store
    runtime: Runtime
    directory: Directory
    connectors: Mapping[str, Connector]
    systems: Collection[str]
    now: datetime
    changed: set[tuple[str, str]]  # (scope, id) of the items the pulls changed
    found: Discovery  # our comments as the pulls found them (sync.engine.comments)
    known_keys: set[str] | None
    projects: set[str]
    opened: Mapping[str, datetime]
    pacer: Pacer | None
    clock: Callable[[], datetime]


def evaluate_run(
    state: Store,
    runtime: Runtime,
    directory: Directory,
    connectors: Mapping[str, Connector],
    outcomes: Iterable[ScopeOutcome],
    *,
    systems: Collection[str],
    now: datetime,
    full: bool,
    found: Discovery,
    pacer: Pacer | None,
    clock: Callable[[], datetime],
) -> Evaluated:
    """Evaluate and plan the records this run must: those its changes touch (or all)."""
    outcomes = list(outcomes)
    cfg = runtime.settings.link
    pulled = {(o.scope.partition(":")[0], i) for o in outcomes for i in o.changed}
    # A rebuild too trusts each stored link row whose item row did not change since.
    links = refresh_links(state, cfg, runtime.settings.fields, force=False, pulled=pulled)
    known = jira_keys(state, outcomes)
    digest = basis(runtime, directory, links.projects, known is not None, systems)
    full = full or state.fact(BASIS) != digest
    inputs = Inputs(
        state,
        runtime,
        directory,
        {s: connectors[s] for s in systems},
        systems,
        now,
        {(o.scope, i) for o in outcomes for i in o.changed},
        found,
        known,
        links.projects,
        state.opened_at(),
        pacer,
        clock,
    )
    out = Evaluated(digest, full, runtime.settings.fields)
    if full:
        state.forget_reconciled()
        for batch in groups(state):
            _batch(inputs, state.items_by_n(batch), out, set())
        return out
    chosen = select(state, pulled | links.changed, links.jira_keys, now)
    present = [i for i in state.items_of(chosen.items) if i.state == "present"]
    _batch(inputs, present, out, chosen.items)
    vanished = chosen.records - out.evaluated
    state.set_record_keys({}, {key: None for key in vanished})
    out.evaluated |= chosen.records
    out.findings += [Finding(**f) for f in state.open_findings_outside(out.evaluated)]
    out.records = state.record_count()
    return out


def _batch(
    inputs: Inputs, items: list[SourceItem], out: Evaluated, taken: set[tuple[str, str]]
) -> None:
    """Reconcile whole linked groups; store their records, membership and due times."""
    state, runtime = inputs.state, inputs.runtime
    out.loaded += len(items)
    comments = read_comments(
        state,
        inputs.connectors,
        items,
        runtime.settings.link,
        inputs.found,
        inputs.changed,
        pacer=inputs.pacer,
        clock=inputs.clock,
    )
    done: Reconciled = reconcile(
        items,
        runtime,
        inputs.directory,
        now=inputs.now,
        opened=inputs.opened,
        comments=comments,
        systems=inputs.systems,
        known_keys=inputs.known_keys,
        found=inputs.found.found,
        projects=inputs.projects,
        extracts=state.extracts_of([(i.system, i.id) for i in items]),
        rendered=state.rendered_of([(i.system, i.id) for i in items]),
    )
    state.note_rendered(done.current)
    state.upsert_records(done.records, inputs.now)
    members: dict[tuple[str, str], str | None] = dict.fromkeys(taken)
    dues: dict[str, datetime | None] = {}
    for record in done.records:
        members.update({(s.system, s.item_id): record.key for s in record.sources})
        found = done.findings.get(record.key, [])
        dues[record.key] = next_due(
            record, found, runtime.rules, inputs.directory, inputs.now, inputs.opened
        )
    state.set_record_keys(members, dues)
    out.records += len(done.records)
    out.evaluated |= set(dues)
    out.findings += [f for fs in done.findings.values() for f in fs]
    out.ops += done.ops
    written = {(op.system, op.item_id) for op in done.ops}
    out.views += [t.item for t in done.targets if (t.item.system, t.item.item_id) in written]


def settle(state: Store, done: Evaluated, link_cfg: LinkConfig) -> None:
    """Everything taken up reached the outbox: nothing is left to carry over, and the
    records stored now were built on `done.basis`. Our writes since moved some stored
    rows (a comment recorded, an item found deleted): restamp them, and only an item that
    left its group is taken up again next run."""
    state.clear_dirty()
    refresh_links(state, link_cfg, done.maps, force=False, moved_only=True)
    state.remember_fact(BASIS, done.basis)
