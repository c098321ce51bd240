"""Group items that describe one piece of work, and fold each group into a HandoffRecord.

An item names its record by a Jira key (a PR's title, branch or body; a Notion property) or by
a PR's URL. Items and the keys they name are nodes of one union-find, so grouping is linear in
the number of items and does not depend on the order they arrive in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.base import SourceItem
from mapping import github as github_map
from mapping import jira as jira_map
from mapping import notion as notion_map
from mapping import stored
from mapping.coerce import to_text
from mapping.fields import FieldMaps
from mapping.people import Directory
from mapping.record import (
    PERSON_FIELDS,
    Decision,
    HandoffRecord,
    PersonRef,
    SourceRef,
    Stage,
    Value,
)
from mapping.text import plain_text

__all__ = [
    "MAPPINGS",
    "LinkConfig",
    "SystemMapping",
    "build_records",
    "item_extract",
    "item_nodes",
    "item_values",
    "jira_project",
    "link",
    "register",
    "unregister",
]

_PR_URL = re.compile(r"https?://[^/\s]+/([\w.-]+)/([\w.-]+)/pull/(\d+)")
_PR_REF = re.compile(r"\b([\w.-]+/[\w.-]+)#(\d+)\b")


class LinkConfig(BaseModel):
    """How items find each other (`[link]` in config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Each pattern's first group (or whole match) is a Jira key.
    key_patterns: list[str] = Field(default_factory=lambda: [r"\b([A-Z][A-Z0-9_]{1,9}-\d+)\b"])
    # Keys of these projects only (plus projects of Jira items seen), so "UTF-8" is not a key.
    projects: list[str] = Field(default_factory=list)
    # Systems whose items should belong to a record; alone they get the `unlinked` finding.
    require_partner: list[str] = Field(default_factory=lambda: ["github", "notion"])
    # Notion properties that link a page; empty: every text, URL and formula property.
    notion_properties: list[str] = Field(default_factory=list)
    # Items never checked: bots' PRs, or anything carrying one of these labels.
    ignore_authors: list[str] = Field(
        default_factory=lambda: ["dependabot[bot]", "renovate[bot]", "github-actions[bot]"]
    )
    ignore_labels: list[str] = Field(default_factory=lambda: ["handoff:ignore"])

    @field_validator("key_patterns")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {pattern!r} ({exc})") from None
        return value


def _ignored(item: SourceItem, cfg: LinkConfig) -> bool:
    if item.state != "present":
        return True
    if set(item.labels) & set(cfg.ignore_labels):
        return True
    user = item.fields.get("user") if isinstance(item.fields, Mapping) else None
    login = user.get("login") if isinstance(user, Mapping) else None
    return isinstance(login, str) and login in cfg.ignore_authors


class _Keys:
    """Finds Jira keys and PR references in text, limited to known projects."""

    def __init__(self, cfg: LinkConfig, projects: set[str]) -> None:
        self.patterns = [re.compile(p) for p in cfg.key_patterns]
        self.projects = projects

    def jira(self, text: str) -> list[str]:
        found = []
        for pattern in self.patterns:
            for match in pattern.finditer(text):
                key = (match.group(1) if pattern.groups else match.group(0)).upper()
                if not self.projects or key.rsplit("-", 1)[0] in self.projects:
                    found.append(key)
        return found

    @staticmethod
    def pulls(text: str) -> list[str]:
        urls = [f"{o}/{r}#{n}" for o, r, n in _PR_URL.findall(text)]
        refs = [f"{repo}#{n}" for repo, n in _PR_REF.findall(text)]
        return [f"pr:{ref.lower()}" for ref in [*urls, *refs]]


def _notion_texts(item: SourceItem, cfg: LinkConfig) -> list[str]:
    props = item.fields if isinstance(item.fields, Mapping) else {}
    names = cfg.notion_properties or [k for k in props if k != notion_map.BODY_KEY]
    return [to_text(notion_map.property_value(props.get(n))) for n in sorted(names)]


def _jira_refs(item: SourceItem, keys: _Keys, cfg: LinkConfig) -> tuple[list[str], list[str]]:
    fields = item.fields if isinstance(item.fields, Mapping) else {}
    text = plain_text(fields.get("description"))
    return [f"key:{item.key.upper()}"], keys.pulls(text)


def _github_refs(item: SourceItem, keys: _Keys, cfg: LinkConfig) -> tuple[list[str], list[str]]:
    fields = item.fields if isinstance(item.fields, Mapping) else {}
    head = fields.get("head")
    branch = head.get("ref") if isinstance(head, Mapping) else ""
    body = fields.get("body")
    # Title and branch name the work; the body may mention other keys ("follows EXP-1"),
    # so it counts only when title and branch say nothing.
    strong = keys.jira(f"{item.title} {to_text(fields.get('title'))} {to_text(branch)}")
    named = strong[:1] or keys.jira(body if isinstance(body, str) else "")[:1]
    return [f"pr:{item.id.lower()}"], [f"key:{k}" for k in named]


def _notion_refs(item: SourceItem, keys: _Keys, cfg: LinkConfig) -> tuple[list[str], list[str]]:
    texts = [*_notion_texts(item, cfg), item.title]
    jira_keys = [k for t in texts for k in keys.jira(t)]
    pulls = [p for t in texts for p in keys.pulls(t)]
    return [f"page:{item.id}"], [f"key:{k}" for k in jira_keys[:1]] + pulls


Refs = Callable[[SourceItem, "_Keys", LinkConfig], tuple[list[str], list[str]]]
Extractor = Callable[[SourceItem, FieldMaps], dict[str, tuple[Value, ...]]]


@dataclass(frozen=True)
class SystemMapping:
    """What mapping knows of one system: how its items become field values (`extract`), how
    they name each other (`refs`: the tokens an item is, and the tokens it names) and where
    its items sort in a record (`order`: the first item names the record)."""

    extract: Extractor
    refs: Refs
    order: int


# The one table of per-system mapping; `register` adds a system (a test's toy system).
MAPPINGS: dict[str, SystemMapping] = {
    "jira": SystemMapping(lambda i, m: jira_map.to_values(i, m.jira), _jira_refs, 0),
    "notion": SystemMapping(lambda i, m: notion_map.to_values(i, m.notion), _notion_refs, 1),
    "github": SystemMapping(lambda i, m: github_map.to_values(i, m.github), _github_refs, 2),
}


def register(system: str, mapping: SystemMapping) -> None:
    """Add (or replace) one system's mapping; `unregister` takes it away."""
    MAPPINGS[system] = mapping


def unregister(system: str) -> None:
    MAPPINGS.pop(system, None)


def _refs(item: SourceItem, keys: _Keys, cfg: LinkConfig) -> tuple[list[str], list[str]]:
    """(tokens the item is, tokens it names) for one item; an unknown system's item is
    itself only."""
    mapping = MAPPINGS.get(item.system)
    if mapping is None:
        return [f"item:{item.system}:{item.id}"], []
    return mapping.refs(item, keys, cfg)


@dataclass(frozen=True)
class _Group:
    members: list[int]  # indexes into the sorted items, ascending
    keys: list[str]  # Jira keys the members name, sorted
    named: bool  # some member names another item or key


def _sort_key(item: SourceItem) -> tuple[int, str, str]:
    mapping = MAPPINGS.get(item.system)
    return (mapping.order if mapping else 9, item.id, item.scope)


def _keys(items: Sequence[SourceItem], cfg: LinkConfig) -> _Keys:
    projects = {p.upper() for p in cfg.projects}
    projects |= {jira_project(i) for i in items if i.system == "jira"}
    return _Keys(cfg, projects)


def jira_project(item: SourceItem) -> str:
    """The project a Jira item's key belongs to ("EXP" for EXP-42)."""
    return item.key.rsplit("-", 1)[0].upper()


def item_nodes(
    item: SourceItem, cfg: LinkConfig, projects: Collection[str]
) -> tuple[str, ...] | None:
    """The link nodes one item joins (the tokens it is and names), Jira keys limited to
    `projects` (config projects plus the projects of every kept Jira item); None for an item
    that linking ignores. Depends on the item alone (given the projects), so it is computed
    at pull time and stored: a run links from the store without decoding unchanged items."""
    if _ignored(item, cfg):
        return None
    owns, named = _refs(item, _Keys(cfg, {p.upper() for p in projects}), cfg)
    return tuple(dict.fromkeys([*owns, *named]))


def item_extract(
    item: SourceItem, cfg: LinkConfig, projects: Collection[str], maps: FieldMaps
) -> tuple[tuple[str, ...] | None, str | None]:
    """`item_nodes`, and the item's values and link tokens as `mapping.stored` spells them
    (None when it cannot), so that `build_records` need not parse the item again."""
    if _ignored(item, cfg):
        return None, None
    refs = _refs(item, _Keys(cfg, {p.upper() for p in projects}), cfg)
    extract = stored.encode(item, item_values(item, maps), refs)
    return tuple(dict.fromkeys([*refs[0], *refs[1]])), extract


Extracts = Mapping[tuple[str, str], tuple[dict[str, tuple[Value, ...]], stored.Refs]]


def _groups(
    items: Sequence[SourceItem], keys: _Keys, cfg: LinkConfig, pre: Extracts
) -> list[_Group]:
    """Indexes of linked items, with the Jira keys the group names, in first-item order."""
    parent = list(range(len(items)))
    token_ids: dict[str, int] = {}
    names: list[list[str]] = []

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for index, item in enumerate(items):
        known = pre.get((item.system, item.id))
        owns, named = known[1] if known else _refs(item, keys, cfg)
        names.append(named)
        for token in [*owns, *named]:
            node = token_ids.get(token)
            if node is None:
                node = len(parent)
                parent.append(node)
                token_ids[token] = node
            a, b = find(index), find(node)
            if a != b:
                parent[max(a, b)] = min(a, b)
    members: dict[int, list[int]] = {}
    for index in range(len(items)):
        members.setdefault(find(index), []).append(index)
    groups = []
    for indexes in members.values():
        named_keys = sorted({n[4:] for i in indexes for n in names[i] if n.startswith("key:")})
        named_any = any(names[i] for i in indexes)
        groups.append(_Group(indexes, named_keys, named_any))
    return groups


def link(items: Iterable[SourceItem], cfg: LinkConfig) -> list[tuple[SourceItem, ...]]:
    """Items grouped by the piece of work they describe; ignored items are left out."""
    kept = sorted((i for i in items if not _ignored(i, cfg)), key=_sort_key)
    found = _groups(kept, _keys(kept, cfg), cfg, {})
    groups = [tuple(kept[i] for i in g.members) for g in found]
    return sorted(groups, key=lambda g: _sort_key(g[0]))


def item_values(item: SourceItem, maps: FieldMaps) -> dict[str, tuple[Value, ...]]:
    """One item's field values, whatever its system ({} for an unknown system)."""
    mapping = MAPPINGS.get(item.system)
    return mapping.extract(item, maps) if mapping else {}


def _resolve(value: Value, directory: Directory) -> Value:
    ref = value.value
    if not isinstance(ref, PersonRef):
        return value
    # Built directly rather than with dataclasses.replace: a rebuild resolves every owner.
    if ref.kind != "person" or directory.is_group(ref.system, ref.handle):
        kind: Any = ref.kind if ref.kind != "person" else "group"
        return Value(PersonRef(ref.system, ref.handle, ref.name, kind, ref.key), value.source)
    person = directory.resolve(ref.system, ref.handle)
    if person is None:
        return value
    name = ref.name or person.name
    return Value(PersonRef(ref.system, ref.handle, name, ref.kind, person.key), value.source)


def _resolve_decision(value: Value, directory: Directory) -> Value:
    # Who decided must be joined to the directory like any owner, or an approver's "go by
    # @hugo" could never match the approver named on another system.
    decision = value.value
    if not isinstance(decision, Decision) or decision.who is None:
        return value
    who = _resolve(replace(value, value=decision.who), directory).value
    return replace(value, value=replace(decision, who=who))


def _record(
    group: tuple[SourceItem, ...],
    found: _Group,
    maps: FieldMaps,
    directory: Directory,
    cfg: LinkConfig,
    known_keys: Collection[str] | None,
    pre: Extracts,
) -> HandoffRecord:
    merged: dict[str, list[Value]] = {}
    for item in group:
        known = pre.get((item.system, item.id))
        for name, values in (known[0] if known else item_values(item, maps)).items():
            if name in PERSON_FIELDS:
                values = tuple(_resolve(v, directory) for v in values)
            elif name == "decision_log":
                values = tuple(_resolve_decision(v, directory) for v in values)
            merged.setdefault(name, []).extend(values)
    first = group[0]
    # A Jira issue is the record's name; else the key its items name; else the lone item's id.
    key = first.key if first.system == "jira" else (found.keys or [first.id])[0]
    stages = [v.value for v in merged.get("status", []) if isinstance(v.value, Stage)]
    stage = max(stages, key=lambda s: s.order) if stages else Stage.DESIGN
    alone = len(group) == 1 and first.system in cfg.require_partner and not found.named
    unknown = _unknown_keys(group, found, known_keys)
    if unknown:
        # The keys it names do not exist: not a handoff of its own, an item to link properly.
        key, alone = first.id, True
    return HandoffRecord(
        key=key,
        title=first.title or first.key,
        stage=stage,
        sources=tuple(SourceRef(i.system, i.id, i.key, i.url, i.kind) for i in group),
        linked=not alone,
        unknown_keys=unknown,
        **{name: tuple(values) for name, values in merged.items()},
    )


def _unknown_keys(
    group: Sequence[SourceItem], found: _Group, known_keys: Collection[str] | None
) -> tuple[str, ...]:
    """The Jira keys a group without a Jira issue names when none of them exists."""
    if known_keys is None or not found.keys or any(i.system == "jira" for i in group):
        return ()
    if any(k in known_keys for k in found.keys):
        return ()
    return tuple(found.keys)


def build_records(
    items: Iterable[SourceItem],
    maps: FieldMaps,
    directory: Directory,
    link_cfg: LinkConfig,
    known_keys: Collection[str] | None = None,
    projects: Collection[str] | None = None,
    extracts: Mapping[tuple[str, str], str] | None = None,
) -> list[HandoffRecord]:
    """Every record the items describe, in a stable order (by record key, then first item).

    `known_keys`: every Jira issue key, when Jira was read in full; an item naming only keys
    outside it is `unlinked` (naming the key), not a handoff of its own. None: not known.
    `projects`: the Jira projects keys may name, when `items` are only some of the items
    (whole linked groups of them); None: the config's plus those of the Jira items given.
    `extracts`: items' stored extracts (`item_extract`, computed with these `maps` and
    `projects`), used instead of parsing those items again.
    """
    kept = sorted((i for i in items if not _ignored(i, link_cfg)), key=_sort_key)
    keys = _keys(kept, link_cfg) if projects is None else _Keys(link_cfg, set(projects))
    texts = extracts or {}
    pre = {
        (i.system, i.id): stored.decode(texts[(i.system, i.id)], i)
        for i in kept
        if (i.system, i.id) in texts
    }
    records = []
    for found in _groups(kept, keys, link_cfg, pre):
        group = tuple(kept[i] for i in found.members)
        records.append(_record(group, found, maps, directory, link_cfg, known_keys, pre))
    return sorted(records, key=lambda r: (r.key, r.sources[0].system, r.sources[0].item_id))
