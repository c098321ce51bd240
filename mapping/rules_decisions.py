"""Rules on time and decisions: expiry, staleness, go/no-go and sign-off, pre-run syncs."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from mapping.finding import (
    Context,
    Finding,
    comparable,
    display,
    fix_at,
    item_name,
    new_finding,
)
from mapping.record import HandoffRecord, Money, Stage, Value

__all__ = ["decision_missing", "expired", "needs_sync", "stale"]

# What people read. Placeholders are filled with record values, unescaped: renderers escape.
EXPIRED = "The expiry or review date {when} has passed. Review the handoff or set a new date."
# No count of days that grows by itself: a comment that changed every day would be rewritten
# every day with nothing new to say (the date says the same, and stays put).
STALE = "Running with no activity since {last} (more than {limit} days). Post an update."
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
    return [new_finding(record, "expired", "error", "expiry", text, value.source)]


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
    text = STALE.format(limit=ctx.cfg.stale_days, last=last.value.date().isoformat())
    return [new_finding(record, "stale", "warning", "last_activity", text, fix_at(record))]


def _decisions(record: HandoffRecord) -> list[Any]:
    return [v.value for v in record.decision_log if hasattr(v.value, "kind")]


def decision_missing(record: HandoffRecord, ctx: Context) -> list[Finding]:
    """No go/no-go entering run; a cost cap above the tier with no approver sign-off;
    instrumentation not verified while running."""
    found = []
    decisions = _decisions(record)
    at = fix_at(record, record.decision_log)
    if record.stage.reached(Stage.RUN):
        if not any(d.kind in ("go", "no-go") for d in decisions):
            text = NO_DECISION.format(item=item_name(at))
            found.append(new_finding(record, "decision-missing", "error", "go/no-go", text, at))
        flags = [v.value for v in record.instrumentation_verified if isinstance(v.value, bool)]
        if not flags or not all(flags):
            where = fix_at(record, record.instrumentation_verified)
            text = UNVERIFIED.format(item=item_name(where))
            found.append(
                new_finding(record, "decision-missing", "error", "instrumentation", text, where)
            )
    caps = [v.value for v in record.cost_cap if isinstance(v.value, Money)]
    top = max((c.amount for c in caps), default=0.0)
    tier = ctx.cfg.tier_for(record.key)
    if record.stage.reached(Stage.PRE_RUN) and top > tier:
        approvers = {comparable(v.value) for v in record.cost_cap_approver}
        signed = any(
            d.kind == "go" and d.who is not None and comparable(d.who) in approvers
            for d in decisions
        )
        if not signed:
            text = NO_SIGNOFF.format(cap=f"{top:,.0f}", tier=f"{tier:,.0f}", item=item_name(at))
            found.append(
                new_finding(record, "decision-missing", "error", "cost-cap sign-off", text, at)
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
        text = SYNC_COST.format(cap=display(high[0].value))
        found.append(new_finding(record, "needs-sync", "warning", "cost cap", text, high[0].source))
    risk = _says(record.triage_risk, ctx.cfg.sync_risk_values, exact=True)
    if risk:
        at = fix_at(record, record.triage_risk)
        found.append(
            new_finding(record, "needs-sync", "warning", "risk", SYNC_RISK.format(risk=risk), at)
        )
    none = _says(record.rollback_triggers, ctx.cfg.no_rollback_words, exact=True)
    if none:
        at = fix_at(record, record.rollback_triggers)
        text = SYNC_ROLLBACK.format(text=none)
        found.append(new_finding(record, "needs-sync", "warning", "rollback path", text, at))
    plans = record.rollout_triggers + record.test_rollout_plan + record.concurrent_changes
    cross = _says(plans, ctx.cfg.cross_domain_words, exact=False)
    if cross:
        at = fix_at(record, plans)
        text = SYNC_CROSS.format(text=cross[:200])
        found.append(new_finding(record, "needs-sync", "warning", "cross-domain rollout", text, at))
    return found
