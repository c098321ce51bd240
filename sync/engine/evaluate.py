"""The reconcile step of a run: the records it must evaluate, a batch at a time.

`sync.engine.incremental` says which items a run takes up (or that it rebuilds everything);
this module decodes only those, reads our comments on them, hands them to the pure
`reconcile`, and stores each record, which record every item belongs to and when each
record is next due. The run's totals (records, open findings) come from the store, so a
run that evaluated ten records still reports all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from connectors.base import Connector, SourceItem, WriteOp
from mapping.due import next_due
from mapping.fields import FieldMaps
from mapping.link import LinkConfig
from mapping.people import Directory
from mapping.rules import SEVERITIES, Finding, severity_rank
from sync.engine.comments import Comments, Discovery, read_comments
from sync.engine.incremental import BASIS, basis, groups, refresh_links, select
from sync.engine.knowledge import ScopeOutcome, jira_keys
from sync.engine.notify import owe
from sync.engine.pacing import Pacer
from sync.engine.reconcile import Reconciled, reconcile
from sync.engine.replies import plan_replies
from sync.engine.said import commands_of, record_answers
from sync.store import Store
from sync.systems.runtime import Runtime
from sync.writeback.plan import ItemView
from sync.writeback.rollout import allowed

__all__ = ["Evaluated", "evaluate_run", "settle"]

Pair = tuple[str, str]  # (system, item id)


@dataclass
class Evaluated:
    """What the reconcile step made of the run."""

    basis: str  # what the records now stored were built on (see `incremental.basis`)
    full: bool  # every record was evaluated
    maps: FieldMaps  # the field maps the stored extracts were computed with
    records: int = 0  # every record the stored items make now
    findings: list[Finding] = field(default_factory=list)  # the evaluated records' findings
    ops: list[WriteOp] = field(default_factory=list)
    views: list[ItemView] = field(default_factory=list)  # the items the ops write to
    evaluated: set[str] = field(default_factory=set)  # record keys decided by this run
    loaded: int = 0  # items decoded for reconcile
    recorded: bool = False  # a rebuild's findings went to the state batch by batch
    # How urgent each planned item is: its most severe finding's rank (0: a blocker), so a
    # first sync's backlog goes out blockers first.
    ranks: dict[tuple[str, str], int] = field(default_factory=dict)
    # The items this run took up (their taken-up marks as its plan read them), to settle.
    taken: set[tuple[str, str]] = field(default_factory=set)


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
    opened_of: Collection[str] | None  # the records `opened` covers (None: every record)
    pacer: Pacer | None
    clock: Callable[[], datetime]
    conventions: Collection[tuple[str, str]] = ()  # scopes naming Jira keys (`key_scopes`)


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
    record: Callable[[list[Finding], set[str]], None] | None = None,
) -> Evaluated:
    """Evaluate and plan the records this run must: those its changes touch (or all).
    `record`: where a rebuild records each batch's findings (for these records), so that it
    holds one batch of them at a time; None keeps them all in `Evaluated.findings`."""
    outcomes = list(outcomes)
    cfg = runtime.settings.link
    pulled = {(o.scope.partition(":")[0], i) for o in outcomes for i in o.changed}
    # A rebuild too trusts each stored link row whose item row did not change since.
    links = refresh_links(state, cfg, runtime.settings.fields, force=False, pulled=pulled)
    known = jira_keys(state, outcomes)
    conventions = frozenset(state.key_scopes())
    digest = basis(runtime, directory, links.projects, known is not None, systems, conventions)
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
        {},
        None,
        pacer,
        clock,
        conventions,
    )
    out = Evaluated(digest, full, runtime.settings.fields)
    if full:
        out.taken = state.dirty_items()  # a rebuild plans every item: each mark is covered
        return _rebuild(inputs, out, record)
    chosen = select(state, pulled | links.changed, links.jira_keys, now)
    out.taken = chosen.items
    # When the open findings of the records taken up were first seen; the others' findings
    # stand as stored and are neither read nor reported here (the state counts them).
    inputs = replace(inputs, opened=state.opened_at_of(chosen.records), opened_of=chosen.records)
    present = [i for i in state.items_of(chosen.items) if i.state == "present"]
    _batch(inputs, present, out, chosen.items)
    vanished = chosen.records - out.evaluated
    state.set_record_keys({}, {key: None for key in vanished})
    out.evaluated |= chosen.records
    out.records = state.record_count()
    return out


def _rebuild(
    inputs: Inputs, out: Evaluated, record: Callable[[list[Finding], set[str]], None] | None
) -> Evaluated:
    """Every record, one batch of whole groups at a time; each batch's findings recorded
    (when `record`) and dropped before the next."""
    state = inputs.state
    inputs = replace(inputs, opened=state.opened_at())
    state.forget_reconciled()
    for batch in groups(state):
        keys = _batch(inputs, state.items_by_n(batch), out, set())
        if record is not None:
            record(out.findings, keys)
            out.findings = []
    if record is not None:  # the records that are no more: their findings close
        record([], state.open_finding_records() - out.evaluated)
        out.recorded = True
    return out


def _batch(
    inputs: Inputs, items: list[SourceItem], out: Evaluated, taken: set[tuple[str, str]]
) -> set[str]:
    """Reconcile whole linked groups; store their records, membership and due times.
    Returns the keys of the records made."""
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
    done = _reconcile(inputs, items, comments)
    state.note_rendered(done.current)
    # A reaction answers a command where the scope's rollout mode allows comments only.
    answers = record_answers(state, done.outcomes, items, inputs.now)
    reactions = allowed(answers, runtime.plan.rollout)
    # A new reply per escalation step that reached someone (issue 17), after the item's writes.
    replies, waits = plan_replies(
        state, done.targets, done.records, runtime, inputs.directory, inputs.now
    )
    reactions += replies
    state.upsert_records(done.records, inputs.now)
    members: dict[tuple[str, str], str | None] = dict.fromkeys(taken)
    dues: dict[str, datetime | None] = {}
    for record in done.records:
        members.update({(s.system, s.item_id): record.key for s in record.sources})
        found = done.findings.get(record.key, [])
        due = next_due(record, found, runtime.rules, inputs.directory, inputs.now, inputs.opened)
        wait = waits.get(record.key)  # a step reply waits for its person's working hours
        dues[record.key] = min(due, wait) if due and wait else due or wait
    state.set_record_keys(members, dues)
    # The record is at hand only here: keep what each reached ladder step owes to whom.
    pairs = [(r, done.findings.get(r.key, [])) for r in done.records]
    owe(state, runtime.settings, inputs.directory, pairs, inputs.opened, inputs.now)
    out.records += len(done.records)
    out.evaluated |= set(dues)
    out.findings += [f for fs in done.findings.values() for f in fs]
    out.ops += done.ops + reactions
    written = {(op.system, op.item_id) for op in done.ops + reactions}
    out.views += [t.item for t in done.targets if (t.item.system, t.item.item_id) in written]
    for t in done.targets:
        if (t.item.system, t.item.item_id) in written:
            rank = min((severity_rank(f.severity) for f in t.findings), default=len(SEVERITIES))
            out.ranks[(t.item.system, t.item.item_id)] = rank
    return set(dues)


def _reconcile(inputs: Inputs, items: list[SourceItem], comments: Comments) -> Reconciled:
    """The pure reconcile of one batch. A record may come out under a key none of the records
    taken up had (items regrouped): when the state holds open findings under such a key, their
    first sight counts for escalation, so the batch is reconciled again knowing it."""

    keys = [(i.system, i.id) for i in items]
    extracts, rendered = inputs.state.extracts_of(keys), inputs.state.rendered_of(keys)
    commands = commands_of(inputs.state, items)

    def run(opened: Mapping[str, datetime]) -> Reconciled:
        return reconcile(
            items,
            inputs.runtime,
            inputs.directory,
            now=inputs.now,
            opened=opened,
            comments=comments,
            systems=inputs.systems,
            known_keys=inputs.known_keys,
            found=inputs.found.found,
            projects=inputs.projects,
            extracts=extracts,
            rendered=rendered,
            commands=commands,
            conventions=inputs.conventions,
        )

    done = run(inputs.opened)
    if inputs.opened_of is None:
        return done
    more = inputs.state.opened_at_of({r.key for r in done.records} - set(inputs.opened_of))
    return run({**inputs.opened, **more}) if more else done


def settle(
    state: Store,
    done: Evaluated,
    link_cfg: LinkConfig,
    run_id: int | None = None,
    held: Collection[Pair] = (),
) -> None:
    """Everything taken up reached the outbox: nothing is left to carry over, and the
    records stored now were built on `done.basis`. Our writes since moved some stored
    rows (a comment recorded, an item found deleted): restamp them, and only an item that
    left its group is taken up again next run. `run_id` on a shared state: only the marks
    this run took up are cleared (`claimed.enqueue` made them its own), not those of the
    `held` items (a write still pending after its wait); another worker's marks made since
    are that worker's to settle."""
    if run_id is None:
        state.clear_dirty()
    else:
        state.clear_taken(run_id, held)
    refresh_links(state, link_cfg, done.maps, force=False, moved_only=True)
    state.remember_fact(BASIS, done.basis)
