"""One small neutral document written out in each system's comment format, with escaping.

`sync.writeback.render` decides what a comment says; this module decides how each system spells it:
Jira wiki markup (API v2), Jira ADF (API v3), GitHub Markdown, Notion rich text. Spans marked
`trusted` are our own constants; every other span is user text and is escaped for the format, so
it can neither break the markup, mention anyone, link anywhere, nor fake our marker.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

__all__ = [
    "FOOTER",
    "FORMATS",
    "Doc",
    "Format",
    "Line",
    "Link",
    "Mention",
    "Span",
    "Text",
    "clean",
    "dumps",
    "fits",
    "safe_url",
    "to_text",
    "write",
]

Format = Literal["jira-wiki", "jira-adf", "github-md", "notion-rich-text"]
FORMATS: tuple[Format, ...] = ("jira-wiki", "jira-adf", "github-md", "notion-rich-text")

# No "-" here: in Jira wiki two of them on a line can turn into strikethrough.
FOOTER = "Kept up to date automatically; edits to this comment are overwritten."

# Comment size limits: GitHub 65,536 characters, Jira 32,767; Notion 100 rich text objects of
# 2,000 characters each. Kept under, with room for the footer.
_MAX_CHARS = {"jira-wiki": 32_000, "jira-adf": 32_000, "github-md": 65_000}
_NOTION_OBJECTS = 100
_NOTION_CHARS = 2_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")
_SPACES = re.compile(r" {2,}")
_MARKER_WORD = re.compile(r"(handoff)(\W*)(sync)", re.IGNORECASE)
_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d+)?(?:[/?#]\S*)?", re.IGNORECASE)
# In URLs: percent-encode everything that means something to one of the markups.
_URL_SAFE = "/:?#=&%~-._,;+"
# Inline Markdown only: user text never starts a line, so "1.", "- ", "+ " and "# " cannot
# start a block, and "-" and "+" need no escape ("2026-11-18" stays readable as it is).
_MD_SPECIAL = frozenset("\\`*_{}[]()#!|~$")
_MD_ENTITY = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_WIKI_SPECIAL = frozenset("[]{}|*_-+^~!#()")
_WORD_JOINER = "\u2060"


@dataclass(frozen=True)
class Text:
    """A run of text; user text unless `trusted`."""

    text: str
    bold: bool = False
    quiet: bool = False  # the footer: grey/italic where the format has it
    trusted: bool = False  # our own constants: no escaping needed


@dataclass(frozen=True)
class Link:
    """A link; `url` must come from `safe_url`."""

    text: str
    url: str


@dataclass(frozen=True)
class Mention:
    """A mention that notifies: Jira accountId, GitHub login or Notion user id."""

    handle: str
    name: str


Span = Text | Link | Mention
Line = tuple[Span, ...]


@dataclass(frozen=True)
class Doc:
    """A whole comment: summary line, one bullet per finding, notes, then the marker token."""

    summary: Line
    bullets: tuple[Line, ...]
    notes: tuple[Line, ...]
    token: str  # marker plus revision; the last thing in every format
    footer: str = FOOTER  # a step reply is not kept up to date and says so (sync.writeback.steps)


def clean(text: str, limit: int) -> str:
    """User text on one line, bounded, with our marker word broken so it can never match."""
    text = _SPACES.sub(" ", _CONTROL.sub(" ", str(text))).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return _MARKER_WORD.sub(lambda m: f"{m.group(1)}{_WORD_JOINER}{m.group(2)}{m.group(3)}", text)


def safe_url(url: str) -> str:
    """An http(s) URL with markup characters percent-encoded, or "" when it is not one."""
    url = url.strip()
    if not _URL.fullmatch(url) or len(url) > 2_000:
        return ""
    return quote(url, safe=_URL_SAFE)


# --- GitHub Markdown ------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    out = []
    for ch in text:
        if ch in _MD_ENTITY:
            out.append(_MD_ENTITY[ch])
        elif ch == "@":
            out.append("@" + _WORD_JOINER)  # "@everyone", "@org/team" mention no one
        elif ch in _MD_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _md_span(span: Span) -> str:
    if isinstance(span, Mention):
        return "@" + span.handle
    if isinstance(span, Link):
        return f"[{_md_escape(span.text)}]({span.url})"
    text = span.text if span.trusted else _md_escape(span.text)
    if span.bold:
        return f"**{text}**"
    return f"<sub>{text}</sub>" if span.quiet else text


def _render_md(doc: Doc) -> str:
    lines = ["".join(map(_md_span, doc.summary)), ""]
    lines += ["- " + "".join(map(_md_span, b)) for b in doc.bullets]
    if doc.bullets:
        lines.append("")
    for note in doc.notes:
        lines += ["".join(map(_md_span, note)), ""]
    lines.append(_md_span(Text(doc.footer, quiet=True, trusted=True)))
    lines.append(f"<!-- {doc.token} -->")
    return "\n".join(lines)


# --- Jira wiki markup (API v2) --------------------------------------------------------------


def _wiki_escape(text: str) -> str:
    out = []
    for i, ch in enumerate(text):
        if ch == "\\":
            out.append("⧵")  # a backslash would escape our own escapes ("\\" is a line break)
        elif ch in _WIKI_SPECIAL:
            out.append("\\" + ch)
        elif ch == "?" and "??" in text[max(0, i - 1) : i + 2]:
            out.append("\\?")  # "??citation??"
        elif ch == "." and i >= 2 and re.fullmatch(r"(?:h[1-6]|bq)", text[max(0, i - 2) : i]):
            out.append("\\.")
        else:
            out.append(ch)
    return "".join(out)


def _wiki_span(span: Span) -> str:
    if isinstance(span, Mention):
        return f"[~accountid:{span.handle}]"
    if isinstance(span, Link):
        return f"[{_wiki_escape(span.text)}|{span.url}]"
    text = span.text if span.trusted else _wiki_escape(span.text)
    if span.bold:
        return f"*{text}*"
    return "{color:#6b778c}" + text + "{color}" if span.quiet else text


def _render_wiki(doc: Doc) -> str:
    lines = ["".join(map(_wiki_span, doc.summary)), ""]
    lines += ["* " + "".join(map(_wiki_span, b)) for b in doc.bullets]
    if doc.bullets:
        lines.append("")
    for note in doc.notes:
        lines += ["".join(map(_wiki_span, note)), ""]
    lines.append(_wiki_span(Text(f"{doc.footer} {doc.token}", quiet=True, trusted=True)))
    return "\n".join(lines)


# --- Jira ADF (API v3) ----------------------------------------------------------------------


def _adf_nodes(line: Line) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    for span in line:
        if isinstance(span, Mention):
            nodes.append({"type": "mention", "attrs": {"id": span.handle, "text": "@" + span.name}})
            continue
        if not span.text:
            continue  # ADF rejects empty text nodes
        node: dict[str, Any] = {"type": "text", "text": span.text}
        if isinstance(span, Link):
            node["marks"] = [{"type": "link", "attrs": {"href": span.url}}]
        elif span.bold:
            node["marks"] = [{"type": "strong"}]
        elif span.quiet:
            node["marks"] = [{"type": "em"}]
        nodes.append(node)
    return nodes


def _render_adf(doc: Doc) -> str:
    def para(line: Line) -> dict[str, Any]:
        return {"type": "paragraph", "content": _adf_nodes(line)}

    content: list[dict[str, Any]] = [para(doc.summary)]
    if doc.bullets:
        items = [{"type": "listItem", "content": [para(b)]} for b in doc.bullets]
        content.append({"type": "bulletList", "content": items})
    content += [para(n) for n in doc.notes]
    content.append(para((Text(f"{doc.footer} {doc.token}", quiet=True, trusted=True),)))
    return dumps({"version": 1, "type": "doc", "content": content})


# --- Notion rich text -----------------------------------------------------------------------


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _split(text: str, size: int = _NOTION_CHARS) -> list[str]:
    """Pieces of at most `size` UTF-16 units (Notion counts those), never splitting a char."""
    pieces: list[str] = []
    current: list[str] = []
    width = 0
    for ch in text:
        w = 2 if ord(ch) > 0xFFFF else 1
        if width + w > size:
            pieces.append("".join(current))
            current.clear()
            width = 0
        current.append(ch)
        width += w
    if current:
        pieces.append("".join(current))
    return pieces


def _notion_objects(line: Line, end: str = "\n") -> list[dict[str, Any]]:
    # Adjacent plain spans with the same look merge, so 100 objects go a long way.
    runs: list[tuple[str, str, bool, bool]] = []  # (text, url, bold, quiet)
    objects: list[dict[str, Any]] = []

    def flush() -> None:
        for text, url, bold, quiet in runs:
            for piece in _split(text):
                obj: dict[str, Any] = {"type": "text", "text": {"content": piece}}
                if url:
                    obj["text"]["link"] = {"url": url}
                if bold or quiet:
                    obj["annotations"] = {"bold": bold, "italic": quiet}
                    if quiet:
                        obj["annotations"]["color"] = "gray"
                objects.append(obj)
        runs.clear()

    spans = [*line, Text(end, trusted=True)] if end else list(line)
    for span in spans:
        if isinstance(span, Mention):
            flush()
            user = {"type": "user", "user": {"id": span.handle}}
            objects.append({"type": "mention", "mention": user})
            continue
        url = span.url if isinstance(span, Link) else ""
        bold = isinstance(span, Text) and span.bold
        quiet = isinstance(span, Text) and span.quiet
        if runs and not url and not runs[-1][1] and runs[-1][2:] == (bold, quiet):
            runs[-1] = (runs[-1][0] + span.text, "", bold, quiet)
        elif span.text:
            runs.append((span.text, url, bold, quiet))
    flush()
    return objects


def _render_notion(doc: Doc) -> str:
    objects = _notion_objects(doc.summary)
    for bullet in doc.bullets:
        objects += _notion_objects((Text("• ", trusted=True), *bullet))
    for note in doc.notes:
        objects += _notion_objects(note)
    objects += _notion_objects((Text(f"{doc.footer} {doc.token}", quiet=True, trusted=True),), "")
    return dumps(objects)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


_WRITERS = {
    "github-md": _render_md,
    "jira-wiki": _render_wiki,
    "jira-adf": _render_adf,
    "notion-rich-text": _render_notion,
}


def write(doc: Doc, fmt: Format) -> str:
    """The document in one system's format."""
    if fmt not in _WRITERS:
        raise ValueError(f"unknown comment format {fmt!r}; use one of {', '.join(FORMATS)}")
    return _WRITERS[fmt](doc)


