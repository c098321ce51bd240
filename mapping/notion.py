"""Notion page -> record field values. `fields` is the page's raw `properties`, plus `"_body"`
(the body as plain text, headings as `## X`) when the map has body sections."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import SourceItem
from mapping.coerce import to_text
from mapping.extract import Collector, Folded
from mapping.fields import NotionMap
from mapping.record import Stage, Value

__all__ = ["BODY_KEY", "property_value", "to_values"]

BODY_KEY = "_body"


def _rich_text(parts: Any) -> str:
    if not isinstance(parts, list):
        return ""
    texts = []
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        if part.get("type") == "mention" and isinstance(part.get("mention"), Mapping):
            user = part["mention"].get("user")
            if isinstance(user, Mapping) and user.get("id"):
                texts.append(f"[~accountid:{user['id']}]")  # keeps a mentioned user resolvable
                continue
        text = part.get("plain_text")
        if not isinstance(text, str) and isinstance(part.get("text"), Mapping):
            text = part["text"].get("content")
        if isinstance(text, str):
            texts.append(text)
    return "".join(texts)


def property_value(prop: Any) -> Any:
    """A typed Notion property as a plain Python value (text, number, list, dict, bool)."""
    if not isinstance(prop, Mapping):
        return None
    kind = prop.get("type")
    raw = prop.get(kind) if isinstance(kind, str) else None
    if kind in ("title", "rich_text"):
        return _rich_text(raw) or None
    if kind in ("select", "status"):
        return raw.get("name") if isinstance(raw, Mapping) else None
    if kind in ("multi_select", "relation") and isinstance(raw, list):
        key = "name" if kind == "multi_select" else "id"
        return [o.get(key) for o in raw if isinstance(o, Mapping)]
    if kind in ("people", "created_by", "last_edited_by"):
        return raw
    if kind == "formula" and isinstance(raw, Mapping):
        inner = raw.get("type")
        return raw.get(inner) if isinstance(inner, str) else None
    if kind == "rollup" and isinstance(raw, Mapping):
        inner = raw.get("type")
        value = raw.get(inner) if isinstance(inner, str) else None
        if isinstance(value, list):
            return [property_value(v) for v in value]
        return value
    if kind == "unique_id" and isinstance(raw, Mapping):
        prefix, number = raw.get("prefix"), raw.get("number")
        return f"{prefix}-{number}" if prefix else number
    # number, date, checkbox, url, email, phone_number, created_time, last_edited_time
    return raw


def _lookup(props: Mapping[str, Any], name: str, folded: Folded) -> Any:
    if name in props:
        return props[name]
    return folded.get(name)


def to_values(item: SourceItem, fmap: NotionMap) -> dict[str, tuple[Value, ...]]:
    """Every mapped property (and body section) found on one page, with provenance."""
    props = item.fields if isinstance(item.fields, Mapping) else {}
    out = Collector(item, fmap.default_currency)
    folded = Folded(props)
    for name, sources in fmap.properties.items():
        for source in sources:
            prop = _lookup(props, source, folded)
            raw = property_value(prop)
            if raw is None or raw == "" or raw == []:
                continue
            where = f"property {source}"
            if name == "status":
                text = to_text(raw)
                stage = fmap.stage_for(text) or Stage.parse(text)
                out.add_values(name, [stage] if stage else [], where)
            else:
                out.add(name, raw, where)
    body = props.get(BODY_KEY)
    if isinstance(body, str) and body:
        out.add_text(body, fmap.sections, "page body")
        out.add_tasks(body, fmap.tasks, "page body")
    tags = property_value(_lookup(props, "Tags", folded))
    labels = {t for t in tags if isinstance(t, str)} if isinstance(tags, list) else set()
    out.add_labels(labels | set(item.labels), fmap.label_prefixes)
    return out.result()
