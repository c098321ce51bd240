"""The writes that bring each item to what its findings say it should show, and nothing more.

Pure: no I/O, no clock. `plan` compares what an item shows now (`ItemView`) with what we would
write, exactly as we would write it, so that planning again after applying a plan gives `[]`:

    findings ─┐
              ├─▶ desired comment / labels / property ─▶ compare ─▶ WriteOps
    ItemView ─┘          (sync.writeback.render)

A comment is created only when there is something to say, edited in place when it differs, and
turned into the all-clear (never deleted) when its findings are gone. Only managed labels are
ever added or removed. `describe` (sync.writeback.describe) prints a plan as the dry-run diff.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from connectors.base import CommentRef, SourceItem, WriteOp
from connectors.errors import PlanError
from mapping.rules import Finding
from sync import systems
from sync.systems import Annotation
from sync.writeback.annotations import (
    DEFAULT_LABELS,
    DEFAULT_PROPERTY_NAMES,
    PropType,
    entity_property_for,
    labels_for,
    property_value_for,
)
from sync.writeback.describe import describe
from sync.writeback.render import (
    Format,
    People,
    RenderArgs,
    is_current,
    marker_for,
    order_findings,
    render_comment,
    render_key,
)
from sync.writeback.rollout import Rollout
from sync.writeback.shown import dumps, entity_key, property_key

__all__ = ["Current", "ItemView", "PlanConfig", "Target", "describe", "plan", "plan_items"]

# Comments found current: (system, item id) -> (the comment's body as noted, its render key).
Current = dict[tuple[str, str], tuple[str, str]]

_ACTION_ORDER = {
    "comment.create": 0,
    "comment.update": 0,
    "comment.delete": 0,
    "label.add": 1,
    "label.remove": 2,
    "property.set": 3,
    "entity_property.set": 4,
    "reaction.create": 5,
}


def _supports(system: str, annotation: Annotation) -> bool:
    """Whether `system` can show `annotation` (labels, a page or entity property, or the
    deletion of a duplicate comment: where it cannot, the oldest copy is the one we keep
    writing to, see `_duplicates`)."""
    spec = systems.get(system)
    return spec is not None and spec.supports(annotation)


@dataclass(frozen=True)
class ItemView:
    """What one item shows now, as far as our writes are concerned.

    `comment` is our marker comment: the exact body we last wrote (from state) or the plain
    text a connector found; either works. `property_value` (Notion) and `entity_property` (Jira)
    are JSON text as read, or None when unset.
    """

    system: str
    scope: str
    item_id: str
    item_key: str
    kind: str = ""
    url: str = ""
    labels: tuple[str, ...] = ()
    comment: CommentRef | None = None
    property_value: str | None = None
    entity_property: str | None = None
    uid: str = ""  # survives renames and moves; the marker names the item by it
    activity: datetime | None = None  # the last human activity; our marker carries it
    # The render key (`render_key`) our `comment` is known to be current for: when the
    # findings give the same key, the comment stands without being rendered again.
    rendered: str = ""

    @classmethod
    def from_item(
        cls, item: SourceItem, *, property_name: str = "", entity_property_key: str = ""
    ) -> ItemView:
        """The view of a pulled item; the Notion property and the Jira entity property (which
        the Jira connector puts under `fields["_properties"]`) are read from its `fields`."""
        prop = item.fields.get(property_name) if property_name else None
        entity = None
        stored = item.fields.get("_properties") if entity_property_key else None
        if isinstance(stored, Mapping) and entity_property_key in stored:
            entity = json.dumps(stored[entity_property_key], sort_keys=True)
        return cls(
            system=item.system,
            scope=item.scope,
            item_id=item.id,
            item_key=item.key,
            kind=item.kind,
            url=item.url,
            labels=tuple(item.labels),
            comment=item.comment,
            property_value=None if prop is None else json.dumps(prop, sort_keys=True),
            entity_property=entity,
            uid=item.uid,
            activity=item.activity or item.updated,
        )


@dataclass(frozen=True)
class Target:
    """One item and the findings of the record it belongs to; `links` are the record's items."""

    item: ItemView
    findings: tuple[Finding, ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (item key, url) of every item in the record
    answers: tuple[str, ...] = ()  # one line per command written on this item (oldest first)


@dataclass(frozen=True)
class PlanConfig:
    """How we write back; the engine fills it from settings."""

    jira_format: Literal["wiki", "adf"] = "wiki"  # "adf" when talking to Jira REST v3
    label_names: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_LABELS))
    # Labels we own and may remove; None means every label in `label_names`.
    managed_labels: frozenset[str] | None = None
    notion_property: str = "Handoff check"  # "" turns the property off
    notion_property_type: PropType = "select"
    notion_property_names: Mapping[str, str] = field(
        default_factory=lambda: dict(DEFAULT_PROPERTY_NAMES)
    )
    jira_entity_property: bool = False
    jira_entity_property_key: str = "handoff-sync.findings"
    # By default an item with no findings and no comment of ours gets nothing at all.
    all_clear_on_clean_items: bool = False
    rollout: Rollout = field(default_factory=Rollout)  # [writeback] mode and severities

    def fmt(self, system: str) -> Format:
        """The comment format for a system."""
        spec = systems.get(system)
        if spec is not None:
            return spec.comment_format(self)
        known = systems.names()
        raise PlanError(
            f"cannot plan writes for system {system!r}: expected "
            f"{', '.join(known[:-1])} or {known[-1]}",
            internal=f"PlanConfig.fmt({system!r})",
        )

    def managed(self) -> frozenset[str]:
        """Every label this service may add or remove."""
        if self.managed_labels is not None:
            return self.managed_labels
        return frozenset(v for v in self.label_names.values() if v)


