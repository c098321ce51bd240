"""GitHub pull request (or issue) -> record field values. `fields` is the raw pull JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import SourceItem
from mapping.coerce import to_people
from mapping.extract import Collector
from mapping.fields import GithubMap
from mapping.record import Stage, Value

__all__ = ["pull_state", "to_values"]


def pull_state(pull: Mapping[str, Any]) -> str:
    """"draft", "open", "merged" or "closed"."""
    if pull.get("merged") or pull.get("merged_at"):
        return "merged"
    if pull.get("draft") and pull.get("state") == "open":
        return "draft"
    return str(pull.get("state") or "open")


def _labels(pull: Mapping[str, Any]) -> set[str]:
    raw = pull.get("labels")
    if not isinstance(raw, list):
        return set()
    names = (x.get("name") if isinstance(x, Mapping) else x for x in raw)
    return {n for n in names if isinstance(n, str)}


def to_values(item: SourceItem, fmap: GithubMap) -> dict[str, tuple[Value, ...]]:
    """Every mapped field found on one pull request, with provenance."""
    pull = item.fields if isinstance(item.fields, Mapping) else {}
    out = Collector(item, fmap.default_currency)
    body = pull.get("body")
    if isinstance(body, str) and body:
        out.add_text(body, fmap.sections, "body")
        out.add_tasks(body, fmap.tasks, "body")
    for name, keys in fmap.people.items():
        for key in keys:
            raw = pull.get(key)
            if raw:
                # requested_teams are teams whatever their shape; to_people knows them by slug
                refs = to_people(raw, "github")
                out.add_values(name, refs, key)
    state = pull_state(pull)
    stage = fmap.state_stages.get(state)
    if stage is not None:
        out.add_values("status", [Stage(stage)], f"state {state}")
    out.add_labels(_labels(pull) | set(item.labels), fmap.label_prefixes)
    return out.result()
