"""The seeds' own checks: decision rights held by people, outcome ownership kept apart from
execution, a go decision that says who decided, analysis that does not drift into an
inconclusive result, and monitoring reviewed on a cadence.

Each is configurable in `[rules]` (see `RulesConfig`). Expiry from the design stage is
`expiry_from`, and cost-cap tiers per function are `cost_cap_tiers`: both act through the
existing rules (`missing_field`, `decision_missing`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from mapping.finding import (
    Context,
    Finding,
    comparable,
    field_label,
    fix_at,
    item_name,
    new_finding,
)
from mapping.record import Decision, HandoffRecord, PersonRef, Stage, Value

__all__ = ["decision_rights", "go_decider", "inconclusive", "review_cadence", "separate_owners"]

# What people read. Placeholders are filled with record values, unescaped: renderers escape.
RIGHTS = (
    "{label} lists only {who}: groups, bots or accounts that are not active people. Name at"
    " least one person who {verb} in {item}."
)
SAME_OWNER = (
    "{who} is both the outcome owner and the engineering owner: whoever ships it should not"
    " also judge its result. Name a separate outcome owner in {item}."
)
NO_DECIDER = "The go decision of {when} names nobody. Record who decided (go by @name) in {item}."
INCONCLUSIVE = (
    "In analysis with no activity since {last} (more than {limit} days): the result is drifting"
    " towards inconclusive. Record the outcome (go, no-go or rollback) in {item}."
)
CADENCE = (
    "The next review ({when}) is more than {days} days away; running experiments are reviewed"
    " at least every {days} days. Set a review date within {days} days in {item}."
)
_VERBS = {"decide": "decides", "approve": "approves"}


def _is_person(ref: PersonRef, ctx: Context) -> bool:
    person = ctx.directory.get(ref.key) if ref.key else None
    return ref.kind == "person" and person is not None and person.active


def decision_rights(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """Who decides and who approves must include a person, like every other role: a team
    review request or a bot may sit beside one, never alone."""
    if not ctx.cfg.decision_rights_people:
        return []
    found = []
    for role, verb in _VERBS.items():
        refs = [v for v in record.values(role) if isinstance(v.value, PersonRef)]
        if not refs or any(_is_person(v.value, ctx) for v in refs):
            continue
        who = ", ".join(dict.fromkeys(v.value.label for v in refs))
        at = refs[0].source
        label = field_label(role)
        text = RIGHTS.format(label=label, who=who, verb=verb, item=item_name(at))
        found.append(new_finding(record, "ownerless", "error", role, text, at))
    return found


def separate_owners(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """The seeds' false belief: handing to engineering does not make engineering the owner
    of the outcome. One person in both roles is flagged when `separate_owners` says so."""
    if not ctx.cfg.separate_owners or not record.stage.reached(ctx.cfg.separate_owners_from):
        return []
    engineers = {comparable(v.value) for v in record.engineering_owner}
    for value in record.outcome_owner:
        if isinstance(value.value, PersonRef) and comparable(value.value) in engineers:
            text = SAME_OWNER.format(who=value.value.label, item=item_name(value.source))
            subject = "outcome_owner/engineering_owner"
            return [new_finding(record, "ownerless", "warning", subject, text, value.source)]
    return []


def _day(value: object) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value.isoformat() if isinstance(value, date) else "an unknown date"


def go_decider(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """A go in the decision log must say who decided: a decision nobody owns is discussion."""
    for value in record.decision_log:
        decision = value.value
        if isinstance(decision, Decision) and decision.kind == "go" and decision.who is None:
            text = NO_DECIDER.format(when=_day(decision.when), item=item_name(value.source))
            return [
                new_finding(record, "decision-missing", "error", "go decider", text, value.source)
            ]
    return []


def _latest(values: tuple[Value, ...]) -> datetime | None:
    stamps = [v.value for v in values if isinstance(v.value, datetime)]
    return max(stamps) if stamps else None


def inconclusive(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """In analysis and nobody has touched it for `inconclusive_days`: the seeds' escalation
    for a run whose data is drifting into an inconclusive result."""
    if record.stage != Stage.ANALYSIS or not ctx.cfg.inconclusive_days:
        return []
    last = _latest(record.last_activity)
    if last is None or (ctx.now - last).days < ctx.cfg.inconclusive_days:
        return []
    at = fix_at(record, record.decision_log)
    text = INCONCLUSIVE.format(
        last=last.date().isoformat(), limit=ctx.cfg.inconclusive_days, item=item_name(at)
    )
    return [new_finding(record, "stale", "error", "inconclusive", text, at)]


def _review(record: HandoffRecord) -> tuple[date, Value] | None:
    dates = [
        (v.value.date() if isinstance(v.value, datetime) else v.value, v)
        for v in record.expiry
        if isinstance(v.value, date)
    ]
    return min(dates, key=lambda d: d[0]) if dates else None


def review_cadence(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """While running, the next review is at most `review_cadence_days` away: monitoring is
    reviewed on a cadence, not once at the end (a missing date is `missing_field`'s)."""
    days = ctx.cfg.review_cadence_days
    review = _review(record)
    if not days or record.stage != Stage.RUN or review is None:
        return []
    when, value = review
    limit = ctx.now.astimezone(UTC).date() + timedelta(days=days)
    if when <= limit:
        return []
    # No date that moves by itself in the text: the comment would be rewritten every day.
    text = CADENCE.format(when=when.isoformat(), days=days, item=item_name(value.source))
    return [new_finding(record, "stale", "warning", "review cadence", text, value.source)]