def plan(targets: Iterable[Target], cfg: PlanConfig, people: People | None) -> list[WriteOp]:
    """Every write needed, in a stable order: by item, then comment, labels, properties."""
    return plan_items(targets, cfg, people)[0]


def plan_items(
    targets: Iterable[Target], cfg: PlanConfig, people: People | None
) -> tuple[list[WriteOp], Current]:
    """`plan`, and the comments it rendered and found current with their render keys (for
    the caller to keep, so the next plan with the same key renders nothing)."""
    ops: list[WriteOp] = []
    current: Current = {}
    for target in _merge(targets):
        ops += _plan_item(target, cfg, people, current)
    return ops, current


def _merge(targets: Iterable[Target]) -> list[Target]:
    """One target per item, sorted; an item listed twice gets the union of its findings."""
    merged: dict[tuple[str, str], Target] = {}
    for t in targets:
        key = (t.item.system, t.item.item_id)
        seen = merged.get(key)
        if seen is None:
            merged[key] = t
        else:
            findings = tuple(order_findings((*seen.findings, *t.findings)))
            links = tuple(dict.fromkeys((*seen.links, *t.links)))
            merged[key] = replace(seen, findings=findings, links=links)
    return [merged[k] for k in sorted(merged)]


def _plan_item(
    target: Target, cfg: PlanConfig, people: People | None, current: Current
) -> list[WriteOp]:
    view, findings = target.item, target.findings
    # "Engaged": the item has something to say or already carries our comment. An item that is
    # not engaged gets no comment and no property, only stale managed labels taken off.
    # Someone who wrote us a command is answered there, findings or not.
    engaged = bool(findings or target.answers) or view.comment is not None
    engaged = engaged or cfg.all_clear_on_clean_items
    base = {
        "system": view.system,
        "scope": view.scope,
        "item_id": view.item_id,
        "item_key": view.item_key,
    }
    ops = _comment_ops(target, cfg, people, base, current) if engaged else []
    ops += _duplicates(view, base)
    ops += _label_ops(target, cfg, base)
    ops += _property_ops(target, cfg, base, engaged=engaged)
    return sorted(ops, key=lambda op: (_ACTION_ORDER[op.action], op.name))


