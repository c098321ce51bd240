"""What our comment on an item says for its findings (labels and properties: annotations.py).

Pure: no I/O, no clock. The same findings always render to the same text, so a second run can
compare strings and plan nothing. This module decides what a comment says;
`sync.writeback.markup` spells
it in each system's format and escapes user text (messages hold record values, names and item
keys), so that text can neither break the markup, mention anyone, nor fake our marker.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypedDict

from connectors.base import MARKER_PREFIX
from mapping.rules import CODES, Finding, severity_rank
from sync.writeback.markup import (
    FORMATS,
    Doc,
    Format,
    Line,
    Link,
    Span,
    Text,
    clean,
    fits,
    safe_url,
    to_text,
    write,
)
from sync.writeback.tasks import MAX_MESSAGE, MAX_NAME, People, task_lines

__all__ = [
    "ALL_CLEAR",
    "FORMATS",
    "MARKER_PREFIX",
    "MAX_MESSAGE",
    "Format",
    "People",
    "RenderArgs",
    "is_current",
    "marker_activity",
    "marker_for",
    "markers_for",
    "order_findings",
    "render_comment",
    "render_key",
    "shown_key",
    "to_text",
]

ALL_CLEAR = "All clear — nothing missing as of this check."
SUMMARY_MISSING = "{n} {things} missing before this can run."
SUMMARY_OTHER = "{n} {things} attention before this can run."
BLOCKING = " {e} of them {verb} it."
SAME_HANDOFF = "Same handoff: "
TRUNCATED = "…and {k} more not shown here (comment size limit); see the linked items."

_TOKEN = re.compile(re.escape(MARKER_PREFIX) + r"[0-9a-f]{12}/[0-9a-f]{10}")
MAX_ANSWERS = 5  # answers to commands shown in one comment, the latest last
_MAX_ANSWER = 300
_CODE_RANK = {code: i for i, code in enumerate(CODES)}


def marker_for(system: str, item_id: str) -> str:
    """The string that identifies our comment on one item; hex only, safe in any markup.

    Pass the item's `uid` (which survives a repository rename or an issue moved to another
    project); comments written before uids existed carry the marker of the item's `id`, and
    `markers_for` lists both so they are still found."""
    digest = hashlib.sha256(f"{system}\x00{item_id}".encode()).hexdigest()
    return f"{MARKER_PREFIX}{digest[:12]}"


def markers_for(system: str, item_id: str, uid: str = "") -> tuple[str, ...]:
    """Every marker our comment on this item may carry: by uid first, then the older by id."""
    return tuple(dict.fromkeys((marker_for(system, uid or item_id), marker_for(system, item_id))))


def _token(marker: str, content: str, activity: datetime | None = None) -> str:
    # The revision lets the planner know a comment is current from its plain text alone (the
    # ADF or rich text we sent comes back in another shape). The activity part carries the
    # item's last human activity as we knew it when writing: a rebuilt state reads it back
    # instead of taking our own write-back for activity (sync.engine.own_writes).
    rev = hashlib.sha256(content.encode()).hexdigest()[:10]
    if activity is None:
        return f"{marker}/{rev}"
    return f"{marker}/{rev}/a{activity.astimezone(UTC):%Y%m%dT%H%M%SZ}"


# The activity part of a token; older tokens have none, and it never makes a comment differ.
_ACTIVITY = re.compile(
    r"(" + re.escape(MARKER_PREFIX) + r"[0-9a-f]{12}/[0-9a-f]{10})/a(\d{8}T\d{6}Z)"
)


def marker_activity(text: str, marker: str) -> datetime | None:
    """The last human activity our comment (with `marker`) says it knew, or None."""
    for match in _ACTIVITY.finditer(text):
        if match.group(1).startswith(marker):
            return datetime.strptime(match.group(2), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return None


def is_current(shown: str, body: str) -> bool:
    """True when an item's comment (exact body or its plain text) is this body.

    Our token (marker + revision) must be there, and so must every visible word: a person's
    edit that keeps our footer is overwritten, as the footer says. Mentions are the one part
    whose plain text a service spells its own way ("@Ana Souza" for a user id), so a mention's
    place may hold any words.
    """
    if shown == body:
        return True
    shown, body = _ACTIVITY.sub(r"\1", shown), _ACTIVITY.sub(r"\1", body)
    # Only our own text can hold a token: `clean` breaks the marker word in user text.
    match = _TOKEN.search(body)
    if match is None or match.group(0) not in shown:
        return False
    want, have = _body_words(body), _WORD.findall(to_text(shown))
    if want == have:
        return True
    if _MENTION not in want:
        return False  # no place may hold other words: the alignment below could only fail
    matcher = difflib.SequenceMatcher(None, want, have, autojunk=False)
    for op, i1, i2, _, _ in matcher.get_opcodes():
        # Any difference must sit where a mention is: in its place, or right beside it.
        if op == "equal":
            continue
        if i2 > i1 and all(w == _MENTION for w in want[i1:i2]):
            continue
        if i2 == i1 and _MENTION in want[max(i1 - 1, 0) : i1 + 1]:
            continue
        return False
    return True


def shown_key(shown: str) -> str:
    """A digest of a comment's text as a service showed it: `is_current` answers the same
    for the same text and body, so a caller may keep its answer under this key."""
    return hashlib.sha256(shown.encode()).hexdigest()


_MENTION = "\x00"  # stands for a mention in a body's word list
_WORD = re.compile(r"[^\W_]+")
_BODY_WORD = re.compile(r"\x00|[^\W_]+")
_TEXT_MENTION = re.compile(r"\[~accountid:[^\]]*\]|(?<![\w\\])@[A-Za-z0-9][A-Za-z0-9-]*")


def _body_words(body: str) -> list[str]:
    """The visible words of a comment we would write, a mention standing as `_MENTION`."""
    try:
        value: Any = json.loads(body)
    except ValueError:
        return _BODY_WORD.findall(_TEXT_MENTION.sub(f" {_MENTION} ", body))
    return _BODY_WORD.findall(_json_text(value))


def _json_text(node: Any) -> str:
    """ADF or Notion rich text as text, each mention as `_MENTION`."""
    if isinstance(node, list):  # Notion rich text: runs of one text
        return "".join(_json_text(n) for n in node)
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "mention":
        return f" {_MENTION} "
    if node.get("type") == "text":
        text = node.get("text")
        return str(text.get("content", "") if isinstance(text, dict) else text or "")
    sep = "" if node.get("type") in ("paragraph", "heading") else " "
    return sep.join(_json_text(n) for n in node.get("content") or [])


def order_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Findings without duplicates, most severe first; the order every output uses."""
    unique = {f.id: f for f in findings}
    return sorted(
        unique.values(),
        key=lambda f: (
            severity_rank(f.severity),
            _CODE_RANK.get(f.code, 99),
            f.subject,
            f.record_key,
            f.id,
        ),
    )


