"""The pure core: the handoff record, field maps, linking, people and rules. No I/O, no clock."""

from mapping.fields import FieldMaps, GithubMap, JiraMap, NotionMap
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

__all__ = [
    "FIELD_KINDS",
    "RECORD_FIELDS",
    "ROLE_FIELDS",
    "ChecklistItem",
    "Decision",
    "Directory",
    "FieldMaps",
    "GithubMap",
    "HandoffRecord",
    "JiraMap",
    "Money",
    "NotionMap",
    "Person",
    "PersonConfig",
    "PersonRef",
    "Provenance",
    "SourceRef",
    "Stage",
    "Value",
]
