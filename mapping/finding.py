"""A finding and what every rule shares: its context, where to fix, how values compare."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from mapping.fields import DEFAULT_NAMES
from mapping.people import Directory
from mapping.record import HandoffRecord, Money, PersonRef, Provenance, Value
from mapping.rules_config import RulesConfig

__all__ = [
    "SEVERITIES",
    "Context",
    "Finding",
    "Rule",
    "Severity",
    "comparable",
    "display",
    "field_label",
    "fix_at",
    "item_name",
    "new_finding",
    "severity_rank",
]

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")  # most severe first


def severity_rank(severity: str) -> int:
    """Where a severity sorts, most severe first: the one order comments, report and the
    findings list share; a severity nobody knows sorts last."""
    ranks: tuple[str, ...] = SEVERITIES
    return ranks.index(severity) if severity in ranks else len(ranks)


@dataclass(frozen=True)
class Finding:
    """One problem with one record, and the item where a person should fix it."""

    code: str
    severity: Severity
    subject: str
    message: str
    record_key: str
    system: str
    item_id: str
    item_key: str
    url: str
    notify: tuple[str, ...] = ()
    escalation: int = 0
    # By when: the moment it climbs the next step of the escalation ladder (None: it is at
    # the top), and the owner's time zone to show it in. Derived from when it was first
    # seen, so they do not take part in comparing findings (the state does not keep them).
    due: datetime | None = field(default=None, compare=False)
    zone: str = field(default="", compare=False)

    @property
    def id(self) -> str:
        return f"{self.record_key}:{self.code}:{self.subject}"


@dataclass(frozen=True)
class Context:
    """What every rule may read besides the record."""

    cfg: RulesConfig
    directory: Directory
    now: datetime


Rule = Callable[[HandoffRecord, Context], list[Finding]]


def field_label(name: str) -> str:
    return (DEFAULT_NAMES.get(name) or [name.replace("_", " ")])[0]


def fix_at(record: HandoffRecord, values: tuple[Value, ...] = ()) -> Provenance:
    """Where to fix: the first value's item, else the record's first item (Jira first)."""
    if values:
        return values[0].source
    src = record.sources[0] if record.sources else None
    if src is None:
        return Provenance("", "", record.key, "", "")
    return Provenance(src.system, src.item_id, src.item_key, "", src.url)


def item_name(source: Provenance) -> str:
    return source.item_key or source.item_id or "the linked item"


def new_finding(
    record: HandoffRecord,
    code: str,
    severity: Severity,
    subject: str,
    message: str,
    at: Provenance,
) -> Finding:
    return Finding(
        code, severity, subject, message, record.key, at.system, at.item_id, at.item_key, at.url
    )


def comparable(value: Any) -> Any:
    if isinstance(value, PersonRef):
        return ("person", value.key) if value.key else ("handle", value.system, value.handle)
    if isinstance(value, str):
        return " ".join(value.split()).casefold()
    if isinstance(value, Money):
        return (value.amount, value.currency.upper())
    return value


def display(value: Any) -> str:
    if isinstance(value, PersonRef):
        return value.label
    if isinstance(value, Money):
        return f"{value.amount:,.0f} {value.currency}".strip()
    return str(value)