def _summary(findings: Sequence[Finding]) -> Line:
    if not findings:
        return (Text(ALL_CLEAR, trusted=True),)
    n = len(findings)
    if all(f.code == "missing-field" for f in findings):
        text = SUMMARY_MISSING.format(n=n, things="thing is" if n == 1 else "things are")
    else:
        text = SUMMARY_OTHER.format(n=n, things="thing needs" if n == 1 else "things need")
    errors = sum(f.severity == "error" for f in findings)
    if 0 < errors < n:
        text += BLOCKING.format(e=errors, verb="blocks" if errors == 1 else "block")
    # Bold must not end in a space: Markdown and Jira both leave it unrendered then.
    return (Text("Handoff check:", bold=True, trusted=True), Text(" " + text, trusted=True))


def _document(
    system: str,
    findings: Sequence[Finding],
    people: People | None,
    item_id: str,
    item_key: str,
    links: Sequence[tuple[str, str]],
    shown: int,
    token: str,
    answers: Sequence[str] = (),
) -> Doc:
    bullets = task_lines(system, findings[:shown], people, item_id, item_key)
    notes: list[Line] = []
    if shown < len(findings):
        notes.append((Text(TRUNCATED.format(k=len(findings) - shown), trusted=True),))
    others = [(k, u) for k, u in links if safe_url(u) and k != item_key]
    if findings and others:
        line: list[Span] = [Text(SAME_HANDOFF, trusted=True)]
        for i, (key, url) in enumerate(sorted(set(others))):
            if i:
                line.append(Text(", ", trusted=True))
            line.append(Link(clean(key, MAX_NAME) or "item", safe_url(url)))
        notes.append(tuple(line))
    notes.extend((Text(clean(a, _MAX_ANSWER), quiet=True),) for a in answers[-MAX_ANSWERS:])
    return Doc(_summary(findings), bullets, tuple(notes), token)


