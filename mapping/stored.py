"""One item's extract (its field values and link tokens) as JSON text, and back, so a run can
store it when the item changes and fold records from it later without parsing the item's
payload again.

Pure. Provenance is not spelled out per value: the item gives system, id, key and url, and each
value keeps only its field name (`where`). `last_activity` is left out: the extractors add the
item's last activity, which moves without any content change, so it is added back from the
item. An extract that cannot be read back equal (a value of a kind this codec does not know,
or `last_activity` mapped from a field) is not stored: `encode` returns None and the caller
extracts again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from connectors.base import SourceItem
from mapping.coerce import to_datetime
from mapping.record import (
    ChecklistItem,
    Decision,
    Money,
    PersonRef,
    Provenance,
    Stage,
    Value,
)

__all__ = ["decode", "encode"]

Values = dict[str, tuple[Value, ...]]
Refs = tuple[list[str], list[str]]  # (tokens the item is, tokens it names): see mapping.link
_SKIP = "last_activity"  # moves with the item's edit time; see the module


class _Unknown(Exception):
    """A value this codec cannot spell."""


def _person(p: PersonRef) -> list[Any]:
    return [p.system, p.handle, p.name, p.kind, p.key]


def _when(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, date):
        return ["d", value.isoformat()]
    raise _Unknown


def _enc(value: Any) -> list[Any]:
    # Order matters: Stage is a str, bool an int, datetime a date.
    if isinstance(value, Stage):
        return ["g", value.value]
    if type(value) is str:
        return ["s", value]
    if type(value) is bool:
        return ["b", value]
    if isinstance(value, datetime | date):
        return _when(value)  # type: ignore[no-any-return]
    if isinstance(value, Money) and type(value.amount) is float:
        return ["m", value.amount, value.currency]
    if isinstance(value, ChecklistItem):
        return ["c", value.text, value.done]
    if isinstance(value, PersonRef):
        return ["p", *_person(value)]
    if isinstance(value, Decision):
        who = None if value.who is None else _person(value.who)
        return ["x", value.kind, who, _when(value.when), value.note]
    raise _Unknown


def _activity(item: SourceItem) -> Value:
    """The `last_activity` value every extractor adds last (`Collector.result`)."""
    when = to_datetime(item.activity or item.updated)[0]
    return Value(when, Provenance(item.system, item.id, item.key, "updated", item.url))


def encode(item: SourceItem, values: Mapping[str, tuple[Value, ...]], refs: Refs) -> str | None:
    """`item`'s values (as `mapping.link.item_values` gives them) and link tokens as JSON
    text; None when they could not be read back equal."""
    if values.get(_SKIP) != (_activity(item),):
        return None
    out: list[Any] = []
    try:
        for name, found in values.items():
            if name != _SKIP:
                out.append([name, [[v.source.field, *_enc(v.value)] for v in found]])
    except _Unknown:
        return None
    return json.dumps([refs[0], refs[1], out], separators=(",", ":"))


def _dt(tagged: list[Any] | None) -> datetime | date | None:
    if tagged is None:
        return None
    tag, text = tagged
    return datetime.fromisoformat(text) if tag == "t" else date.fromisoformat(text)


def _ref(row: list[Any]) -> PersonRef:
    return PersonRef(row[0], row[1], row[2], row[3], row[4])


def _dec(row: list[Any]) -> Any:
    tag = row[0]
    if tag == "s" or tag == "b":
        return row[1]
    if tag == "g":
        return Stage(row[1])
    if tag in ("t", "d"):
        return _dt(row)
    if tag == "m":
        return Money(row[1], row[2])
    if tag == "c":
        return ChecklistItem(row[1], row[2])
    if tag == "p":
        return _ref(row[1:])
    if tag == "x":
        return Decision(row[1], None if row[2] is None else _ref(row[2]), _dt(row[3]), row[4])
    raise ValueError(f"unknown stored value kind {tag!r}")


def decode(text: str, item: SourceItem) -> tuple[Values, Refs]:
    """What `encode` spelled, for `item` (its `last_activity` added back from it)."""
    owns, named, fields = json.loads(text)
    out: Values = {}
    sources: dict[str, Provenance] = {}
    for name, rows in fields:
        values = []
        for row in rows:
            where = row[0]
            source = sources.get(where)
            if source is None:
                source = Provenance(item.system, item.id, item.key, where, item.url)
                sources[where] = source
            values.append(Value(_dec(row[1:]), source))
        out[name] = tuple(values)
    out[_SKIP] = (_activity(item),)
    return out, (owns, named)
