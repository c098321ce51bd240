"""The team's handoff rules: each a plain function from a record to findings.

Rules never raise and never read a clock: `now` comes from the caller, and `opened_at` (from
state) says since when a finding has been open, which decides how far it has escalated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mapping.escalation import EscalationConfig, working_hours
from mapping.fields import DEFAULT_NAMES
from mapping.people import Directory
from mapping.record import (
    FIELD_KINDS,
    LIST_FIELDS,
    ROLE_FIELDS,
    HandoffRecord,
    Money,
    PersonRef,
    Provenance,
    Stage,
    Value,
)

__all__ = ["CODES", "SEVERITIES", "Finding", "RulesConfig", "evaluate", "severity_rank"]

CODES = (
    "missing-field",
    "ownerless",
    "conflict",
    "expired",
    "stale",
    "decision-missing",
    "needs-sync",
    "noisy",
    "unlinked",
)
Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")  # most severe first


def severity_rank(severity: str) -> int:
    """Where a severity sorts, most severe first: the one order comments, report and the
    findings list share; a severity nobody knows sorts last."""
    ranks: tuple[str, ...] = SEVERITIES
    return ranks.index(severity) if severity in ranks else len(ranks)


# What people read. Placeholders are filled with record values, unescaped: renderers escape.
MISSING = "{label} is missing. From the {stage} stage on, the handoff needs it. Add it in {item}."
OWNER_NONE = "Nobody is named as {label}. Name one person in {item}."
OWNER_GROUP = "{label} is {who}, a group or bot, not a person. Name one person in {item}."
OWNER_UNKNOWN = "{label} {who} is not in the people directory. Check the name in {item}."
OWNER_INACTIVE = "{label} {who} has an inactive account. Name an active owner in {item}."
CONFLICT = "The linked items disagree on {label}: {values}. Settle on one value."
EXPIRED = "The expiry or review date {when} has passed. Review the handoff or set a new date."
STALE = "Running with no activity for {days} days (last on {last}). Post an update."
NO_DECISION = "Entering run with no go/no-go decision recorded. Record one in {item}."
NO_SIGNOFF = (
    "The cost cap {cap} is above {tier} and has no sign-off from the cost-cap approver."
    " Record their go decision in {item}."
)
UNVERIFIED = "Instrumentation is not verified for a running experiment. Verify it in {item}."
SYNC_COST = "The cost cap {cap} is high: hold a pre-run sync before launch."
SYNC_RISK = "Risk is marked {risk}: hold a pre-run sync before launch."
SYNC_ROLLBACK = "The rollback trigger says {text!r}: with no rollback path, hold a pre-run sync."
SYNC_CROSS = "The rollout crosses domains ({text}): hold a pre-run sync."
NOISY = "{count} people are informed; the single-threaded owner gets lost. Trim the list."
UNKNOWN_KEY = (
    "This {kind} names {keys}, which is not a Jira issue we can see. Fix the key in its title,"
    " branch or property (like ABC-123)."
)
UNLINKED = (
    "This {kind} links to no Jira issue or handoff. Put the issue key (like ABC-123) in its"
    " title or a property."
)


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

    def required_at(self, stage: Stage) -> list[str]:
        """Every field required at `stage`, in config order."""
        found: list[str] = []
        for at, names in sorted(self.required.items(), key=lambda kv: kv[0].order):
            if stage.reached(at):
                found += [n for n in names if n not in found]
        return found


def _known(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in FIELD_KINDS]
    if unknown:
        raise ValueError(f"unknown record field {unknown[0]!r}")
    return names


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


def _label(name: str) -> str:
    return (DEFAULT_NAMES.get(name) or [name.replace("_", " ")])[0]


def _home(record: HandoffRecord, values: tuple[Value, ...] = ()) -> Provenance:
    """Where to fix: the first value's item, else the record's first item (Jira first)."""
    if values:
        return values[0].source
    src = record.sources[0] if record.sources else None
    if src is None:
        return Provenance("", "", record.key, "", "")
    return Provenance(src.system, src.item_id, src.item_key, "", src.url)


def _where(source: Provenance) -> str:
    return source.item_key or source.item_id or "the linked item"


def _finding(
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


def missing_field(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """A required field is empty in every linked item (roles are `ownerless`'s job)."""
    severity: Severity = "error" if record.stage.reached(Stage.RUN) else "warning"
    found = []
    for name in ctx.cfg.required_at(record.stage):
        if name in ROLE_FIELDS or record.values(name):
            continue
        at = _home(record)
        text = MISSING.format(label=_label(name), stage=record.stage.value, item=_where(at))
        found.append(_finding(record, "missing-field", severity, name, text, at))
    return found


def _who(ref: PersonRef) -> str:
    return ref.label


def ownerless(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """A role required now has no owner, or a group, bot, unknown or inactive account."""
    required = set(ctx.cfg.required_at(record.stage))
    found = []
    for role in ROLE_FIELDS:
        if role not in required:
            continue
        values = record.values(role)
        label = _label(role)
        refs = [(v, v.value) for v in values if isinstance(v.value, PersonRef)]
        text = ""
        at = _home(record, values)
        if not refs:
            text = OWNER_NONE.format(label=label, item=_where(at))
        for value, ref in refs:
            person = ctx.directory.get(ref.key) if ref.key else None
            if ref.kind != "person":
                text = OWNER_GROUP.format(label=label, who=_who(ref), item=_where(value.source))
            elif person is None:
                text = OWNER_UNKNOWN.format(label=label, who=_who(ref), item=_where(value.source))
            elif not person.active:
                text = OWNER_INACTIVE.format(label=label, who=_who(ref), item=_where(value.source))
            if text:
                at = value.source
                break
        if text:
            found.append(_finding(record, "ownerless", "error", role, text, at))
    return found


def _norm(value: Any) -> Any:
    if isinstance(value, PersonRef):
        return ("person", value.key) if value.key else ("handle", value.system, value.handle)
    if isinstance(value, str):
        return " ".join(value.split()).casefold()
    if isinstance(value, Money):
        return (value.amount, value.currency.upper())
    return value


def _show(value: Any) -> str:
    if isinstance(value, PersonRef):
        return value.label
    if isinstance(value, Money):
        return f"{value.amount:,.0f} {value.currency}".strip()
    return str(value)


def conflict(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """Linked items give different values for a field that must have one."""
    found = []
    for name in ctx.cfg.conflict_fields:
        if name in LIST_FIELDS:
            continue
        values = record.values(name)
        distinct: dict[Any, Value] = {}
        for value in values:
            distinct.setdefault(_norm(value.value), value)
        if len(distinct) < 2:
            continue
        shown = "; ".join(
            f"{_show(v.value)} ({_where(v.source)})" for v in list(distinct.values())[:5]
        )
        at = list(distinct.values())[1].source
        text = CONFLICT.format(label=_label(name), values=shown)
        found.append(_finding(record, "conflict", "warning", name, text, at))
    return found


def expired(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """The expiry or review date has passed."""
    # A datetime is also a date, but the two do not compare: reduce every value to its day.
    dates = [
        (v.value.date() if isinstance(v.value, datetime) else v.value, v)
        for v in record.expiry
        if isinstance(v.value, date)
    ]
    if not dates:
        return []
    when, value = min(dates, key=lambda d: d[0])
    if when >= ctx.now.astimezone(UTC).date():
        return []
    text = EXPIRED.format(when=when.isoformat())
    return [_finding(record, "expired", "error", "expiry", text, value.source)]


def stale(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """Running with no activity on any linked item for `stale_days`."""
    if record.stage != Stage.RUN:
        return []
    stamps = [v for v in record.last_activity if isinstance(v.value, datetime)]
    if not stamps:
        return []
    last = max(stamps, key=lambda v: v.value)
    days = (ctx.now - last.value).days
    if days < ctx.cfg.stale_days:
        return []
    text = STALE.format(days=days, last=last.value.date().isoformat())
    return [_finding(record, "stale", "warning", "last_activity", text, _home(record))]


def _decisions(record: HandoffRecord) -> list[Any]:
    return [v.value for v in record.decision_log if hasattr(v.value, "kind")]


def decision_missing(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """No go/no-go entering run; a cost cap above the tier with no approver sign-off;
    instrumentation not verified while running."""
    found = []
    decisions = _decisions(record)
    at = _home(record, record.decision_log)
    if record.stage.reached(Stage.RUN):
        if not any(d.kind in ("go", "no-go") for d in decisions):
            text = NO_DECISION.format(item=_where(at))
            found.append(_finding(record, "decision-missing", "error", "go/no-go", text, at))
        flags = [v.value for v in record.instrumentation_verified if isinstance(v.value, bool)]
        if not flags or not all(flags):
            where = _home(record, record.instrumentation_verified)
            text = UNVERIFIED.format(item=_where(where))
            found.append(
                _finding(record, "decision-missing", "error", "instrumentation", text, where)
            )
    caps = [v.value for v in record.cost_cap if isinstance(v.value, Money)]
    top = max((c.amount for c in caps), default=0.0)
    if record.stage.reached(Stage.PRE_RUN) and top > ctx.cfg.cost_cap_tier:
        approvers = {_norm(v.value) for v in record.cost_cap_approver}
        signed = any(
            d.kind == "go" and d.who is not None and _norm(d.who) in approvers for d in decisions
        )
        if not signed:
            text = NO_SIGNOFF.format(
                cap=f"{top:,.0f}", tier=f"{ctx.cfg.cost_cap_tier:,.0f}", item=_where(at)
            )
            found.append(
                _finding(record, "decision-missing", "error", "cost-cap sign-off", text, at)
            )
    return found


def _says(values: tuple[Value, ...], words: list[str], exact: bool) -> str:
    for value in values:
        text = " ".join(str(value.value).split()).casefold()
        for word in words:
            word = word.casefold()
            if (exact and text.strip(" .") == word) or (
                not exact and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text)
            ):
                return str(value.value)
    return ""


def needs_sync(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """Triage signals that call for a pre-run sync, until a go decision shows it happened."""
    if record.stage.reached(Stage.RUN) or any(d.kind == "go" for d in _decisions(record)):
        return []
    found = []
    caps = [v for v in record.cost_cap if isinstance(v.value, Money)]
    high = [v for v in caps if v.value.amount >= ctx.cfg.sync_cost_cap]
    if high:
        text = SYNC_COST.format(cap=_show(high[0].value))
        found.append(_finding(record, "needs-sync", "warning", "cost cap", text, high[0].source))
    risk = _says(record.triage_risk, ctx.cfg.sync_risk_values, exact=True)
    if risk:
        at = _home(record, record.triage_risk)
        found.append(
            _finding(record, "needs-sync", "warning", "risk", SYNC_RISK.format(risk=risk), at)
        )
    none = _says(record.rollback_triggers, ctx.cfg.no_rollback_words, exact=True)
    if none:
        at = _home(record, record.rollback_triggers)
        text = SYNC_ROLLBACK.format(text=none)
        found.append(_finding(record, "needs-sync", "warning", "rollback path", text, at))
    plans = record.rollout_triggers + record.test_rollout_plan + record.concurrent_changes
    cross = _says(plans, ctx.cfg.cross_domain_words, exact=False)
    if cross:
        at = _home(record, plans)
        text = SYNC_CROSS.format(text=cross[:200])
        found.append(_finding(record, "needs-sync", "warning", "cross-domain rollout", text, at))
    return found


def noisy(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """An informed list so long that the owner is lost in it."""
    people = {_norm(v.value) for v in record.informed}
    if len(people) <= ctx.cfg.noisy_threshold:
        return []
    text = NOISY.format(count=len(people))
    return [_finding(record, "noisy", "info", "informed", text, _home(record, record.informed))]


def unlinked(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """A lone item whose kind should belong to a handoff."""
    if record.linked:
        return []
    at = _home(record)
    kind = record.sources[0].kind if record.sources else "item"
    text = UNLINKED.format(kind=kind)
    if record.unknown_keys:
        text = UNKNOWN_KEY.format(kind=kind, keys=", ".join(record.unknown_keys))
    return [_finding(record, "unlinked", "warning", "link", text, at)]


RULES: tuple[Rule, ...] = (
    missing_field,
    ownerless,
    conflict,
    expired,
    stale,
    decision_missing,
    needs_sync,
    noisy,
)


def _keys(values: tuple[Value, ...]) -> list[str]:
    return [v.value.key for v in values if isinstance(v.value, PersonRef) and v.value.key]


def _escalate(
    finding: Finding, record: HandoffRecord, ctx: Context, opened: datetime | None
) -> Finding:
    cfg = ctx.cfg.escalation
    owners = _keys(record.outcome_owner) or _keys(record.engineering_owner)
    targets = {"owner": owners, "approver": _keys(record.cost_cap_approver), "lead": cfg.leads}
    person = ctx.directory.get(owners[0]) if owners else None
    zone = cfg.zone(person.time_zone if person else "")
    hours = working_hours(opened, ctx.now, zone, cfg) if opened else 0.0
    level, notify = 0, []
    for index, step in enumerate(sorted(cfg.ladder, key=lambda s: s.after_hours)):
        if hours < step.after_hours:
            break
        level = index
        for k in targets[step.to]:  # two sources naming one owner notify them once
            if k not in notify:
                notify.append(k)
    return replace(finding, notify=tuple(notify), escalation=level)


def evaluate(
    record: HandoffRecord,
    cfg: RulesConfig,
    directory: Directory,
    now: datetime,
    opened_at: Mapping[str, datetime] | None = None,
) -> list[Finding]:
    """Every finding for one record, sorted by severity, code and subject."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    ctx = Context(cfg, directory, now)
    if record.stage == Stage.CLOSED:
        return []
    rules: tuple[Rule, ...] = (unlinked,) if not record.linked else RULES
    findings = [f for rule in rules for f in rule(record, ctx)]
    opened = opened_at or {}
    result = []
    for finding in findings:
        first = opened.get(finding.id)
        if first is not None and first.tzinfo is None:
            first = first.replace(tzinfo=UTC)
        if first is not None and first > now + timedelta(days=1):
            first = now  # a clock skewed into the future is not an old finding
        result.append(_escalate(finding, record, ctx, first))
    return sorted(result, key=lambda f: (severity_rank(f.severity), f.code, f.subject))
