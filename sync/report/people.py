"""Who owns a handoff and which team it belongs to, for the report (see `sync.report.data`).

Owner: the first person its findings notify (the escalation ladder starts with the outcome
owner), unless the outcome owner is itself missing. Team: a "Team" field on any of its items,
else the project, repo or database its first item lives in, the Jira issue first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from connectors.base import SYSTEMS
from sync.store import FindingRow, Store

__all__ = ["owners_of", "teams_of"]

_TEAM_FIELDS = ("team",)


def owners_of(rows: Iterable[FindingRow]) -> dict[str, str]:
    """Record key -> owner key: the first person told, unless the outcome owner is missing."""
    owners: dict[str, str] = {}
    no_owner: set[str] = set()
    for row in rows:
        record = row.record_key
        if row.code == "ownerless" and row.subject == "outcome_owner" and row.resolved_at is None:
            no_owner.add(record)
        if row.notify and record not in owners:
            owners[record] = row.notify[0]
    return {k: v for k, v in owners.items() if k not in no_owner}


def teams_of(state: Store, records: Mapping[str, tuple[str, list[str]]]) -> dict[str, str]:
    """Record key -> team: a "Team" field on any of its items, else its first item's scope."""
    found: dict[str, str] = {}
    for key, (_, item_ids) in records.items():
        scope = ""
        for ref in sorted(item_ids, key=_jira_first):
            system, _, item_id = ref.partition(":")
            item = state.item(system, item_id)
            if item is None:
                continue
            scope = scope or item.scope.partition(":")[2]
            team = _team_field(item.fields)
            if team:
                found[key] = team
                break
        else:
            found[key] = scope
    return found


def _jira_first(ref: str) -> tuple[int, str]:
    # A handoff's home is its Jira issue when it has one, as in the record itself.
    system = ref.partition(":")[0]
    return (SYSTEMS.index(system) if system in SYSTEMS else len(SYSTEMS), ref)


def _team_field(fields: Mapping[str, Any]) -> str:
    for name, value in fields.items():
        if str(name).strip().casefold() in _TEAM_FIELDS:
            text = _plain(value)
            if text:
                return text
    return ""


def _plain(value: Any) -> str:
    """A select/option/user-ish value as text: Notion {"select": {"name"}}, Jira {"value"}."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return next((t for t in map(_plain, value) if t), "")
    if isinstance(value, dict):
        for key in ("select", "name", "value", "displayName"):
            if key in value:
                text = _plain(value[key])
                if text:
                    return text
    return ""
