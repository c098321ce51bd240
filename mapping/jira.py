"""Jira issue -> record field values. `fields` is the issue's raw `fields`, with custom fields
renamed to their display names by the connector (raw `customfield_NNNNN` ids work too)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import SourceItem
from mapping.coerce import to_text
from mapping.extract import Collector, Folded
from mapping.fields import JIRA_CATEGORY_STAGES, JiraMap
from mapping.record import Stage, Value
from mapping.text import plain_text

__all__ = ["to_values"]


def _stage(raw: Any, fmap: JiraMap) -> list[Stage]:
    name = to_text(raw)
    stage = fmap.stage_for(name) if name else None
    if stage is None and isinstance(raw, Mapping):
        category = raw.get("statusCategory")
        if isinstance(category, Mapping):
            stage = JIRA_CATEGORY_STAGES.get(str(category.get("key", "")))
    if stage is None:
        stage = Stage.parse(name)
    return [stage] if stage else []


def _field(fields: Mapping[str, Any], name: str, folded: Folded) -> Any:
    if name in fields:
        return fields[name]
    if name == "watchers":  # the issue's `watches`, holding `watchers` when expanded
        return fields.get("watches")
    return folded.get(name)


def to_values(item: SourceItem, fmap: JiraMap) -> dict[str, tuple[Value, ...]]:
    """Every mapped field found on one Jira issue, with provenance."""
    fields = item.fields if isinstance(item.fields, Mapping) else {}
    out = Collector(item, fmap.default_currency)
    folded = Folded(fields)
    for name, sources in fmap.fields.items():
        for source in sources:
            raw = _field(fields, source, folded)
            if raw is None or raw == "" or raw == []:
                continue
            if name == "status":
                out.add_values(name, _stage(raw, fmap), source)
            else:
                out.add(name, raw, source)
    text = plain_text(fields.get(fmap.description_field))
    if text:
        out.add_text(text, fmap.sections, fmap.description_field)
        out.add_tasks(text, fmap.tasks, fmap.description_field)
    labels = fields.get("labels")
    label_list = [x for x in labels if isinstance(x, str)] if isinstance(labels, list) else []
    out.add_labels({*label_list, *item.labels}, fmap.label_prefixes)
    return out.result()
