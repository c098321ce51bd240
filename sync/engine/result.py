"""How a sync ended: what it read, found and wrote, its exit code and its one-line outcome.

Split from `sync.engine.run` (which runs the sync) to keep each module about one job.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from connectors.base import WriteOp
from mapping.rules import Finding
from sync.engine.apply import ApplyReport
from sync.engine.knowledge import ScopeOutcome
from sync.store import Store

__all__ = ["SyncResult", "run_outcome", "stored_findings"]


def stored_findings(state: Store, outside: Collection[str] = ()) -> list[Finding]:
    """The open findings the state holds (of the records not in `outside`)."""
    return [Finding(**f) for f in state.iter_open_findings(outside=outside)]


@dataclass
class SyncResult:
    run_id: int
    dry_run: bool
    scopes: list[ScopeOutcome] = field(default_factory=list)
    records: int = 0
    checked: int = 0  # records evaluated by this run (all of them on a rebuild)
    # Every open finding after the run, when the run was asked to hold them
    # (`SyncOptions.findings`); the totals in `counts` never need them.
    findings: list[Finding] = field(default_factory=list)
    # Open findings by code as the state counts them once the run recorded its own; None
    # when it recorded none (a blind run): then `findings` is counted.
    open_by_code: dict[str, int] | None = None
    ops: list[WriteOp] = field(default_factory=list)
    plan_text: str = ""
    applied: ApplyReport | None = None
    errors: list[str] = field(default_factory=list)
    # Scopes never read in full that failed this run; their systems blocked every write.
    blind: list[str] = field(default_factory=list)
    blind_by_auth: bool = False  # ...because a token or permission was refused
    # Scopes read before that failed now: when they were last read whole (their stored
    # items stand in for them).
    stale: dict[str, datetime] = field(default_factory=dict)
    # Of those, scopes whose token or permission is refused now: since when (lost access).
    lost: dict[str, datetime] = field(default_factory=dict)
    at: datetime | None = None  # when the run started
    interrupted: str = ""  # the signal that stopped the run early, else ""
    # Seconds the planned writes take at the current budgets (sync.engine.pacing).
    drain_s: float = 0.0

    @property
    def failed(self) -> bool:
        applied_failed = self.applied is not None and not self.applied.ok
        return bool(self.errors) or bool(self.blind) or applied_failed

    @property
    def exit_code(self) -> int:
        # A token that may not read or write is a config problem (2), not a partly done run,
        # even when the other systems went on: retrying cannot fix it, a person must (and
        # `--every` stops for it, as the issue asks).
        if self.blind_by_auth or (self.applied is not None and self.applied.refused):
            return 2
        if any(s.error and s.auth for s in self.scopes):
            return 2
        return 1 if self.failed else 0

    def counts(self) -> dict[str, int]:
        by_code = self.open_by_code
        if by_code is None:
            by_code = {}
            for f in self.findings:
                by_code[f.code] = by_code.get(f.code, 0) + 1
        out = {
            "items": sum(s.pulled for s in self.scopes),
            "records": self.records,
            "records_checked": self.checked,
            "findings": sum(by_code.values()),
            "writes_planned": len(self.ops),
            "scope_errors": sum(1 for s in self.scopes if s.error),
            "scopes_from_stored_items": len(self.stale),
            "scopes_lost_access": len(self.lost),
        }
        if self.stale:
            oldest = min(self.stale.values())
            now = self.at or oldest
            out["stored_items_age_s"] = int((now - oldest).total_seconds())
        if self.applied is not None:
            out.update(
                writes_done=self.applied.done,
                writes_failed=self.applied.failed,
                writes_unchanged=self.applied.unchanged + self.applied.skipped,
                writes_not_attempted=self.applied.not_attempted,
            )
        # Several workers on one state (only there, so one worker's counts stay as they were).
        if any(s.skipped for s in self.scopes):
            out["scopes_read_by_other_workers"] = sum(1 for s in self.scopes if s.skipped)
        if self.applied is not None and self.applied.elsewhere:
            out["writes_claimed_by_other_workers"] = self.applied.elsewhere
        out.update({f"open_{k}": v for k, v in sorted(by_code.items())})
        return out


def run_outcome(result: SyncResult) -> str:
    """How a run ended, with the reason, as `handoff status` and the report show it."""
    if result.interrupted and result.applied is None:
        return f"interrupted by {result.interrupted} before any write"
    if result.interrupted:
        ops = len(result.ops)
        left = result.applied.not_attempted if result.applied else ops
        return (
            f"interrupted by {result.interrupted} after {ops - left} of {ops} writes; "
            "the rest not attempted"
        )
    if result.dry_run:
        return "dry-run"
    if not result.failed:
        return "ok"
    # Lost access first: it is what a person must act on, and it is not "deleted".
    lost = [e for e in result.errors if ": lost access since " in e]
    reasons = lost + [e for e in result.errors if e not in lost]
    if result.applied is not None:
        reasons += [f.message for f in result.applied.failures]
    more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
    return f"failed: {reasons[0][:300] if reasons else 'see the log'}{more}"
