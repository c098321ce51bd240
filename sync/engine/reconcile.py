"""The pure middle of a run: stored items to records, findings, write targets and the plan.

No store writes, no network and no clock: everything it needs is passed in (`now` too), so
the same inputs always give the same plan, and a dry run plans exactly what a run applies.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from connectors.base import CommentRef, SourceItem, WriteOp
from mapping.commands import Command
from mapping.commands_apply import Outcome, apply_commands
from mapping.link import build_records
from mapping.people import Directory
from mapping.record import HandoffRecord
from mapping.rules import SEVERITIES, Finding, evaluate, severity_rank
from sync.systems.runtime import Runtime
from sync.writeback.plan import Current, ItemView, Target, plan_items
from sync.writeback.rollout import allowed, written

__all__ = ["Reconciled", "reconcile"]


@dataclass(frozen=True)
class Reconciled:
    """What reconcile makes of the stored items."""

    records: list[HandoffRecord]
    findings: dict[str, list[Finding]]  # by record key
    targets: list[Target]
    ops: list[WriteOp]
    current: Current  # comments found current by rendering, with their render keys
    outcomes: list[Outcome] = field(default_factory=list)  # what became of people's commands


def reconcile(
    items: Iterable[SourceItem],
    runtime: Runtime,
    directory: Directory,
    *,
    now: datetime,
    opened: Mapping[str, datetime],
    comments: Mapping[tuple[str, str], CommentRef],
    systems: Collection[str],
    known_keys: Collection[str] | None = None,
    found: Mapping[tuple[str, str], CommentRef] | None = None,
    projects: Collection[str] | None = None,
    extracts: Mapping[tuple[str, str], str] | None = None,
    rendered: Current | None = None,
    commands: Mapping[tuple[str, str], Sequence[Command]] | None = None,
    conventions: Collection[tuple[str, str]] | None = None,
) -> Reconciled:
    """Records, findings and the writes they need in `systems`.

    `opened`: when each finding was first seen; `comments`: our comment on each item as it
    shows now (`sync.engine.comments`); `found`: our comments recognised on items pulled for
    the first time (`sync.engine.own_writes`); `projects`: the Jira projects keys may name,
    when `items` are whole linked groups of a larger workspace (see `mapping.link`);
    `extracts`: items' values and link tokens as stored when they changed (`mapping.stored`);
    `rendered`: the render key each noted comment body was last found current for;
    `commands`: people's `/handoff` commands on each item (system, id), applied to its record;
    `conventions`: (system, scope) of the scopes that name Jira keys (None: every scope does),
    where `unlinked` is written back by default. Findings a rollout mode only reports are
    left out of the targets, and writes the scope's mode does not allow out of the plan.
    """
    by_key = {(i.system, i.id): i for i in items}
    settings = runtime.settings
    records = build_records(
        by_key.values(),
        settings.fields,
        directory,
        settings.link,
        known_keys=known_keys,
        projects=projects,
        extracts=extracts,
    )
    findings = {r.key: evaluate(r, runtime.rules, directory, now, opened) for r in records}
    outcomes: list[Outcome] = []
    if commands:
        records, outcomes = _commanded(records, findings, commands, runtime, directory, now, opened)
    targets = _targets(runtime, records, findings, by_key, systems, comments, found)
    targets = [_rolled_out(t, runtime, conventions) for t in targets]
    if outcomes:
        targets = [_with_answers(t, outcomes) for t in targets]
    if rendered:
        targets = [_with_rendered(t, rendered) for t in targets]
    ops, current = plan_items(targets, runtime.plan, directory)
    ops = _blockers_first(allowed(ops, runtime.plan.rollout), targets)
    return Reconciled(records, findings, targets, ops, current, outcomes)


def _commanded(
    records: list[HandoffRecord],
    findings: dict[str, list[Finding]],
    commands: Mapping[tuple[str, str], Sequence[Command]],
    runtime: Runtime,
    directory: Directory,
    now: datetime,
    opened: Mapping[str, datetime],
) -> tuple[list[HandoffRecord], list[Outcome]]:
    """Records with the commands written on their items in effect (`findings` updated)."""
    result, outcomes = [], []
    for record in records:
        written = [c for s in record.sources for c in commands.get((s.system, s.item_id), ())]
        if not written:
            result.append(record)
            continue
        applied = apply_commands(record, written, runtime.rules, directory, now, opened)
        findings[record.key] = applied.findings
        result.append(applied.record)
        outcomes.extend(applied.outcomes)
    return result, outcomes


def _with_answers(target: Target, outcomes: Sequence[Outcome]) -> Target:
    view = target.item
    answers = tuple(
        o.line
        for o in outcomes
        if (o.command.source.system, o.command.source.item_id) == (view.system, view.item_id)
    )
    return replace(target, answers=answers) if answers else target


def _targets(
    runtime: Runtime,
    records: Sequence[HandoffRecord],
    findings: Mapping[str, list[Finding]],
    items: Mapping[tuple[str, str], SourceItem],
    systems: Collection[str],
    comments: Mapping[tuple[str, str], CommentRef],
    found: Mapping[tuple[str, str], CommentRef] | None,
) -> list[Target]:
    prop = runtime.property_name
    entity = runtime.entity_property_key
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
            if stored is not None:
                view = _with_comment(view, stored)
            targets.append(Target(view, tuple(findings.get(record.key, ())), links))
    return targets


def _blockers_first(ops: list[WriteOp], targets: Sequence[Target]) -> list[WriteOp]:
    """Items with blockers first (a stable sort: each item's writes keep their order)."""
    rank: dict[tuple[str, str], int] = {}
    for t in targets:  # an item in two records counts its most severe finding
        key = (t.item.system, t.item.item_id)
        worst = min((severity_rank(f.severity) for f in t.findings), default=len(SEVERITIES))
        rank[key] = min(worst, rank.get(key, worst))
    return sorted(ops, key=lambda op: rank.get((op.system, op.item_id), len(SEVERITIES)))


def _rolled_out(
    target: Target, runtime: Runtime, conventions: Collection[tuple[str, str]] | None
) -> Target:
    view = target.item
    convention = conventions is None or (view.system, view.scope) in conventions
    kept = written(target.findings, view.scope, runtime.plan.rollout, convention=convention)
    return target if kept == target.findings else replace(target, findings=kept)


def _with_rendered(target: Target, rendered: Current) -> Target:
    # The key holds for the body it was found current with, not for a later one.
    view = target.item
    note = rendered.get((view.system, view.item_id))
    if note is None or view.comment is None or view.comment.text != note[0]:
        return target
    return replace(target, item=replace(view, rendered=note[1]))


def _with_comment(view: ItemView, comment: CommentRef) -> ItemView:
    # Our notes know the comment we keep; the pull may know later copies of it to delete.
    pulled = view.comment
    if pulled is not None and pulled.duplicates and not comment.duplicates:
        comment = replace(comment, duplicates=pulled.duplicates)
    return replace(view, comment=comment)
