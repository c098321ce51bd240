"""Rich text to plain text, and plain text to sections under headings.

Jira v3 sends descriptions as ADF, Jira v2 as wiki markup, GitHub as Markdown, and a Notion body
arrives as Markdown-like lines. All of them become one plain form here: Markdown headings
(`## X`), bullets (`- x`), task items (`- [x] x`) and Jira mentions (`[~accountid:ID]`), so the
rest of mapping parses one format.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["adf_to_text", "plain_text", "sections", "task_items", "wiki_to_text"]

# Nesting deeper than this is not a real document; stop instead of recursing without end.
_MAX_DEPTH = 64
_WIKI_HEADING = re.compile(r"^\s*h([1-6])\.\s+(.*)$")
_WIKI_BULLET = re.compile(r"^\s*([*#-]+)\s+(.*)$")
_WIKI_ANY_HEADING = re.compile(r"^\s*h[1-6]\.\s", re.MULTILINE)
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_TASK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\[([ xX])\]\s+(.*)$")


def adf_to_text(node: Any, _depth: int = 0) -> str:
    """An ADF document (Jira v3) as Markdown-like plain text."""
    if _depth > _MAX_DEPTH:
        return ""
    if isinstance(node, list):
        return "".join([adf_to_text(n, _depth + 1) for n in node])
    # A decoded payload is a plain dict: skip the slower abstract-class check for it.
    if type(node) is not dict and not isinstance(node, Mapping):
        return ""
    kind = node.get("type")
    if kind == "text":  # the commonest node, and a leaf: no children to walk
        text = node.get("text")
        return text if isinstance(text, str) else ""
    raw_attrs = node.get("attrs")
    attrs: Mapping[str, Any] = raw_attrs if isinstance(raw_attrs, Mapping) else {}
    content = node.get("content")
    inner = adf_to_text(content, _depth + 1) if content else ""
    if kind == "hardBreak":
        return "\n"
    if kind == "mention":
        mention_id = attrs.get("id")
        return f"[~accountid:{mention_id}]" if mention_id else str(attrs.get("text", ""))
    if kind in ("emoji", "status", "date"):
        return str(attrs.get("text") or attrs.get("shortName") or attrs.get("timestamp") or "")
    if kind == "inlineCard":
        return str(attrs.get("url", ""))
    if kind == "heading":
        raw_level = attrs.get("level")
        level = raw_level if isinstance(raw_level, int) else 2
        return f"{'#' * max(1, min(6, level))} {inner.strip()}\n"
    if kind == "listItem":
        return f"- {inner.strip()}\n"
    if kind == "taskItem":
        box = "x" if attrs.get("state") == "DONE" else " "
        return f"- [{box}] {inner.strip()}\n"
    if kind in ("paragraph", "codeBlock", "blockquote", "panel", "rule"):
        return inner.rstrip("\n") + "\n"
    return inner


def wiki_to_text(text: str) -> str:
    """Jira wiki markup (v2) as Markdown-like plain text: headings and bullets."""
    out = []
    for line in text.splitlines():
        heading = _WIKI_HEADING.match(line)
        bullet = _WIKI_BULLET.match(line)
        if heading:
            out.append(f"{'#' * int(heading.group(1))} {heading.group(2).strip()}")
        elif bullet and not line.lstrip().startswith("----"):
            out.append(f"- {bullet.group(2)}")
        else:
            out.append(line)
    return "\n".join(out)


def plain_text(value: Any) -> str:
    """A description as plain text, whether wiki markup, Markdown or an ADF document."""
    if isinstance(value, Mapping):
        return adf_to_text(value)
    if isinstance(value, str):
        return wiki_to_text(value) if _WIKI_ANY_HEADING.search(value) else value
    return ""


def _heading_key(text: str) -> str:
    # "**Rollback trigger:**" and "Rollback trigger" name the same section.
    return re.sub(r"\s+", " ", text.strip().strip("*_:").strip()).lower()


def sections(text: str) -> dict[str, str]:
    """Body text under each heading, by heading lowercased; the first of repeated ones wins."""
    found: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []
    for line in [*text.splitlines(), "# \x00end"]:
        match = _MD_HEADING.match(line) or _WIKI_HEADING.match(line)
        if match is None:
            if current is not None:
                lines.append(line)
            continue
        if current is not None and current not in found:
            found[current] = "\n".join(lines).strip()
        current, lines = _heading_key(match.group(2)), []
    return found


def task_items(text: str) -> list[tuple[str, bool]]:
    """Every Markdown task item `- [x] text` as (text, done)."""
    items = []
    for line in text.splitlines():
        match = _TASK.match(line)
        if match:
            items.append((match.group(2).strip(), match.group(1) in "xX"))
    return items
