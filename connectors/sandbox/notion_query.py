"""Notion property values for the sandbox: schemas, rendering, validating writes, query filters.

Values are kept in the simple form described in notion_api and rendered as Notion's full
objects on the way out; writes are validated the way Notion validates them, with its messages.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "Invalid",
    "accept",
    "accept_rich_text",
    "ordering",
    "plain",
    "predicate",
    "render_value",
    "resolve",
    "rich_text_list",
    "schema",
    "title_name",
]

MAX_TEXT = 2000  # characters per rich text object
MAX_ITEMS = 100  # elements per array
READ_ONLY = frozenset({"formula", "last_edited_time", "created_time", "created_by",
                       "last_edited_by", "rollup", "unique_id"})
_ANNOTATIONS = {"bold": False, "italic": False, "strikethrough": False, "underline": False,
                "code": False, "color": "default"}
_WITH_OPTIONS = ("select", "multi_select", "status")


class Invalid(ValueError):
    """A request Notion would refuse with validation_error; the text is Notion's message."""


def _prop_id(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:4]


def _option(name: str, color: str = "default") -> dict[str, Any]:
    return {"id": _prop_id("opt:" + name), "name": name, "color": color, "description": None}


def schema(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Notion property objects from the workspace's {name: type | {"type", "options"}}."""
    out: dict[str, dict[str, Any]] = {}
    for name, s in spec.items():
        s = {"type": s} if isinstance(s, str) else dict(s)
        kind = s["type"]
        config: dict[str, Any] = {}
        if kind in _WITH_OPTIONS:
            config["options"] = [_option(o) for o in s.get("options", [])]
            if kind == "status":
                config["groups"] = []
        elif kind == "number":
            config["format"] = "number"
        elif kind == "formula":
            config["expression"] = s.get("expression", "")
        elif kind == "relation":
            config = {"data_source_id": s.get("data_source_id", ""), "type": "single_property",
                      "single_property": {}}
        pid = "title" if kind == "title" else _prop_id(name)
        out[name] = {"id": pid, "name": name, "description": None, "type": kind, kind: config}
    return out


def title_name(props: dict[str, dict[str, Any]]) -> str:
    return next((n for n, p in props.items() if p["type"] == "title"), "Name")


def resolve(props: dict[str, dict[str, Any]], key: str) -> tuple[str, dict[str, Any]]:
    """A property by name or id, as Notion accepts either."""
    if key in props:
        return key, props[key]
    for name, prop in props.items():
        if prop["id"] == key:
            return name, prop
    raise Invalid(f"{key} is not a property that exists.")


def rich_text_item(text: str) -> dict[str, Any]:
    return {"type": "text", "text": {"content": text, "link": None},
            "annotations": dict(_ANNOTATIONS), "plain_text": text, "href": None}


def rich_text_list(value: Any) -> list[dict[str, Any]]:
    """Stored text (a str or an already-normalised rich_text array) as a rich_text array."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [rich_text_item(value[i:i + MAX_TEXT]) for i in range(0, len(value), MAX_TEXT)]
    return list(value)


def plain(value: Any, kind: str) -> Any:
    """A comparable plain value of a stored property (for filters and sorts)."""
    if kind in ("title", "rich_text"):
        if isinstance(value, list):
            return "".join(i.get("plain_text", "") for i in value)
        return value or ""
    if kind == "date":
        return value.get("start") if isinstance(value, dict) else value
    if kind in ("multi_select", "people", "relation"):
        return list(value or [])
    if kind == "checkbox":
        return bool(value)
    return value


def render_value(prop: dict[str, Any], raw: Any, edited: datetime, created: datetime,
                 user: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """One property value as Notion's page object shows it."""
    kind = prop["type"]
    out: dict[str, Any] = {"id": prop["id"], "type": kind}
    options = {o["name"]: o for o in prop[kind].get("options", [])}
    if kind == "last_edited_time":
        out[kind] = edited.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    elif kind == "created_time":
        out[kind] = created.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    elif kind in ("title", "rich_text"):
        out[kind] = rich_text_list(raw)
    elif kind in ("select", "status"):
        out[kind] = (options.get(raw) or _option(raw)) if raw else None
    elif kind == "multi_select":
        out[kind] = [options.get(n) or _option(n) for n in raw or []]
    elif kind == "people":
        out[kind] = [user(uid) for uid in raw or []]
    elif kind == "relation":
        out[kind] = [{"id": i} for i in raw or []]
        out["has_more"] = False
    elif kind == "date":
        if isinstance(raw, str):
            raw = {"start": raw}
        out[kind] = {"start": raw["start"], "end": raw.get("end"),
                     "time_zone": raw.get("time_zone")} if raw else None
    elif kind == "checkbox":
        out[kind] = bool(raw)
    elif kind == "formula":
        ftype = ("boolean" if isinstance(raw, bool) else
                 "number" if isinstance(raw, int | float) else "string")
        out[kind] = {"type": ftype, ftype: raw}
    else:  # number, url, email, phone_number
        out[kind] = raw
    return out


def accept_rich_text(value: Any, where: str, users: dict[str, Any]) -> list[dict[str, Any]]:
    """Validate a rich_text array from a request and normalise it as Notion stores it."""
    if not isinstance(value, list):
        raise Invalid(f"body failed validation: {where} should be an array, instead was "
                      f"`{value!r}`.")
    if len(value) > MAX_ITEMS:
        raise Invalid(f"body failed validation: {where}.length should be ≤ `{MAX_ITEMS}`, "
                      f"instead was `{len(value)}`.")
    out = []
    for i, item in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise Invalid(f"body failed validation: {at} should be an object.")
        annotations = {**_ANNOTATIONS, **(item.get("annotations") or {})}
        if "text" in item and item.get("type", "text") == "text":
            text = item["text"] if isinstance(item["text"], dict) else {}
            content = text.get("content")
            if not isinstance(content, str):
                raise Invalid(f"body failed validation: {at}.text.content should be a string, "
                              "instead was `undefined`.")
            if len(content) > MAX_TEXT:
                raise Invalid(f"body failed validation: {at}.text.content.length should be ≤ "
                              f"`{MAX_TEXT}`, instead was `{len(content)}`.")
            link = text.get("link")
            out.append({"type": "text", "text": {"content": content, "link": link},
                        "annotations": annotations, "plain_text": content,
                        "href": link.get("url") if isinstance(link, dict) else None})
        elif "mention" in item and isinstance(item["mention"].get("user"), dict):
            uid = item["mention"]["user"].get("id", "")
            name = users.get(uid, {}).get("name", "")
            out.append({"type": "mention", "mention": {"type": "user", "user": {
                "object": "user", "id": uid}}, "annotations": annotations,
                "plain_text": f"@{name}", "href": None})
        else:
            raise Invalid(f"body failed validation. Fix one: {at}.text should be defined, "
                          f"instead was `undefined`. {at}.mention should be defined, instead "
                          "was `undefined`.")
    return out


def accept(prop: dict[str, Any], value: Any, users: dict[str, Any]) -> Any:
    """Validate a property value from PATCH /pages and return its stored (simple) form."""
    name, kind = prop["name"], prop["type"]
    if kind in READ_ONLY:
        raise Invalid(f"{name} is a {kind} property, which cannot be updated.")
    if not isinstance(value, dict) or kind not in value:
        raise Invalid(f"{name} is expected to be {kind}.")
    v = value[kind]
    where = f"body.properties.{name}.{kind}"
    if kind in ("title", "rich_text"):
        return accept_rich_text(v, where, users)
    if kind in ("select", "status"):
        if v is None:
            return None
        if not isinstance(v, dict) or not isinstance(v.get("name", v.get("id")), str):
            raise Invalid(f"{name} is expected to be {kind}.")
        options = prop[kind]["options"]
        found = next((o for o in options if v.get("name") == o["name"] or v.get("id") == o["id"]),
                     None)
        if found is None:
            if kind == "status" or "name" not in v:
                raise Invalid(f'Invalid {kind} option "{v.get("name", v.get("id"))}" for '
                              f"property {name}.")
            found = _option(v["name"])
            options.append(found)  # Notion adds a new select option on first use
        return found["name"]
    if kind in ("multi_select", "people", "relation"):
        if not isinstance(v, list) or len(v) > MAX_ITEMS:
            raise Invalid(f"{name} is expected to be {kind}.")
        key = "name" if kind == "multi_select" else "id"
        if any(not isinstance(x, dict) or not isinstance(x.get(key), str) for x in v):
            raise Invalid(f"{name} is expected to be {kind}.")
        if kind == "multi_select":
            known = {o["name"] for o in prop[kind]["options"]}
            prop[kind]["options"] += [_option(x["name"]) for x in v if x["name"] not in known]
        return [x[key] for x in v]
    if kind == "number":
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise Invalid(f"{name} is expected to be number.")
        return v
    if kind == "checkbox":
        if not isinstance(v, bool):
            raise Invalid(f"{name} is expected to be checkbox.")
        return v
    if kind == "date":
        if v is not None and (not isinstance(v, dict) or not isinstance(v.get("start"), str)):
            raise Invalid(f"{name} is expected to be date.")
        return v
    if v is not None and not isinstance(v, str):
        raise Invalid(f"{name} is expected to be {kind}.")
    return v


# -- queries ----------------------------------------------------------------------------------
Pred = Callable[[Any], bool]
_TS = ("last_edited_time", "created_time")


def _when(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise Invalid(f"body failed validation: {where} should be a string, instead was "
                      f"`{value!r}`.")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"body failed validation: {where} should be a valid ISO 8601 date "
                      f'string, instead was `"{value}"`.') from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _compare(cond: Any, where: str, kind: str) -> Callable[[Any], bool]:
    """A test on one plain value from a Notion filter condition such as {"equals": x}."""
    if not isinstance(cond, dict) or len(cond) != 1:
        raise Invalid(f"body failed validation: {where} should be an object with one "
                      "condition.")
    (op, arg), = cond.items()
    if kind in ("date", "time"):
        if op in ("is_empty", "is_not_empty"):
            return (lambda v: v is None) if op == "is_empty" else (lambda v: v is not None)
        when = _when(arg, f"{where}.{op}")

        def as_dt(v: Any) -> datetime | None:
            return v if isinstance(v, datetime) or v is None else _when(v, where)
        tests: dict[str, Callable[[datetime], bool]] = {
            "equals": lambda d: d == when, "before": lambda d: d < when,
            "after": lambda d: d > when, "on_or_before": lambda d: d <= when,
            "on_or_after": lambda d: d >= when}
        if op not in tests:
            raise Invalid(f"body failed validation: {where}.{op} is not a date condition.")
        test = tests[op]
        return lambda v: (d := as_dt(v)) is not None and test(d)
    ops: dict[str, Callable[[Any], bool]] = {
        "is_empty": lambda v: v in (None, "", []),
        "is_not_empty": lambda v: v not in (None, "", []),
    }
    if kind in ("multi_select", "people", "relation"):
        ops |= {"contains": lambda v: arg in v, "does_not_contain": lambda v: arg not in v}
    elif kind == "number":
        ops |= {"equals": lambda v: v == arg, "does_not_equal": lambda v: v != arg,
                "greater_than": lambda v: v is not None and v > arg,
                "less_than": lambda v: v is not None and v < arg,
                "greater_than_or_equal_to": lambda v: v is not None and v >= arg,
                "less_than_or_equal_to": lambda v: v is not None and v <= arg}
    else:
        ops |= {"equals": lambda v: v == arg, "does_not_equal": lambda v: v != arg}
        if kind in ("title", "rich_text", "url"):
            ops |= {"contains": lambda v: str(arg) in (v or ""),
                    "does_not_contain": lambda v: str(arg) not in (v or ""),
                    "starts_with": lambda v: (v or "").startswith(str(arg)),
                    "ends_with": lambda v: (v or "").endswith(str(arg))}
    if op not in ops:
        raise Invalid(f"body failed validation: {where}.{op} is not a {kind} condition.")
    return ops[op]


def predicate(props: dict[str, dict[str, Any]], f: Any, where: str = "body.filter") -> Pred:
    """A page test from a Notion filter: timestamp, property, and compound and/or."""
    if f is None:
        return lambda page: True
    if not isinstance(f, dict):
        raise Invalid(f"body failed validation: {where} should be an object.")
    for mode in ("and", "or"):
        if mode in f:
            subs = f[mode]
            if not isinstance(subs, list) or len(subs) > MAX_ITEMS:
                raise Invalid(f"body failed validation: {where}.{mode} should be an array.")
            preds = [predicate(props, s, f"{where}.{mode}[{i}]") for i, s in enumerate(subs)]
            combine = all if mode == "and" else any
            return lambda page: combine(p(page) for p in preds)
    if "timestamp" in f:
        name = f["timestamp"]
        if name not in _TS:
            raise Invalid(f"body failed validation: {where}.timestamp should be one of "
                          '"created_time", "last_edited_time".')
        test = _compare(f.get(name), f"{where}.{name}", "time")
        attr = "edited" if name == "last_edited_time" else "created"
        return lambda page: test(getattr(page, attr))
    if "property" in f:
        try:
            name, prop = resolve(props, str(f["property"]))
        except Invalid:
            raise Invalid(f"Could not find property with name or id: {f['property']}") from None
        kind = prop["type"]
        cond_key = kind if kind in f else next((k for k in f if k != "property"), "")
        if kind in _TS:
            test = _compare(f.get(cond_key), f"{where}.{cond_key}", "time")
            attr = "edited" if kind == "last_edited_time" else "created"
            return lambda page: test(getattr(page, attr))
        if cond_key != kind and not (kind == "title" and cond_key == "rich_text"):
            raise Invalid(f"body failed validation: {where}.{kind} should be defined, "
                          "instead was `undefined`.")
        test = _compare(f[cond_key], f"{where}.{cond_key}", kind)
        return lambda page: test(plain(page.props.get(name), kind))
    raise Invalid(f"body failed validation: {where} should have a property, a timestamp, "
                  "an and or an or.")


def ordering(props: dict[str, dict[str, Any]], sorts: Any) -> Callable[[list[Any]], list[Any]]:
    """A function that orders pages as Notion's `sorts` asks (default: newest first)."""
    if sorts is None or sorts == []:
        return lambda pages: sorted(pages, key=lambda p: (p.created, p.id), reverse=True)
    if not isinstance(sorts, list) or len(sorts) > MAX_ITEMS:
        raise Invalid("body failed validation: body.sorts should be an array.")
    keys: list[tuple[Callable[[Any], Any], bool]] = []
    for i, s in enumerate(sorts):
        if not isinstance(s, dict) or s.get("direction") not in ("ascending", "descending"):
            raise Invalid(f"body failed validation: body.sorts[{i}].direction should be "
                          '"ascending" or "descending".')
        desc = s["direction"] == "descending"
        if s.get("timestamp") in _TS:
            attr = "edited" if s["timestamp"] == "last_edited_time" else "created"
            keys.append((operator.attrgetter(attr), desc))
        elif "property" in s:
            try:
                name, prop = resolve(props, str(s["property"]))
            except Invalid:
                raise Invalid(f"Could not find sort property with name or id: "
                              f"{s['property']}") from None
            kind = prop["type"]

            def key(p: Any, n: str = name, k: str = kind) -> Any:
                v = plain(p.props.get(n), k)
                v = ",".join(map(str, v)) if isinstance(v, list) else v
                return (v is None, v if v is not None else 0)
            keys.append((key, desc))
        else:
            raise Invalid(f"body failed validation: body.sorts[{i}] should have a property or "
                          "a timestamp.")

    def order(pages: list[Any]) -> list[Any]:
        out = sorted(pages, key=lambda p: p.id)
        for key, desc in reversed(keys):
            out.sort(key=key, reverse=desc)
        return out
    return order