def _comment_ops(
    target: Target,
    cfg: PlanConfig,
    people: People | None,
    base: dict[str, str],
    current: Current,
) -> list[WriteOp]:
    """Post our comment, or update it when its text no longer says what the findings say."""
    view, findings = target.item, target.findings
    fmt = cfg.fmt(view.system)
    args: RenderArgs = {
        "fmt": fmt,
        "item_id": view.item_id,
        "item_key": view.item_key,
        "links": target.links,
        "uid": view.uid,
        "activity": view.activity,
    }
    answers = target.answers
    key = render_key(view.system, findings, people, **args, answers=answers)
    if view.comment is not None and view.rendered == key:
        return []  # current for these very inputs when last rendered: nothing to render
    body = render_comment(view.system, findings, people, **args, answers=answers)
    marker = marker_for(view.system, view.uid or view.item_id)
    if view.comment is None:
        return [WriteOp(**base, action="comment.create", body=body, marker=marker)]
    if is_current(view.comment.text, body) or _current_by_id(
        view, view.comment.text, findings, people, fmt, target.links
    ):
        current[(view.system, view.item_id)] = (view.comment.text, key)
        return []
    return [
        WriteOp(**base, action="comment.update", body=body, target=view.comment.id, marker=marker)
    ]


def _label_ops(target: Target, cfg: PlanConfig, base: dict[str, str]) -> list[WriteOp]:
    """Add the labels the findings want; take off managed labels they no longer want."""
    view = target.item
    if not _supports(view.system, "labels"):
        return []
    want = labels_for(target.findings, cfg.label_names)
    have = set(view.labels)
    managed = cfg.managed() | want
    ops = [WriteOp(**base, action="label.add", name=n) for n in sorted(want - have)]
    gone = (have & managed) - want
    return ops + [WriteOp(**base, action="label.remove", name=n) for n in sorted(gone)]


def _property_ops(
    target: Target, cfg: PlanConfig, base: dict[str, str], *, engaged: bool
) -> list[WriteOp]:
    """Notion's page property and Jira's entity property, when they differ from the findings."""
    view, findings = target.item, target.findings
    ops: list[WriteOp] = []
    if _supports(view.system, "page_property") and cfg.notion_property:
        ptype = cfg.notion_property_type
        desired = property_value_for(findings, ptype, cfg.notion_property_names)
        current = property_key(view.property_value, ptype)
        if (engaged or current) and current != property_key(dumps(desired), ptype):
            ops.append(
                WriteOp(
                    **base, action="property.set", name=cfg.notion_property, value=dumps(desired)
                )
            )
    if _supports(view.system, "entity_property") and cfg.jira_entity_property:
        wanted = entity_property_for(findings)
        current = entity_key(view.entity_property)
        if (engaged or current) and current != wanted:
            ops.append(
                WriteOp(
                    **base,
                    action="entity_property.set",
                    name=cfg.jira_entity_property_key,
                    value=wanted,
                )
            )
    return ops


def _current_by_id(
    view: ItemView,
    shown: str,
    findings: Sequence[Finding],
    people: People | None,
    fmt: Format,
    links: Sequence[tuple[str, str]],
) -> bool:
    """A comment written before markers named the item by its uid, whose text is what we
    would write: current. The grown marker alone is no reason to rewrite every comment."""
    if not view.uid or view.uid == view.item_id:
        return False
    body = render_comment(view.system, findings, people, fmt=fmt, item_id=view.item_id,
                          item_key=view.item_key, links=links)  # fmt: skip
    return is_current(shown, body)


def _duplicates(view: ItemView, base: Mapping[str, str]) -> list[WriteOp]:
    """Later copies of our comment (two runs raced): the oldest stays, these go."""
    if view.comment is None or not _supports(view.system, "comment_delete"):
        return []
    return [
        WriteOp(**base, action="comment.delete", target=dup)
        for dup in view.comment.duplicates
        if dup and dup != view.comment.id
    ]
