"""What one line of our comment says: a finding as a task, with who, what, where and by when.

Pure: no I/O, no clock. Findings of one kind that are fixed in one place, by the same people
and by the same time are one task (five missing fields are one line, not five), and a line
never says the same thing twice ("Add it in EXP-107. Fix it in EXP-107."). Blockers (severity
"error": they block the run) are marked. The due time is when the finding climbs the next step
of the escalation ladder, shown in the owner's time zone. `sync.writeback.render` assembles
the comment; `sync.writeback.markup` spells and escapes it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mapping.people import Person
from mapping.rules import Finding
from sync import systems
from sync.writeback.markup import Line, Link, Mention, Span, Text, clean, safe_url

__all__ = [
    "CODE_TITLES",
    "MAX_MESSAGE",
    "MAX_NAME",
    "People",
    "person_name",
    "person_span",
    "task_lines",
]

CODE_TITLES = {
    "missing-field": "Missing",
    "ownerless": "No owner",
    "conflict": "Sources disagree",
    "expired": "Expired",
    "stale": "Stale",
    "decision-missing": "Decision missing",
    "needs-sync": "Needs a pre-run sync",
    "noisy": "Too many people informed",
    "unlinked": "Not linked",
}
FIX_HERE = "Fix it here."
FIX_THERE = "Fix it in "
WHO = "Who: "
ESCALATED = "Escalated (step {n}): open longer than its window."
DUE = "Due by {when}."
BLOCKER = "Blocker"
MAX_MESSAGE = 1_000  # one message; a 1 MB field value quoted in it must not fill the comment
MAX_NAME = 200


class People(Protocol):
    """The part of `mapping.people.Directory` rendering needs."""

    def get(self, key: str) -> Person | None: ...


def person_name(key: str, people: People | None) -> str:
    """The name a comment shows for a person key (the key when the directory lacks it)."""
    person = people.get(key) if people is not None else None
    return clean((person.name or person.key) if person else key, MAX_NAME) or "someone"


def person_span(system: str, key: str, people: People | None) -> Span:
    """A mention that notifies where the directory knows the person's handle, else the name."""
    person = people.get(key) if people is not None else None
    name = person_name(key, people)
    handle = person.ids.get(system, "") if person else ""
    spec = systems.get(system)
    if handle and spec is not None and spec.mentions(handle):
        return Mention(handle, name)
    return Text(name)


def _when(f: Finding) -> str:
    """The due moment in the owner's time zone, to the minute (rounded up: never early)."""
    if f.due is None:
        return ""
    try:
        zone = ZoneInfo(f.zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = (f.due.astimezone(zone) + timedelta(seconds=59)).replace(second=0, microsecond=0)
    return f"{local:%a} {local.day} {local:%b %H:%M} ({zone.key})"


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _merged(messages: Sequence[str]) -> str:
    """Several messages of one kind as one text that says nothing twice: what differs first,
    then the sentences they share (once, about "them")."""
    if len(messages) == 1:
        return messages[0]
    split = [[x for x in _SENTENCE.split(m) if x] for m in messages]
    shared = [x for x in split[0] if all(x in other for other in split[1:])]
    own = list(dict.fromkeys(x for sentences in split for x in sentences if x not in shared))
    return " ".join(_listed(own) + [re.sub(r"\bit\b", "them", x) for x in shared])


_IS = re.compile(r"(.+?) is (.+)")


def _listed(sentences: list[str]) -> list[str]:
    """Sentences "A is missing." and "B is missing." as one: "A and B are missing."."""
    matches = [_IS.fullmatch(x) for x in sentences]
    if len(sentences) < 2 or any(m is None for m in matches):
        return sentences
    rests = {m.group(2) for m in matches if m is not None}
    if len(rests) != 1:
        return sentences
    names = [m.group(1) for m in matches if m is not None]
    return [f"{', '.join(names[:-1])} and {names[-1]} are {rests.pop()}"]


def _groups(findings: Sequence[Finding]) -> list[list[Finding]]:
    """Findings of one kind fixed in one place, told to the same people by the same time:
    one line each (five missing fields are one task, not five)."""
    groups: dict[tuple[Any, ...], list[Finding]] = {}
    for f in findings:
        key = (f.code, f.severity, f.item_id, f.item_key, f.url, f.notify, f.escalation, f.due)
        groups.setdefault(key, []).append(f)
    return list(groups.values())


def _bullet(
    system: str, group: Sequence[Finding], people: People | None, item_id: str, item_key: str
) -> Line:
    """One task: (blocker,) what, where, who and by when."""
    f = group[0]
    title = clean(CODE_TITLES.get(f.code, f.code), 60)
    if f.severity == "error":
        title = f"{BLOCKER} · {title}"
    spans: list[Span] = [Text(f"{title}:", bold=True), Text(" ", trusted=True)]
    message = _merged([clean(g.message, MAX_MESSAGE) or title for g in group])
    spans.append(Text(message))
    if message[-1] not in ".!?…":
        spans.append(Text(".", trusted=True))
    here = (f.item_id == item_id) if f.item_id else (f.item_key == item_key)
    key = clean(f.item_key or f.url, MAX_NAME)
    if key and key in message:
        pass  # the message already says where ("Add it in EXP-107."): never say it twice
    elif here:
        spans.append(Text(" " + FIX_HERE, trusted=True))
    elif key:
        url = safe_url(f.url)
        spans += [Text(" " + FIX_THERE, trusted=True), Link(key, url) if url else Text(key)]
        spans.append(Text(".", trusted=True))
    notify = list(dict.fromkeys(k for k in f.notify if k))
    if notify:
        spans.append(Text(" " + WHO, trusted=True))
        for i, person in enumerate(notify):
            if i:
                spans.append(Text(", ", trusted=True))
            spans.append(person_span(system, person, people))
        spans.append(Text(".", trusted=True))
    when = _when(f)
    if when:
        spans.append(Text(" " + DUE.format(when=when), trusted=True))
    if f.escalation > 0:
        spans.append(Text(" " + ESCALATED.format(n=int(f.escalation)), trusted=True))
    return tuple(spans)


def task_lines(
    system: str, findings: Sequence[Finding], people: People | None, item_id: str, item_key: str
) -> tuple[Line, ...]:
    """One line per task, in the order of the findings given (most severe first)."""
    return tuple(_bullet(system, g, people, item_id, item_key) for g in _groups(findings))
