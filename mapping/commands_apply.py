"""Commands checked and applied to one record: pure, so they reach reconcile as data.

`apply_commands` takes a record, the commands written on its items (`mapping.commands`) and
`now`, and returns the record and findings with the commands in effect, plus one outcome per
command: accepted or refused, with the one-line answer our sticky comment shows.

Who may do what:
- the author must be an active person in the directory (not a group or bot);
- `owner`, `snooze`, `waive` and `ack` need someone with a part in the record: a role holder,
  someone on its decide or approve list, or a lead; when the record names no one yet, anyone
  in the directory may (or nobody could);
- waiving the cost-cap sign-off needs the record's cost-cap approver;
- `help` is for everyone.

Effects, in the order the commands were written:
- `owner <role> @person`: the role holds that person, with the command as its provenance;
- `snooze <kind> <days>`: the findings of that kind are hidden until `at + days`;
- `waive <kind>`: the findings of that kind are hidden for good (until the waiver's comment goes);
- `ack`: the findings open at the time stop climbing the ladder at the step they had reached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from mapping.commands import Command
from mapping.people import Directory, Person
from mapping.record import HandoffRecord, PersonRef, Provenance, Value
from mapping.rules import CODES, Finding, RulesConfig, evaluate

__all__ = ["HELP", "Applied", "Outcome", "apply_commands", "matches"]

HELP = (
    "commands: /handoff owner <role> @person · /handoff snooze <kind> <days> <reason> ·"
    " /handoff waive <kind> <reason> · /handoff ack · /handoff help"
)
_PART_FIELDS = (
    "outcome_owner",
    "engineering_owner",
    "monitoring_owner",
    "cost_cap_approver",
    "decide",
    "approve",
)
_COST_CAP = ("decision-missing", "cost-cap sign-off")  # the finding only its approver may waive


@dataclass(frozen=True)
class Outcome:
    """What became of one command."""

    command: Command
    ok: bool
    answer: str  # one line for the sticky comment
    author: str = ""  # the author's directory key, when known
    target: str = ""  # owner: the named person's directory key

    @property
    def line(self) -> str:
        mark = "✓" if self.ok else "✗"
        who = self.command.source.author
        return f"{mark} {who}: {self.command.line} — {self.answer}"


@dataclass(frozen=True)
class Applied:
    """A record with its commands in effect."""

    record: HandoffRecord
    findings: list[Finding]
    outcomes: list[Outcome]


def _slug(text: str) -> str:
    return "-".join(text.lower().replace("/", " ").replace("_", " ").split())


def matches(kind: str, code: str, subject: str) -> bool:
    """Whether a command's kind names a finding: its code, its subject, or the subject's start."""
    subject_slug = _slug(subject)
    kind = _slug(kind)
    return kind in (code, subject_slug, f"{code}:{subject_slug}") or subject_slug.startswith(
        kind + "-"
    )


def _keys(record: HandoffRecord, names: Iterable[str]) -> set[str]:
    return {
        v.value.key
        for name in names
        for v in record.values(name)
        if isinstance(v.value, PersonRef) and v.value.key
    }


def _author(command: Command, directory: Directory) -> Person | None:
    src = command.source
    person = directory.resolve(src.system, src.author)
    return person if person is not None and person.active else None


def _target(command: Command, directory: Directory) -> Person | None:
    handle = command.person
    if directory.is_group(command.source.system, handle):
        return None
    return directory.resolve(command.source.system, handle) or directory.get(handle)


class _Run:
    """The state of one record's commands as they are applied in order."""

    def __init__(self, record: HandoffRecord, directory: Directory, leads: Sequence[str]):
        self.record = record
        self.directory = directory
        self.leads = set(leads)
        self.snoozed: dict[str, datetime] = {}  # kind -> until
        self.waived: set[str] = set()
        self.acked: datetime | None = None

    def may_act(self, key: str) -> bool:
        parts = _keys(self.record, _PART_FIELDS)
        return not parts or key in parts or key in self.leads

    def owner(self, command: Command, author: Person) -> Outcome:
        parts = _keys(self.record, _PART_FIELDS)
        if parts and author.key not in parts and author.key not in self.leads:
            return _no(command, author, "only someone with a part in this handoff may name owners")
        target = _target(command, self.directory)
        if target is None:
            return _no(
                command, author, f"I don't know {command.person!r} as a person in the directory"
            )
        if not target.active:
            return _no(command, author, f"{target.name or target.key} is not active")
        src = command.source
        at = Provenance(src.system, src.item_id, src.item_key, f"command by {author.key}", src.url)
        ref = PersonRef(src.system, command.person, target.name, "person", target.key)
        changes: dict[str, Any] = {command.role: (Value(ref, at),)}
        self.record = replace(self.record, **changes)
        role = command.role.replace("_", " ")
        return Outcome(
            command, True, f"{role} is now {target.name or target.key}", author.key, target.key
        )

    def hide(self, command: Command, author: Person, findings: Sequence[Finding]) -> Outcome:
        kind = command.kind
        if not self.may_act(author.key):
            return _no(command, author, "only someone with a part in this handoff may do that")
        if kind not in CODES and not any(matches(kind, f.code, f.subject) for f in findings):
            return _no(command, author, f"no finding {kind!r} on this handoff")
        approvers = _keys(self.record, ("cost_cap_approver",))
        if command.verb == "waive" and matches(kind, *_COST_CAP) and author.key not in approvers:
            return _no(
                command, author, "only the cost-cap approver may waive the cost-cap sign-off"
            )
        if command.verb == "waive":
            self.waived.add(kind)
            return Outcome(command, True, f"waived {kind}: {command.reason}", author.key)
        until = command.source.at + timedelta(days=command.days)
        self.snoozed[kind] = until
        return Outcome(
            command, True, f"snoozed {kind} until {until:%Y-%m-%d}: {command.reason}", author.key
        )

    def ack(self, command: Command, author: Person) -> Outcome:
        if not self.may_act(author.key):
            return _no(command, author, "only someone with a part in this handoff may acknowledge")
        self.acked = command.source.at
        return Outcome(
            command, True, "acknowledged: escalation stops at its current step", author.key
        )

    def visible(self, finding: Finding, now: datetime) -> bool:
        if any(matches(k, finding.code, finding.subject) for k in self.waived):
            return False
        return not any(
            until > now and matches(k, finding.code, finding.subject)
            for k, until in self.snoozed.items()
        )