class RenderArgs(TypedDict):
    """The keyword arguments `render_comment` and `render_key` share."""

    fmt: Format
    item_id: str
    item_key: str
    links: Sequence[tuple[str, str]]
    uid: str
    activity: datetime | None


# Part of every `render_key`: bump it whenever what `render_comment` writes for the same
# inputs changes (wording, markup, the token), so that no comment is kept from its key alone.
RENDER_VERSION = "2"  # 2: one line per task, grouped, with blockers and due times


def render_key(
    system: str,
    findings: Iterable[Finding],
    people: People | None,
    *,
    fmt: Format,
    item_id: str,
    item_key: str = "",
    links: Sequence[tuple[str, str]] = (),
    uid: str = "",
    activity: datetime | None = None,
    answers: Sequence[str] = (),
) -> str:
    """A digest of everything `render_comment` reads for these arguments (the people named
    included): equal keys render equal comments, so a comment already current for a key
    needs no rendering again."""
    ordered = order_findings(findings)
    named = sorted({k for f in ordered for k in f.notify if k})
    who = []
    for key in named:
        person = people.get(key) if people is not None else None
        who.append([key, person.name, person.key, person.ids.get(system, "")] if person else [key])
    parts: list[Any] = [
        RENDER_VERSION, system, fmt, item_id, item_key, list(links), uid,
        activity.astimezone(UTC).isoformat() if activity else None,
        [[*vars(f).values()] for f in ordered], who,
    ]  # fmt: skip
    if answers:  # only then: the keys of comments without answers stay as they were
        parts.append(list(answers[-MAX_ANSWERS:]))
    text = json.dumps(parts, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def render_comment(
    system: str,
    findings: Iterable[Finding],
    people: People | None,
    *,
    fmt: Format,
    item_id: str,
    item_key: str = "",
    links: Sequence[tuple[str, str]] = (),
    uid: str = "",
    activity: datetime | None = None,
    answers: Sequence[str] = (),
) -> str:
    """Our comment for one item: a summary, one line per finding, then the marker.

    `links` are (key, url) of the other items in the same handoff. With no findings this is
    the short all-clear. Findings that do not fit the system's size limit are counted instead.
    The marker names the item by `uid` (an id that survives renames and moves) when given,
    and carries `activity`, the item's last human activity, when given. `answers` are the
    one-line answers to commands people wrote on the item (the last `MAX_ANSWERS` show).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown comment format {fmt!r}; use one of {', '.join(FORMATS)}")
    ordered = order_findings(findings)
    marker = marker_for(system, uid or item_id)

    def build(shown: int) -> str:
        doc = _document(system, ordered, people, item_id, item_key, links, shown, "", answers)
        content = write(doc, fmt)  # the revision covers everything but itself
        return write(
            Doc(doc.summary, doc.bullets, doc.notes, _token(marker, content, activity)), fmt
        )

    body = build(len(ordered))
    if fits(fmt, body):
        return body
    low, high = 0, len(ordered) - 1  # largest count that fits; 0 always does
    while low < high:
        mid = (low + high + 1) // 2
        if fits(fmt, build(mid)):
            low = mid
        else:
            high = mid - 1
    return build(low)
