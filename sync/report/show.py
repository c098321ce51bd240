"""`handoff show KEY-or-URL`: one handoff record as the state knows it (no system is asked).

`find_item` turns what a lead pastes (a Jira key, a pull request URL or owner/repo#n, a Notion
page URL or id, a record key) into the stored item; `gather_show` rebuilds that item's record
from the stored items with the config's field maps (the same fold a sync makes), and adds what
the state remembers about it: open findings with the time each reaches its next escalation
step, our writes on its items (the audit log) and each item's content changes. Rendering is in
`sync.report.show_text`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.base import SYSTEMS, SourceItem
from connectors.errors import ConfigError
from mapping.commands_apply import apply_commands
from mapping.due import reach_hours
from mapping.escalation import working_hours
from mapping.link import build_records
from mapping.people import Directory
from mapping.record import HandoffRecord
from mapping.rules_config import RulesConfig
from sync.engine.said import commands_of
from sync.report.show_values import field_values, owner_time_zone, value_text
from sync.settings import Settings
from sync.store import AuditRow, FindingRow, ItemChange, Store
from sync.systems import names as system_names
from sync.systems.github import NAME as GITHUB
from sync.systems.notion import NAME as NOTION

__all__ = ["FindingView", "Shown", "find_item", "gather_show"]

_GITHUB = re.compile(r"(?:github\.com/|/)?([\w.-]+)/([\w.-]+)(?:/pulls?/|/issues/|#)(\d+)/?$")
_NOTION_ID = re.compile(r"([0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                        r"[0-9a-fA-F]{12})(?:[?#].*)?/?$")  # fmt: skip
HINT = (
    "try a Jira key (EXP-42), a pull request URL or owner/repo#12, or a Notion page URL or "
    "id, as `handoff report` lists them; `handoff sync` first if the item is new."
)


@dataclass(frozen=True)
class FindingView:
    """One open finding of the record, with when it climbs the ladder next."""

    row: FindingRow
    step: int  # the ladder rung reached (0: the owner)
    told: tuple[str, ...]  # names of the people it reaches now
    next_at: datetime | None  # when it reaches the next rung (None: top reached)
    next_to: str  # who is told then ("approver", "lead")
    zone: str  # the owner's time zone the hours are counted in


@dataclass
class Shown:
    """Everything `handoff show` prints about one record."""

    query: str
    item: SourceItem  # the item the query named
    record: HandoffRecord
    items: Mapping[tuple[str, str], SourceItem]
    findings: list[FindingView] = field(default_factory=list)
    history: list[ItemChange] = field(default_factory=list)
    writes: list[AuditRow] = field(default_factory=list)
    last_sync: datetime | None = None
    now: datetime | None = None
    names: Mapping[str, str] = field(default_factory=dict)

    def fields(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """(field, [value with its source]) for every field of the record, empty ones too."""
        return field_values(self.record, self.items)

    def escalation(self) -> int:
        return max((f.step for f in self.findings), default=0)


def find_item(state: Store, query: str) -> SourceItem:
    """The stored item `query` names; ConfigError (one line, with what to try) otherwise."""
    text = query.strip()
    wanted = _candidates(text)
    for item in state.iter_items():
        if (item.system, _norm(item.system, item.id)) in wanted or (
            item.system,
            _norm(item.system, item.key),
        ) in wanted:
            return item
    if text:
        keys = state.items_in_records({text}) or state.items_in_records({text.upper()})
        found = state.items_of(sorted(keys))
        if found:
            return sorted(found, key=_home_first)[0]
    raise ConfigError(f"no handoff in the state matches {query!r}: {HINT}")


def _candidates(text: str) -> set[tuple[str, str]]:
    """(system, normalised id or key) pairs the query may mean."""
    out = {(s, _norm(s, text)) for s in system_names()}
    gh = _GITHUB.search(text)
    if gh:
        out.add((GITHUB, f"{gh[1]}/{gh[2]}#{gh[3]}".casefold()))
    page = _NOTION_ID.search(text)
    if page:
        out.add((NOTION, page[1].replace("-", "").casefold()))
    return out


def _home_first(item: SourceItem) -> tuple[int, str, str]:
    # A record's home is its Jira issue when it has one, as in the record itself.
    rank = SYSTEMS.index(item.system) if item.system in SYSTEMS else len(SYSTEMS)
    return (rank, item.system, item.id)


def _norm(system: str, value: str) -> str:
    value = (value or "").strip().casefold()
    return value.replace("-", "") if system == NOTION and len(value) in (32, 36) else value


def gather_show(
    state: Store, settings: Settings, query: str, *, now: datetime, directory: Directory
) -> Shown:
    """The record of the item `query` names, rebuilt from the stored items."""
    item = find_item(state, query)
    pair = (item.system, item.id)
    keys = state.records_of({pair})
    pairs = state.items_in_records(keys) | {pair} if keys else {pair}
    items = {(i.system, i.id): i for i in state.items_of(sorted(pairs))}
    records = build_records(
        items.values(),
        settings.fields,
        directory,
        settings.link,
        projects=state.link_projects() or None,
        extracts=state.extracts_of(sorted(items)),
    )
    record = next(
        (r for r in records if any((s.system, s.item_id) == pair for s in r.sources)), None
    )
    if record is None:  # ignored (handoff:ignore) or folded nowhere: say so plainly
        raise ConfigError(
            f"{query!r} is {item.system} item {item.key}, which belongs to no handoff record "
            "(it carries the ignore label, or its kind is not checked)."
        )
    record = _commanded(state, record, items.values(), settings, directory, now)
    names = {p.key: p.name or p.key for p in settings.people}
    runs = state.runs(1, dry_runs=False)
    shown = Shown(query, item, record, items, now=now, names=names,
                  last_sync=runs[0].started if runs else None)  # fmt: skip
    rows = [r for r in state.findings(open_only=True) if r.record_key == record.key]
    rules = settings.rules_config()
    shown.findings = [_finding(r, record, rules, directory, names, now) for r in rows]
    ours = sorted({(s.system, s.item_id) for s in record.sources})
    shown.history = state.item_history(ours)
    shown.writes = state.audit_of(ours)
    return shown


def _commanded(
    state: Store,
    record: HandoffRecord,
    items: Iterable[SourceItem],
    settings: Settings,
    directory: Directory,
    now: datetime,
) -> HandoffRecord:
    """The record with people's `/handoff` commands in effect, as the sync applies them: an
    owner named by a command shows the command as its source."""
    commands = commands_of(state, items)
    written = [c for s in record.sources for c in commands.get((s.system, s.item_id), ())]
    if not written:
        return record
    opened = state.opened_at_of({record.key})
    return apply_commands(record, written, settings.rules_config(), directory, now, opened).record


def _finding(
    row: FindingRow,
    record: HandoffRecord,
    rules: RulesConfig,
    directory: Directory,
    names: Mapping[str, str],
    now: datetime,
) -> FindingView:
    """The finding with its ladder position, counted as the rules count it (mapping.due)."""
    esc = rules.escalation
    zone = esc.zone(owner_time_zone(record, directory))
    hours = working_hours(row.first_seen, now, zone, esc)
    ladder = sorted(esc.ladder, key=lambda s: s.after_hours)
    ahead = [s for s in ladder if s.after_hours > hours]
    next_at = reach_hours(row.first_seen, ahead[0].after_hours, zone, esc) if ahead else None
    told = tuple(dict.fromkeys(names.get(k, k) for k in row.notify))
    return FindingView(
        row=row,
        step=row.escalation,
        told=told,
        next_at=next_at,
        next_to=ahead[0].to if ahead else "",
        zone=str(zone),
    )


def changed_fields(history: Sequence[ItemChange]) -> list[tuple[ItemChange, list[str]]]:
    """Each change with the names of the fields it changed (empty: the item's first sight)."""
    out: list[tuple[ItemChange, list[str]]] = []
    last: dict[tuple[str, str], ItemChange] = {}
    for change in history:
        before = last.get((change.system, change.item_id))
        if before is None:
            out.append((change, []))
        else:
            names = sorted(
                k
                for k in set(before.fields) | set(change.fields)
                if before.fields.get(k) != change.fields.get(k)
            )
            if change.title != before.title:
                names.insert(0, "title")
            if change.state != before.state:
                names.insert(0, f"state: {change.state}")
            out.append((change, names))
        last[(change.system, change.item_id)] = change
    return out


__all__ += ["HINT", "changed_fields", "value_text"]