def apply_commands(
    record: HandoffRecord,
    commands: Iterable[Command],
    cfg: RulesConfig,
    directory: Directory,
    now: datetime,
    opened_at: Mapping[str, datetime] | None = None,
) -> Applied:
    """The record and its findings with `commands` in effect, and what became of each."""
    ordered = sorted(commands, key=lambda c: (c.source.at, c.id))
    run = _Run(record, directory, cfg.escalation.leads)
    outcomes: dict[str, Outcome] = {}
    for command in ordered:  # owners first: who may snooze or waive depends on them
        author = _author(command, directory)
        if author is None:
            outcomes[command.id] = _stranger(command)
        elif command.verb == "owner":
            outcomes[command.id] = run.owner(command, author)
    findings = evaluate(run.record, cfg, directory, now, opened_at)
    for command in ordered:
        if command.id in outcomes:
            continue
        author = _author(command, directory)
        assert author is not None  # strangers were answered above
        outcomes[command.id] = _other(run, command, author, findings)
    if run.acked is not None:
        findings = _hold(findings, evaluate(run.record, cfg, directory, run.acked, opened_at))
    shown = [f for f in findings if run.visible(f, now)]
    return Applied(run.record, shown, [outcomes[c.id] for c in ordered])


def _no(command: Command, author: Person, answer: str) -> Outcome:
    return Outcome(command, False, answer, author.key)


def _stranger(command: Command) -> Outcome:
    who = command.source.author or "this author"
    return Outcome(command, False, f"I don't know {who} as a person in the directory")


def _other(run: _Run, command: Command, author: Person, findings: Sequence[Finding]) -> Outcome:
    if command.verb == "help":
        return Outcome(command, True, HELP, author.key)
    if command.verb in ("snooze", "waive"):
        return run.hide(command, author, findings)
    if command.verb == "ack":
        return run.ack(command, author)
    return _no(command, author, command.problem or HELP)


def _hold(findings: Sequence[Finding], at_ack: Sequence[Finding]) -> list[Finding]:
    # Escalation stops where it stood when acknowledged; findings opened since climb as usual.
    then = {f.id: f for f in at_ack}
    held = []
    for finding in findings:
        old = then.get(finding.id)
        if old is not None and finding.escalation > old.escalation:
            finding = replace(finding, escalation=old.escalation, notify=old.notify)
        held.append(finding)
    return held
