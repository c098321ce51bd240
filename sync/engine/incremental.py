"""Reconcile what changed, not the workspace: pick the records a run must evaluate.

A run refreshes the stored link nodes of the items whose stored row moved since they were
last linked (a pull, a deletion), then takes up: those items and the changed items of its
pulls, the items of their previous records, the whole linked groups of all of these in the
new link graph (closure over the stored links), the records whose next time-based
transition is due, and whatever an earlier run took up but did not carry through to the
outbox (a crash, a blind run) or planned without getting it done. Only those items are
decoded, linked, evaluated and planned; every other record's findings stand as stored.

A rebuild (`--full`, the first run, or a change of anything every record depends on: the
config, the people directory, the Jira projects that keys may name, whether every Jira
key is known) streams from the store in two passes: a union-find over (item id, node)
rows, then one batch of whole groups at a time, so items and records are never all in
memory together.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from connectors.base import SourceItem, content_digest
from mapping.fields import FieldMaps
from mapping.link import LinkConfig, item_extract, jira_project
from mapping.people import Directory
from sync.store import Store
from sync.systems.jira import NAME as JIRA
from sync.systems.runtime import Runtime

__all__ = ["BASIS", "Refreshed", "Selection", "basis", "groups", "refresh_links", "select"]

Pair = tuple[str, str]
BASIS = "reconcile_basis"  # the meta fact holding what the stored records were built on
_LINKS = "link_basis"  # the meta fact holding what the stored link nodes were computed with
_BATCH = 500  # items decoded at a time while links are refreshed
GROUP_BATCH = 5000  # items per batch of whole groups in a rebuild


def _canon(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(repr(v) for v in value)
    if isinstance(value, dict):
        return {str(k): _canon(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    return repr(value)


def _digest(value: Any) -> str:
    text = json.dumps(_canon(value), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def basis(
    runtime: Runtime,
    directory: Directory,
    projects: Collection[str],
    known_keys: bool,
    systems: Collection[str],
    conventions: Collection[tuple[str, str]] = (),
) -> str:
    """A digest of everything every record's findings and plan depend on besides its own
    items and the clock: when it changes, every record is rebuilt. `conventions`: the scopes
    that name Jira keys (a scope that starts naming keys changes where `unlinked` is written)."""
    settings = runtime.settings
    return _digest(
        {
            "fields": settings.fields,
            "link": settings.link,
            "rules": runtime.rules,
            "plan": runtime.plan,
            "props": (runtime.property_name, runtime.entity_property_key),
            "people": vars(directory),
            "projects": set(projects),
            "known_keys": known_keys,
            "systems": set(systems),
            "conventions": set(conventions),
        }
    )


def content(item: SourceItem) -> str:
    """A digest of what the rules and the plan read of an item: everything but its edit
    time and activity, so re-reading an unchanged item (or our own write's echo, which
    moves the edit time) makes no work. A person's activity without a content change
    reaches the run as a pulled change instead (`ScopeOutcome.changed`, which counts an
    edit time past our writes' quiet window)."""
    comment = item.comment
    return _digest(
        {
            # The pull's own test of change (fields without edit times, our comment count
            # or last editor; labels as a set), so the two never disagree about an echo.
            "content": content_digest(item),
            "scope": item.scope,
            "comment": None if comment is None else (comment.id, comment.text, comment.duplicates),
        }
    )


def _link_row(
    item: SourceItem, cfg: LinkConfig, projects: Collection[str], maps: FieldMaps
) -> tuple[str, str, bool, str, tuple[str, ...] | None, str, str | None]:
    nodes, extract = item_extract(item, cfg, projects, maps)
    project = jira_project(item) if item.system == JIRA else ""
    return item.system, item.id, nodes is not None, project, nodes, content(item), extract


def _save(
    state: Store,
    items: list[SourceItem],
    cfg: tuple[LinkConfig, FieldMaps],
    projects: set[str],
    keys: set[str],
    moved_only: bool = False,
) -> set[Pair]:
    """Store the items' link rows; note the Jira keys among the items that changed."""
    rows = (_link_row(i, cfg[0], projects, cfg[1]) for i in items)
    changed = state.save_links(rows, moved_only=moved_only)
    keys |= {i.key for i in items if i.system == JIRA and (i.system, i.id) in changed}
    return changed


def _stream(state: Store, pairs: list[Pair]) -> Iterator[list[SourceItem]]:
    for start in range(0, len(pairs), _BATCH):
        yield state.items_of(pairs[start : start + _BATCH])


@dataclass
class Refreshed:
    changed: set[Pair]  # items to plan again (their stored row moved)
    jira_keys: set[str]  # the keys of the Jira items among them
    projects: set[str]  # the Jira projects keys may name now


def refresh_links(
    state: Store,
    cfg: LinkConfig,
    maps: FieldMaps,
    *,
    force: bool,
    moved_only: bool = False,
    pulled: Collection[Pair] = (),
) -> Refreshed:
    """Bring every item's stored link nodes and extract up to date (`maps`: how the extract
    reads fields; a change of it or of `cfg` recomputes them all). `force`: recompute all;
    `moved_only`: only items whose nodes moved count as changed (after our own writes);
    `pulled`: items a pull found changed, recomputed even when their row's time did not
    move (two runs within one clock tick)."""
    link_digest = _digest({"link": cfg, "fields": maps})
    stored = json.loads(state.fact(_LINKS) or "{}")
    force = force or stored.get("link") != link_digest
    projects = {p.upper() for p in cfg.projects}
    # A first guess at the projects (the stored answer, or every Jira key's prefix) is
    # right unless a whole project is ignored: then the nodes are computed once more.
    present = {k.rsplit("-", 1)[0] for k in state.present_keys(JIRA)}
    guess = set(stored.get("projects", [])) if not force else projects | present
    if force:
        stale = [(i.system, i.id) for i in state.iter_items()]
    else:
        stale = list(dict.fromkeys([*state.stale_links(), *pulled]))
    changed: set[Pair] = set()
    keys: set[str] = set()
    for items in _stream(state, stale):
        changed |= _save(state, items, (cfg, maps), guess, keys, moved_only)
    now = projects | state.link_projects()
    if now != guess:
        # A project came or went: which keys an item names may change for any item.
        every = [(i.system, i.id) for i in state.iter_items()]
        for items in _stream(state, every):
            changed |= _save(state, items, (cfg, maps), now, keys)
    state.remember_fact(_LINKS, json.dumps({"link": link_digest, "projects": sorted(now)}))
    return Refreshed(changed, keys, now)


@dataclass
class Selection:
    """What a run evaluates: every record (`full`), or the items of the records touched."""

    full: bool
    items: set[Pair]
    records: set[str]  # the records those items made before this run (or are due)


def select(state: Store, seeds: set[Pair], jira_keys: Collection[str], now: Any) -> Selection:
    """The whole linked groups around `seeds` and the records they made, plus the records
    due by `now` and whatever an earlier run left unplanned or left unconfirmed."""
    # A comment create that may have landed unheard keeps its item planned (apply then looks
    # before posting) until a comment of ours is on record, even once superseded.
    seeds = seeds | state.unfinished_writes() | state.dirty_items() | state.unconfirmed_creates()
    keys = state.due_records(now) | state.records_of(seeds)
    items = seeds | state.items_in_records(keys)
    nodes = {f"key:{k.upper()}" for k in jira_keys}
    for _ in range(10_000):  # each round only grows a finite set
        linked = state.linked_with(items, nodes)
        more = state.records_of(linked) - keys
        keys |= more
        grown = items | linked | state.items_in_records(more)
        if grown == items:
            break
        items, nodes = grown, set()
    state.mark_dirty(items)  # until planned through to the outbox (see `Engine._write`)
    return Selection(False, items, keys)


def groups(state: Store) -> Iterator[list[int]]:
    """Every linked group of kept items as link ids, in batches of whole groups (for pass 2
    of a rebuild: one batch decoded at a time)."""
    batch: list[int] = []
    for group in _union(state).values():
        batch += group
        if len(batch) >= GROUP_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _union(state: Store) -> dict[int, list[int]]:
    """Pass 1 of a rebuild: a union-find on integer ids over the stored (id, node) rows,
    streamed in node order, so items sharing a node join without any item decoded."""
    parent: dict[int, int] = {n: n for n in state.kept_ns()}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    last_node, last_n = None, 0
    for n, node in state.iter_link_rows():
        if node == last_node:
            a, b = find(last_n), find(n)
            if a != b:
                parent[max(a, b)] = min(a, b)
        last_node, last_n = node, n
    members: dict[int, list[int]] = {}
    for n in parent:
        members.setdefault(find(n), []).append(n)
    return members
