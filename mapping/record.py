"""The handoff record: one piece of work, every field with its value and where it came from.

Each field holds a tuple of `Value`s. Linked sources may disagree; the record keeps every value
with its provenance so a finding can say which item to fix, and never picks a winner itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

__all__ = [
    "FIELD_KINDS",
    "LIST_FIELDS",
    "PERSON_FIELDS",
    "RECORD_FIELDS",
    "ROLE_FIELDS",
    "ChecklistItem",
    "Decision",
    "HandoffRecord",
    "Money",
    "PersonRef",
    "Provenance",
    "SourceRef",
    "Stage",
    "Value",
]


class Stage(StrEnum):
    """Where a piece of work is in its life; `order` compares stages."""

    DESIGN = "design"
    PRE_RUN = "pre-run"
    RUN = "run"
    ANALYSIS = "analysis"
    CLOSED = "closed"

    @property
    def order(self) -> int:
        return _STAGE_ORDER[self]

    def reached(self, other: Stage) -> bool:
        """True when this stage is `other` or later."""
        return self.order >= other.order

    @classmethod
    def parse(cls, text: object) -> Stage | None:
        """Read "pre-run", "Pre run", "PRE_RUN"; None when it names no stage."""
        if isinstance(text, Stage):
            return text
        if not isinstance(text, str):
            return None
        norm = text.strip().lower().replace("_", "-").replace(" ", "-")
        return _STAGE_BY_NAME.get(norm)


_STAGE_ORDER = {stage: i for i, stage in enumerate(Stage)}
_STAGE_BY_NAME = {stage.value: stage for stage in Stage} | {"prerun": Stage.PRE_RUN}


@dataclass(frozen=True)
class Provenance:
    """Where a value was read: which system, item and field (a heading, a property, a label)."""

    system: str
    item_id: str
    item_key: str
    field: str
    url: str = ""


@dataclass(frozen=True)
class Value:
    """One value of one field, and where it came from."""

    value: Any
    source: Provenance


@dataclass(frozen=True)
class SourceRef:
    """A link from a record to one source item."""

    system: str
    item_id: str
    item_key: str
    url: str
    kind: str


@dataclass(frozen=True)
class PersonRef:
    """Someone named in a role: a directory person `key` once resolved, else the raw handle.

    `kind` is what the source itself says ("group" for a GitHub team, "bot" for a Notion bot);
    the directory may still say a "person" handle is a group.
    """

    system: str
    handle: str
    name: str = ""
    kind: Literal["person", "group", "bot"] = "person"
    key: str = ""

    @property
    def resolved(self) -> bool:
        return bool(self.key)

    @property
    def label(self) -> str:
        """How to name this reference to a person."""
        return self.name or self.handle


@dataclass(frozen=True)
class Money:
    """A cost cap: an amount in a currency ("" when the source gave none)."""

    amount: float
    currency: str = ""


@dataclass(frozen=True)
class ChecklistItem:
    """One line of an instrumentation checklist."""

    text: str
    done: bool


@dataclass(frozen=True)
class Decision:
    """A decision-log entry: go, no-go, pause or rollback, with who and when when known."""

    kind: Literal["go", "no-go", "pause", "rollback"]
    who: PersonRef | None = None
    when: datetime | date | None = None
    note: str = ""


Values = tuple[Value, ...]

# What each field holds; the extractors coerce raw source values to these kinds.
FIELD_KINDS: dict[str, str] = {
    "status": "stage",
    "hypothesis": "text",
    "primary_metric": "text",
    "guardrail_metrics": "texts",
    "cost_cap": "money",
    "expected_duration": "text",
    "sample_size": "text",
    "rollout_triggers": "text",
    "rollback_triggers": "text",
    "instrumentation": "checklist",
    "instrumentation_verified": "flag",
    "concurrent_changes": "text",
    "outcome_owner": "person",
    "engineering_owner": "person",
    "monitoring_owner": "person",
    "alert_window": "text",
    "cost_cap_approver": "person",
    "decide": "people",
    "input": "people",
    "approve": "people",
    "informed": "people",
    "definition_of_done": "text",
    "feature_flag": "text",
    "test_rollout_plan": "text",
    "decision_log": "decision",
    "expiry": "date",
    "triage_speed": "text",
    "triage_cost": "text",
    "triage_risk": "text",
    "last_activity": "datetime",
}
RECORD_FIELDS: tuple[str, ...] = tuple(FIELD_KINDS)
PERSON_FIELDS = frozenset(k for k, v in FIELD_KINDS.items() if v in ("person", "people"))
ROLE_FIELDS = ("outcome_owner", "engineering_owner", "monitoring_owner", "cost_cap_approver")
# Fields where each value is one element of a list, not a competing answer.
LIST_FIELDS = frozenset(
    k for k, v in FIELD_KINDS.items() if v in ("people", "texts", "checklist", "decision")
) | {"last_activity", "status"}


@dataclass(frozen=True)
class HandoffRecord:
    """One experiment or feature handoff, folded from every linked item."""

    key: str
    title: str
    stage: Stage
    sources: tuple[SourceRef, ...]
    linked: bool = True  # False: a lone item whose kind should have had a partner
    # Jira keys its items name that Jira (read in full) does not have: then `linked` is False.
    unknown_keys: tuple[str, ...] = ()
    status: Values = ()
    # the brief
    hypothesis: Values = ()
    primary_metric: Values = ()
    guardrail_metrics: Values = ()
    cost_cap: Values = ()
    expected_duration: Values = ()
    sample_size: Values = ()
    rollout_triggers: Values = ()
    rollback_triggers: Values = ()
    instrumentation: Values = ()
    instrumentation_verified: Values = ()
    concurrent_changes: Values = ()
    # the owner map
    outcome_owner: Values = ()
    engineering_owner: Values = ()
    monitoring_owner: Values = ()
    alert_window: Values = ()
    cost_cap_approver: Values = ()
    decide: Values = ()
    input: Values = ()
    approve: Values = ()
    informed: Values = ()
    # engineering acceptance
    definition_of_done: Values = ()
    feature_flag: Values = ()
    test_rollout_plan: Values = ()
    # decisions, dates, triage
    decision_log: Values = ()
    expiry: Values = ()
    triage_speed: Values = ()
    triage_cost: Values = ()
    triage_risk: Values = ()
    last_activity: Values = ()

    def values(self, name: str) -> Values:
        """The values of a record field by name; () for an unknown name."""
        if name not in FIELD_KINDS:
            return ()
        found: Values = getattr(self, name)
        return found

    def items(self) -> Iterator[tuple[str, Values]]:
        """Every record field with its values, in declaration order."""
        for f in fields(self):
            if f.name in FIELD_KINDS:
                yield f.name, getattr(self, f.name)
