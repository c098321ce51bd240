"""`[rules]` as config: which fields each stage requires, and the thresholds rules use."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mapping.escalation import EscalationConfig
from mapping.record import FIELD_KINDS, ROLE_FIELDS, Stage

__all__ = ["RulesConfig"]


def _default_required() -> dict[Stage, list[str]]:
    # The seeds' brief and owner map are due before run; the run ticket's triage metadata
    # (speed, cost, risk) from run on.
    return {
        Stage.DESIGN: ["hypothesis", "primary_metric", "outcome_owner"],
        Stage.PRE_RUN: [
            "guardrail_metrics",
            "cost_cap",
            "expected_duration",
            "sample_size",
            "rollout_triggers",
            "rollback_triggers",
            "instrumentation",
            "engineering_owner",
            "monitoring_owner",
            "alert_window",
            "cost_cap_approver",
            "definition_of_done",
            "feature_flag",
            "test_rollout_plan",
            "expiry",
        ],
        Stage.RUN: ["triage_speed", "triage_cost", "triage_risk"],
    }


class RulesConfig(BaseModel):
    """`[rules]`: what is required when, and the thresholds the rules use."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Fields listed at a stage are required from that stage on (closed records are left alone).
    required: dict[Stage, list[str]] = Field(default_factory=_default_required)
    conflict_fields: list[str] = Field(
        default_factory=lambda: [*ROLE_FIELDS, "primary_metric", "cost_cap", "expiry"]
    )
    stale_days: int = Field(default=7, ge=1)
    noisy_threshold: int = Field(default=8, ge=1)
    cost_cap_tier: float = Field(default=10_000, ge=0)  # above it, the approver must sign off
    sync_cost_cap: float = Field(default=50_000, ge=0)  # at or above it, a pre-run sync
    sync_risk_values: list[str] = Field(default_factory=lambda: ["high", "critical"])
    no_rollback_words: list[str] = Field(
        default_factory=lambda: ["none", "n/a", "na", "tbd", "no rollback", "-", "?"]
    )
    cross_domain_words: list[str] = Field(
        default_factory=lambda: ["cross-domain", "all regions", "all platforms", "all markets"]
    )
    escalation: EscalationConfig = Field(default_factory=lambda: EscalationConfig())
    # The seeds' checks (mapping.rules_seeds).
    expiry_from: Stage = Stage.PRE_RUN  # an expiry or review date is required from this stage
    # Function (the Jira project of the record's key, like "EXP") -> its cost-cap tier;
    # functions not listed use `cost_cap_tier`.
    cost_cap_tiers: dict[str, float] = Field(default_factory=dict)
    decision_rights_people: bool = True  # "decide" and "approve" must include a person
    separate_owners: bool = True  # one person as outcome and engineering owner is flagged
    separate_owners_from: Stage = Stage.PRE_RUN
    inconclusive_days: int = Field(default=14, ge=0)  # in analysis without activity; 0: off
    review_cadence_days: int = Field(default=0, ge=0)  # running: next review within; 0: off

    @field_validator("conflict_fields")
    @classmethod
    def _fields(cls, value: list[str]) -> list[str]:
        return _known(value)

    @field_validator("required")
    @classmethod
    def _required(cls, value: dict[Stage, list[str]]) -> dict[Stage, list[str]]:
        for names in value.values():
            _known(names)
        return value

    @field_validator("cost_cap_tiers")
    @classmethod
    def _tiers(cls, value: dict[str, float]) -> dict[str, float]:
        for name, tier in value.items():
            if tier < 0:
                raise ValueError(f"the cost-cap tier of {name!r} is negative ({tier})")
        return {k.upper(): v for k, v in value.items()}

    def required_at(self, stage: Stage) -> list[str]:
        """Every field required at `stage`, in config order."""
        found: list[str] = []
        for at, names in sorted(self.required.items(), key=lambda kv: kv[0].order):
            if stage.reached(at):
                found += [n for n in names if n not in found]
        if stage.reached(self.expiry_from) and "expiry" not in found:
            found.append("expiry")
        return found

    def tier_for(self, key: str) -> float:
        """The cost-cap tier of the function (Jira project) a record key belongs to."""
        project = key.rsplit("-", 1)[0].upper() if "-" in key else ""
        return self.cost_cap_tiers.get(project, self.cost_cap_tier)


def _known(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in FIELD_KINDS]
    if unknown:
        raise ValueError(f"unknown record field {unknown[0]!r}")
    return names
