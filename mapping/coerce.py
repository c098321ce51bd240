"""Raw source values to the kinds a record field holds (text, money, date, people, ...).

Every function takes whatever a payload held (None, str, number, dict, list, a Jira option, a
Notion property) and returns a list: empty when nothing usable is there. Nothing here raises on
odd input; a value that cannot be read is simply absent, and the rules report it as missing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, Literal

from mapping.record import ChecklistItem, Decision, Money, PersonRef, Stage
from mapping.text import adf_to_text, task_items

__all__ = [
    "convert",
    "to_checklist",
    "to_datetime",
    "to_decisions",
    "to_flag",
    "to_money",
    "to_people",
    "to_text",
    "to_texts",
]

_MAX_DEPTH = 16
_CURRENCY_SIGNS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_MONEY = re.compile(
    r"(?P<pre>[$€£¥]|\b[A-Z]{3}\b)?\s*(?P<num>\d[\d,\s]*(?:\.\d+)?)\s*(?P<mult>[kKmM]\b)?"
    r"\s*(?P<post>\b[A-Z]{3}\b|[$€£¥])?"
)
_TRUE = {"true", "yes", "y", "done", "verified", "x", "[x]", "1", "checked", "✅", "ok"}
_FALSE = {"false", "no", "n", "not verified", "todo", "[ ]", "0", "unchecked", "pending"}
_HANDLE_SPLIT = re.compile(r"[,;\n]+|\s+(?=@)")
_MENTION = re.compile(r"\[~(?:accountid:)?([^\]]+)\]")
_DECISION = re.compile(r"\b(no[- ]go|go|pause[ds]?|roll(?:ed)?[- ]?back)\b", re.IGNORECASE)
_DECISION_KINDS = {"no-g": "no-go", "no g": "no-go", "go": "go", "paus": "pause"}
_ISO_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?))?")


def to_text(raw: Any, _depth: int = 0) -> str:
    """Any raw value as one line of plain text ("" when empty)."""
    if raw is None or _depth > _MAX_DEPTH:
        return ""
    if isinstance(raw, bool):
        return "yes" if raw else "no"
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, int | float):
        return f"{raw:g}" if isinstance(raw, float) else str(raw)
    if isinstance(raw, Mapping):
        if raw.get("type") == "doc":
            return adf_to_text(raw).strip()
        for key in ("value", "name", "displayName", "plain_text", "content", "title", "login"):
            if key in raw and raw[key] is not None:
                return to_text(raw[key], _depth + 1)
        return ""
    if isinstance(raw, list | tuple):
        parts = [to_text(x, _depth + 1) for x in raw]
        return ", ".join(p for p in parts if p)
    return ""


def to_texts(raw: Any) -> list[str]:
    """A list of short texts: a multi-select, a Jira array, or lines/commas in text."""
    if isinstance(raw, list | tuple):
        return [t for t in (to_text(x) for x in raw) if t]
    text = to_text(raw)
    parts = re.split(r"\n|,|;", text)
    return [p.strip().lstrip("-*• ").strip() for p in parts if p.strip().lstrip("-*• ").strip()]


def _amount(num: str, mult: str | None) -> float | None:
    try:
        value = float(re.sub(r"[,\s]", "", num))
    except ValueError:
        return None
    factor = {"k": 1e3, "m": 1e6}.get((mult or "").lower(), 1.0)
    return value * factor


def to_money(raw: Any, default_currency: str = "") -> list[Money]:
    """A cost cap from a number or text such as "$5k", "2,000 EUR" or "EUR 1.5m"."""
    if isinstance(raw, bool):
        return []
    if isinstance(raw, int | float):
        return [Money(float(raw), default_currency)] if raw == raw else []  # NaN is no cap
    text = to_text(raw)
    for match in _MONEY.finditer(text):
        amount = _amount(match.group("num"), match.group("mult"))
        if amount is None:
            continue
        sign = match.group("pre") or match.group("post") or ""
        currency = _CURRENCY_SIGNS.get(sign, sign) or default_currency
        return [Money(amount, currency)]
    return []


def to_datetime(raw: Any) -> list[datetime]:
    """A tz-aware datetime from ISO text ("2022-12-08T02:22:18.889-0800"); UTC if naive."""
    if isinstance(raw, datetime):
        return [raw if raw.tzinfo else raw.replace(tzinfo=UTC)]
    if isinstance(raw, Mapping):  # a Notion date property value: {"start": ..., "end": ...}
        return to_datetime(raw.get("start"))
    text = to_text(raw)
    if not text:
        return []
    # Jira writes offsets as -0800; fromisoformat wants -08:00 on 3.11.
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text.replace("Z", "+00:00"))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return []
    return [parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)]


def to_date(raw: Any) -> list[date]:
    """A calendar date (an expiry or review date) from a date or datetime value."""
    if isinstance(raw, datetime):
        return [raw.date()]
    if isinstance(raw, date):
        return [raw]
    if isinstance(raw, Mapping):
        return to_date(raw.get("end") or raw.get("start"))
    match = _ISO_DATE.search(to_text(raw))
    if not match:
        return []
    try:
        return [date.fromisoformat(match.group(1))]
    except ValueError:
        return []


def to_flag(raw: Any) -> list[bool]:
    """A yes/no from a checkbox, a select ("Verified"), or text ("yes", "[x]")."""
    if isinstance(raw, bool):
        return [raw]
    text = to_text(raw).lower().strip(" .")
    if text in _TRUE:
        return [True]
    if text in _FALSE:
        return [False]
    return []


def to_checklist(raw: Any) -> list[ChecklistItem]:
    """Checklist lines: task items keep their box; other lines count as not yet done."""
    if isinstance(raw, list | tuple):
        return [ChecklistItem(t, False) for t in to_texts(raw)]
    text = raw if isinstance(raw, str) else to_text(raw)
    tasks = task_items(text)
    if tasks:
        return [ChecklistItem(t, done) for t, done in tasks]
    return [ChecklistItem(t, False) for t in to_texts(text)]


def _kind(bot: bool) -> Literal["person", "bot"]:
    return "bot" if bot else "person"


def _person_from_mapping(raw: Mapping[str, Any], system: str) -> PersonRef | None:
    if "accountId" in raw:  # Jira user
        return PersonRef(system, str(raw["accountId"]), to_text(raw.get("displayName")))
    if "groupId" in raw or ("name" in raw and "self" in raw and "/group" in str(raw["self"])):
        handle = to_text(raw.get("name") or raw.get("groupId"))
        return PersonRef(system, handle, handle, "group")
    if "slug" in raw or ("members_url" in raw) or (system == "github" and "login" not in raw):
        # A GitHub team; the recorded payloads hold teams with only an id.
        handle = to_text(raw.get("slug") or raw.get("name") or raw.get("id"))
        return PersonRef(system, handle, to_text(raw.get("name")), "group") if handle else None
    if "login" in raw:  # GitHub user or bot
        bot = raw.get("type") == "Bot"
        return PersonRef(system, str(raw["login"]), to_text(raw.get("name")), _kind(bot))
    if raw.get("object") == "user" or "person" in raw or raw.get("type") in ("person", "bot"):
        bot = raw.get("type") == "bot"
        person = raw.get("person")
        email = to_text(person.get("email")) if isinstance(person, Mapping) else ""
        handle = to_text(raw.get("id")) or email
        return PersonRef(system, handle, to_text(raw.get("name")), _kind(bot)) if handle else None
    if "displayName" in raw:  # jira-cli style: only a display name
        return PersonRef(system, to_text(raw["displayName"]), to_text(raw["displayName"]))
    if "emailAddress" in raw or "email" in raw:
        email = to_text(raw.get("emailAddress") or raw.get("email"))
        return PersonRef(system, email, to_text(raw.get("name"))) if email else None
    return None


def to_people(raw: Any, system: str, _depth: int = 0) -> list[PersonRef]:
    """People and groups named by a user object, a list of them, or handles in text."""
    if raw is None or _depth > _MAX_DEPTH:
        return []
    if isinstance(raw, Mapping):
        if "watchers" in raw and isinstance(raw["watchers"], list):  # Jira `watches` expanded
            return to_people(raw["watchers"], system, _depth + 1)
        if raw.get("type") == "doc":
            return to_people(adf_to_text(raw), system, _depth + 1)
        ref = _person_from_mapping(raw, system)
        return [ref] if ref else []
    if isinstance(raw, list | tuple):
        return [p for x in raw for p in to_people(x, system, _depth + 1)]
    text = to_text(raw)
    found = [PersonRef(system, m) for m in _MENTION.findall(text)]
    text = _MENTION.sub("", text)
    for part in _HANDLE_SPLIT.split(text):
        handle = part.strip().strip(".").lstrip("-*• ").strip()
        if handle:
            found.append(PersonRef(system, handle.removeprefix("@")))
    return found


def to_decisions(raw: Any, system: str) -> list[Decision]:
    """Decision-log lines such as "2025-03-02 go by @ana: guardrails green"."""
    lines = to_texts(raw) if isinstance(raw, list | tuple) else to_text(raw).splitlines()
    found = []
    for line in lines:
        match = _DECISION.search(line)
        if not match:
            continue
        word = match.group(1).lower().replace(" ", "-")
        kind = _DECISION_KINDS.get(word[:4], "rollback")
        who = next(iter(to_people(_who(line), system)), None)
        when = _when(line)
        found.append(Decision(kind, who, when, line.strip()))  # type: ignore[arg-type]
    return found


def _who(line: str) -> str:
    mention = _MENTION.search(line)
    if mention:
        return mention.group(0)
    at = re.search(r"@([\w.\-]+)", line)
    return at.group(1) if at else ""


def _when(line: str) -> datetime | date | None:
    match = _ISO_DATE.search(line)
    if not match:
        return None
    stamp = to_datetime(match.group(0).replace(" ", "T"))
    if match.group(2) and stamp:
        return stamp[0]
    days = to_date(match.group(1))
    return days[0] if days else None


def convert(kind: str, raw: Any, system: str, default_currency: str = "") -> list[Any]:
    """Raw value to a list of values of a record field's kind (see FIELD_KINDS)."""
    if kind == "text":
        text = raw if isinstance(raw, str) else to_text(raw)
        return [text.strip()] if text and text.strip() else []
    if kind == "texts":
        return to_texts(raw)
    if kind == "money":
        return to_money(raw, default_currency)
    if kind == "date":
        return to_date(raw)
    if kind == "datetime":
        return to_datetime(raw)
    if kind == "flag":
        return to_flag(raw)
    if kind == "checklist":
        return to_checklist(raw)
    if kind == "person":
        return to_people(raw, system)
    if kind == "people":
        return to_people(raw, system)
    if kind == "decision":
        return to_decisions(raw, system)
    if kind == "stage":
        stage = Stage.parse(to_text(raw))
        return [stage] if stage else []
    return []
