"""Per-system field maps: which Jira field, GitHub body section or Notion property feeds which
record field. Data only, loaded from config (`[fields.jira]` ...), with defaults that work on a
fresh Jira, GitHub and Notion that follow the seeds' brief.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mapping.record import FIELD_KINDS, Stage

__all__ = [
    "DEFAULT_LABEL_PREFIXES",
    "DEFAULT_NAMES",
    "FieldMaps",
    "GithubMap",
    "JiraMap",
    "NotionMap",
]

# The human name of each record field: a Jira custom field's display name, a Notion property,
# a heading in a description or PR body. One list so the three systems agree by default.
DEFAULT_NAMES: dict[str, list[str]] = {
    "hypothesis": ["Hypothesis"],
    "primary_metric": ["Primary metric"],
    "guardrail_metrics": ["Guardrail metrics", "Guardrails"],
    "cost_cap": ["Cost cap"],
    "expected_duration": ["Expected duration", "Run length"],
    "sample_size": ["Sample size", "Power check"],
    "rollout_triggers": ["Rollout triggers", "Rollout trigger"],
    "rollback_triggers": ["Rollback triggers", "Rollback trigger"],
    "instrumentation": ["Instrumentation", "Instrumentation checklist"],
    "instrumentation_verified": ["Instrumentation verified"],
    "concurrent_changes": ["Concurrent changes"],
    "outcome_owner": ["Outcome owner"],
    "engineering_owner": ["Engineering owner"],
    "monitoring_owner": ["Monitoring owner"],
    "alert_window": ["Alert window"],
    "cost_cap_approver": ["Cost cap approver"],
    "decide": ["Decides"],
    "input": ["Input"],
    "approve": ["Approvers"],
    "informed": ["Informed"],
    "definition_of_done": ["Definition of done"],
    "feature_flag": ["Feature flag"],
    "test_rollout_plan": ["Test rollout plan"],
    "decision_log": ["Decision log", "Decisions"],
    "expiry": ["Expiry", "Review date"],
    "triage_speed": ["Speed"],
    "triage_cost": ["Cost"],
    "triage_risk": ["Risk"],
}
# Labels such as `risk:high` set a field; `stage:run` sets the stage.
DEFAULT_LABEL_PREFIXES: dict[str, str] = {
    "risk:": "triage_risk",
    "speed:": "triage_speed",
    "cost:": "triage_cost",
    "stage:": "status",
}
DEFAULT_STATUS_STAGES: dict[str, Stage] = {
    "backlog": Stage.DESIGN,
    "to do": Stage.DESIGN,
    "open": Stage.DESIGN,
    "design": Stage.DESIGN,
    "not started": Stage.DESIGN,
    "ready": Stage.PRE_RUN,
    "selected for development": Stage.PRE_RUN,
    "pre-run": Stage.PRE_RUN,
    "in progress": Stage.RUN,
    "running": Stage.RUN,
    "run": Stage.RUN,
    "in review": Stage.ANALYSIS,
    "analysis": Stage.ANALYSIS,
    "analysing": Stage.ANALYSIS,
    "done": Stage.CLOSED,
    "closed": Stage.CLOSED,
    "won't do": Stage.CLOSED,
}
# Jira's status categories, used when a status name is not in the map.
JIRA_CATEGORY_STAGES: dict[str, Stage] = {
    "new": Stage.DESIGN,
    "indeterminate": Stage.RUN,
    "done": Stage.CLOSED,
}
# Jira fields that exist on every site; anything else is a custom field to resolve by name.
JIRA_STANDARD_FIELDS = frozenset(
    {
        "assignee",
        "reporter",
        "creator",
        "status",
        "labels",
        "duedate",
        "watchers",
        "watches",
        "summary",
        "description",
        "priority",
        "components",
        "fixVersions",
        "issuelinks",
        "updated",
        "created",
        "resolution",
        "environment",
    }
)


def _names(**standard: list[str]) -> dict[str, list[str]]:
    # Within one item the first name holding a value wins: a site's own field ("Outcome owner")
    # before the standard fallback (reporter) that exists everywhere.
    merged = {f: [*names, *standard.get(f, [])] for f, names in DEFAULT_NAMES.items()}
    return {**standard, **merged}


class _Map(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sections: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_NAMES))
    label_prefixes: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_LABEL_PREFIXES))
    status_stages: dict[str, Stage] = Field(default_factory=lambda: dict(DEFAULT_STATUS_STAGES))
    # record field -> task item texts (`- [x] Instrumentation verified` sets a flag)
    tasks: dict[str, list[str]] = Field(
        default_factory=lambda: {"instrumentation_verified": ["Instrumentation verified"]}
    )
    default_currency: str = ""

    @model_validator(mode="before")
    @classmethod
    def _over_defaults(cls, data: Any) -> Any:
        # A table in config changes only the keys it names; the other defaults stay.
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name, info in cls.model_fields.items():
            given = data.get(name)
            if isinstance(given, dict) and info.default_factory is not None:
                merged[name] = {**info.default_factory(), **given}  # type: ignore[call-arg]
        return merged

    @field_validator("sections", "tasks")
    @classmethod
    def _known_fields(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return _check_fields(value)

    @field_validator("label_prefixes")
    @classmethod
    def _known_label_fields(cls, value: dict[str, str]) -> dict[str, str]:
        _check_fields({v: [] for v in value.values()})
        return value

    @field_validator("status_stages")
    @classmethod
    def _fold_status(cls, value: dict[str, Stage]) -> dict[str, Stage]:
        return {k.strip().lower(): v for k, v in value.items()}

    def stage_for(self, status: str) -> Stage | None:
        """The stage a status name maps to (case-insensitive)."""
        return self.status_stages.get(status.strip().lower())


def _check_fields(value: dict[str, list[str]]) -> dict[str, list[str]]:
    unknown = sorted(set(value) - set(FIELD_KINDS))
    if unknown:
        known = ", ".join(sorted(FIELD_KINDS))
        raise ValueError(f"unknown record field {unknown[0]!r}; expected one of: {known}")
    return value


class JiraMap(_Map):
    """Jira: fields by id (standard) or display name (custom), and description headings."""

    fields: dict[str, list[str]] = Field(
        default_factory=lambda: _names(
            status=["status"],
            engineering_owner=["assignee"],
            outcome_owner=["reporter"],
            informed=["watchers"],
            expiry=["duedate"],
        )
    )
    description_field: str = "description"

    @field_validator("fields")
    @classmethod
    def _known(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return _check_fields(value)

    def custom_field_names(self) -> list[str]:
        """Display names the connector must resolve through /field and request."""
        names = {
            n
            for ns in self.fields.values()
            for n in ns
            if n not in JIRA_STANDARD_FIELDS and not n.startswith("customfield_")
        }
        return sorted(names)

    def field_ids(self) -> list[str]:
        """Standard and raw custom field ids to request besides the custom names."""
        ids = {n for ns in self.fields.values() for n in ns if n not in self.custom_field_names()}
        return sorted(ids | {self.description_field, "summary", "labels", "updated"})


class GithubMap(_Map):
    """GitHub: Markdown body sections, task items, labels and the pull's people fields."""

    # record field -> keys of the pull JSON holding users or teams
    people: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "engineering_owner": ["assignees", "assignee"],
            "approve": ["requested_reviewers", "requested_teams"],
        }
    )
    # "draft" | "open" | "merged" | "closed" -> stage; empty: a PR's state says nothing
    state_stages: dict[str, Stage] = Field(default_factory=dict)

    @field_validator("people")
    @classmethod
    def _known(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return _check_fields(value)


class NotionMap(_Map):
    """Notion: page properties by name, and headings in the page body when configured."""

    properties: dict[str, list[str]] = Field(
        default_factory=lambda: _names(status=["Status", "Stage"])
    )
    # Reading a body costs one request per page, so no body sections unless asked for.
    sections: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("properties")
    @classmethod
    def _known(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return _check_fields(value)

    def needs_body(self) -> bool:
        """True when some field lives in the page body (the connector must add `_body`)."""
        return any(self.sections.values())


class FieldMaps(BaseModel):
    """The three maps together: `[fields.jira]`, `[fields.github]`, `[fields.notion]`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    jira: JiraMap = Field(default_factory=JiraMap)
    github: GithubMap = Field(default_factory=GithubMap)
    notion: NotionMap = Field(default_factory=NotionMap)
