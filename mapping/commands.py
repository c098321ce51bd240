"""Commands people write in comments: `/handoff owner|snooze|waive|ack|help ...`, parsed.

Pure: the text of one comment in, the commands it holds out. A comment may hold several
commands, one per line; a line that starts with `/handoff` but says nothing we know becomes an
`unknown` command, so that its author gets a one-line answer instead of silence. Mentions are
read in each system's own shapes: GitHub `@login`, Jira wiki `[~accountid:ID]` or `[~name]`,
Notion and plain text `@name`. Whether the author may give a command, and what it does to a
record, is `mapping.commands_apply`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = [
    "MAX_SNOOZE_DAYS",
    "ROLE_NAMES",
    "Command",
    "CommandSource",
    "Verb",
    "parse_commands",
]

Verb = Literal["owner", "snooze", "waive", "ack", "help", "unknown"]

MAX_SNOOZE_DAYS = 30  # a longer snooze is a waiver in disguise
_MAX_LINES = 20  # commands read from one comment; the rest are ignored
_PREFIX = re.compile(r"^\s*/handoff\b(.*)$", re.IGNORECASE)
_MENTION = re.compile(r"^(?:@(?P<at>[\w.\-+@]+)|\[~(?:accountid:)?(?P<jira>[^\]]+)\])$")

# What a person may call each role; the record field it sets.
ROLE_NAMES: dict[str, str] = {
    "outcome": "outcome_owner",
    "outcome-owner": "outcome_owner",
    "owner": "outcome_owner",
    "engineering": "engineering_owner",
    "engineering-owner": "engineering_owner",
    "eng": "engineering_owner",
    "monitoring": "monitoring_owner",
    "monitoring-owner": "monitoring_owner",
    "approver": "cost_cap_approver",
    "cost-cap-approver": "cost_cap_approver",
    "cost-cap": "cost_cap_approver",
}


@dataclass(frozen=True)
class CommandSource:
    """Where a command was written: the comment, its author (as their system names them), when."""

    system: str
    item_id: str
    item_key: str
    comment_id: str
    author: str  # Jira accountId | GitHub login | Notion user id
    at: datetime
    url: str = ""


@dataclass(frozen=True)
class Command:
    """One command line, read but not yet checked."""

    verb: Verb
    source: CommandSource
    line: str  # the line as written, for the audit and for answers
    role: str = ""  # owner: the record field
    person: str = ""  # owner: the handle as mentioned
    kind: str = ""  # snooze / waive: a finding code or subject, as written
    days: int = 0  # snooze
    reason: str = ""  # snooze / waive
    problem: str = ""  # unknown: what was wrong with the line

    @property
    def id(self) -> str:
        """Stable across re-reads of the same comment: the comment and the line's place."""
        return f"{self.source.system}:{self.source.comment_id}:{self.line}"


def parse_commands(text: str, source: CommandSource) -> list[Command]:
    """The commands in one comment's text, in order."""
    found: list[Command] = []
    for raw in text.splitlines():
        match = _PREFIX.match(raw)
        if match is None:
            continue
        line = raw.strip()
        found.append(_parse_line(match.group(1).split(), line, source))
        if len(found) >= _MAX_LINES:
            break
    return found


def _parse_line(words: list[str], line: str, source: CommandSource) -> Command:
    if not words:
        return Command("help", source, line)
    verb, args = words[0].lower(), words[1:]
    if verb == "help":
        return Command("help", source, line)
    if verb == "ack":
        return Command("ack", source, line, reason=" ".join(args))
    if verb == "owner":
        return _owner(args, line, source)
    if verb == "snooze":
        return _snooze(args, line, source)
    if verb == "waive":
        if len(args) < 2:
            return _unknown(
                source, line, "waive needs a kind and a reason: /handoff waive <kind> <reason>"
            )
        return Command("waive", source, line, kind=args[0].lower(), reason=" ".join(args[1:]))
    return _unknown(source, line, f"unknown command {verb!r}; try /handoff help")


def _owner(args: list[str], line: str, source: CommandSource) -> Command:
    usage = "owner needs a role and a person: /handoff owner <role> @person"
    if len(args) != 2:
        return _unknown(source, line, usage)
    role = ROLE_NAMES.get(args[0].lower().replace("_", "-"))
    if role is None:
        known = ", ".join(sorted({"outcome", "engineering", "monitoring", "approver"}))
        return _unknown(source, line, f"unknown role {args[0]!r} (one of {known})")
    mention = _MENTION.match(args[1])
    if mention is None:
        return _unknown(source, line, usage)
    person = mention.group("at") or mention.group("jira") or ""
    return Command("owner", source, line, role=role, person=person.strip())


def _snooze(args: list[str], line: str, source: CommandSource) -> Command:
    usage = "snooze needs a kind, days and a reason: /handoff snooze <kind> <days> <reason>"
    if len(args) < 3:
        return _unknown(source, line, usage)
    days_text = args[1].lower().removesuffix("d")
    if not days_text.isdigit() or not 1 <= int(days_text) <= MAX_SNOOZE_DAYS:
        return _unknown(source, line, f"snooze takes 1 to {MAX_SNOOZE_DAYS} days, not {args[1]!r}")
    return Command(
        "snooze", source, line, kind=args[0].lower(), days=int(days_text), reason=" ".join(args[2:])
    )


def _unknown(source: CommandSource, line: str, problem: str) -> Command:
    return Command("unknown", source, line, problem=problem)
