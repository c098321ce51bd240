"""The team's handoff rules: which run on a record, and how far each finding has escalated.

Rules never raise and never read a clock: `now` comes from the caller, and `opened_at` (from
state) says since when a finding has been open, which decides how far it has escalated. Each
family of rules lives in its own module (`rules_fields`, `rules_owners`, `rules_decisions`);
this module is mapping's documented interface, so it re-exports the public names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from mapping.due import reach_hours
from mapping.escalation import working_hours
from mapping.finding import SEVERITIES, Context, Finding, Rule, fix_at, new_finding, severity_rank
from mapping.people import Directory
from mapping.record import HandoffRecord, PersonRef, Stage, Value
from mapping.rules_config import RulesConfig
from mapping.rules_decisions import decision_missing, expired, needs_sync, stale
from mapping.rules_fields import conflict, missing_field
from mapping.rules_owners import noisy, ownerless
from mapping.rules_seeds import (
    decision_rights,
    go_decider,
    inconclusive,
    review_cadence,
    separate_owners,
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

UNKNOWN_KEY = (
    "This {kind} names {keys}, which is not a Jira issue we can see. Fix the key in {where}."
)
UNLINKED = (
    "This {kind} links to no Jira issue or handoff. Put the issue key (like ABC-123) in {where}."
)
# Where each kind of item can name a key: only places that exist there (a pull request has
# a title and a branch, not properties; a page has properties).
_KEY_PLACES = {
    "pull": ("pull request", "its title or branch name"),
    "issue": ("issue", "its title"),
    "page": ("page", "one of its properties (like its Jira issue link)"),
}


def unlinked(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """A lone item whose kind should belong to a handoff."""
    if record.linked:
        return []
    at = fix_at(record)
    raw = record.sources[0].kind if record.sources else "item"
    kind, where = _KEY_PLACES.get(raw, (raw or "item", "its title"))
    text = UNLINKED.format(kind=kind, where=where)
    if record.unknown_keys:
        keys = ", ".join(record.unknown_keys)
        text = UNKNOWN_KEY.format(kind=kind, keys=keys, where=where)
    return [new_finding(record, "unlinked", "warning", "link", text, at)]


RULES: tuple[Rule, ...] = (
    missing_field,
    ownerless,
    conflict,
    expired,
    stale,
    decision_missing,
    needs_sync,
    noisy,
    decision_rights,
    separate_owners,
    go_decider,
    inconclusive,
    review_cadence,
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
    ahead = sorted(s.after_hours for s in cfg.ladder if s.after_hours > hours)
    due = reach_hours(opened or ctx.now, ahead[0], zone, cfg) if ahead else None
    level, notify = 0, []
    for index, step in enumerate(sorted(cfg.ladder, key=lambda s: s.after_hours)):
        if hours < step.after_hours:
            break
        level = index
        for k in targets[step.to]:  # two sources naming one owner notify them once
            if k not in notify:
                notify.append(k)
    return replace(finding, notify=tuple(notify), escalation=level, due=due, zone=zone.key)


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
