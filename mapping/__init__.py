"""The pure core: the handoff record, field maps, linking, people and rules. No I/O, no clock."""

from mapping.escalation import EscalationConfig, LadderStep, working_hours
from mapping.fields import FieldMaps, GithubMap, JiraMap, NotionMap
from mapping.link import LinkConfig, build_records, item_values, link
from mapping.people import Directory, Person, PersonConfig
from mapping.record import (
    FIELD_KINDS,
    RECORD_FIELDS,
    ROLE_FIELDS,
    ChecklistItem,
    Decision,
    HandoffRecord,
    Money,
    PersonRef,
    Provenance,
    SourceRef,
    Stage,
    Value,
)
from mapping.rules import CODES, Finding, RulesConfig, evaluate

__all__ = [
    "CODES",
    "FIELD_KINDS",
    "RECORD_FIELDS",
    "ROLE_FIELDS",
    "ChecklistItem",
    "Decision",
    "Directory",
    "EscalationConfig",
    "FieldMaps",
    "Finding",
    "GithubMap",
    "HandoffRecord",
    "JiraMap",
    "LadderStep",
    "LinkConfig",
    "Money",
    "NotionMap",
    "Person",
    "PersonConfig",
    "PersonRef",
    "Provenance",
    "RulesConfig",
    "SourceRef",
    "Stage",
    "Value",
    "build_records",
    "evaluate",
    "item_values",
    "link",
    "working_hours",
]