def fits(fmt: str, body: str) -> bool:
    """True when a written comment is within the system's size limits."""
    if fmt == "notion-rich-text":
        return len(json.loads(body)) <= _NOTION_OBJECTS
    return len(body) <= _MAX_CHARS[fmt]


def to_text(body: str) -> str:
    """A comment body as plain text for people: ADF and Notion JSON flattened, else as is."""
    try:
        value = json.loads(body)
    except ValueError:
        return body
    if isinstance(value, dict) and value.get("type") == "doc":
        return _adf_text(value).strip("\n")
    if isinstance(value, list) and all(isinstance(o, dict) for o in value):
        return "".join(_notion_text(o) for o in value)
    return body


def _adf_text(node: Any) -> str:
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "mention":
        attrs = node.get("attrs") or {}
        return str(attrs.get("text") or "@" + str(attrs.get("id", "")))
    inner = "".join(_adf_text(c) for c in node.get("content") or [])
    if kind == "listItem":
        return "- " + inner
    if kind == "paragraph":
        return inner + "\n"
    return inner


def _notion_text(obj: Mapping[str, Any]) -> str:
    if obj.get("type") == "mention":
        user = (obj.get("mention") or {}).get("user") or {}
        return "@" + str(user.get("name") or user.get("id", ""))
    if "plain_text" in obj:
        return str(obj["plain_text"])
    return str((obj.get("text") or {}).get("content", ""))
