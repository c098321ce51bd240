"""Jira's two body formats in the sandbox: ADF documents (REST v3) and wiki markup (v2).

The sandbox stores a body as the client sent it and answers it in the format of the API
version asked, as Jira Cloud does.
"""

from __future__ import annotations

from typing import Any

__all__ = ["adf_text", "adf_wiki", "to_adf"]


def adf_text(node: Any) -> str:
    """Plain text of an ADF document (text nodes joined, paragraphs on new lines)."""
    if isinstance(node, str):
        return node
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    if node.get("type") == "mention":
        # v2 shows an ADF mention as wiki markup, so it still notifies and names the person.
        return f"[~accountid:{(node.get('attrs') or {}).get('id', '')}]"
    parts = [adf_text(c) for c in node.get("content", [])]
    sep = "\n" if node.get("type") in ("doc", "bulletList", "orderedList") else ""
    return sep.join(parts)


def adf_wiki(node: Any) -> str:
    """An ADF document as Jira's v2 API answers it: wiki markup, so headings, list items and
    mentions keep their meaning (`h2. Hypothesis`, `* item`, `[~accountid:ID]`)."""
    lines: list[str] = []

    def inline(n: Any) -> str:
        if not isinstance(n, dict):
            return ""
        kind = n.get("type")
        if kind == "text":
            return str(n.get("text", ""))
        if kind == "hardBreak":
            return "\n"
        if kind == "mention":
            return f"[~accountid:{(n.get('attrs') or {}).get('id', '')}]"
        return "".join(inline(c) for c in n.get("content") or [])

    def block(n: Any, bullet: str = "") -> None:
        if not isinstance(n, dict):
            return
        kind = n.get("type")
        attrs = n.get("attrs") or {}
        if kind == "heading":
            lines.append(f"h{attrs.get('level', 2)}. {inline(n)}")
        elif kind in ("bulletList", "orderedList", "taskList"):
            mark = {"bulletList": "*", "orderedList": "#", "taskList": "*"}[kind]
            for child in n.get("content") or []:
                block(child, bullet + mark)
        elif kind in ("listItem", "taskItem"):
            box = ""
            if kind == "taskItem":
                box = "[x] " if attrs.get("state") == "DONE" else "[ ] "
            parts = n.get("content") or []
            text = " ".join(inline(c) for c in parts if c.get("type") != "bulletList")
            lines.append(f"{bullet or '*'} {box}{text}")
        elif kind == "doc":
            for child in n.get("content") or []:
                block(child)
        else:
            lines.append(inline(n))

    block(node)
    return "\n".join(lines)


def to_adf(text: str) -> dict[str, Any]:
    """A wiki/plain string as the ADF document Jira v3 would show for it."""
    paras = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
        for line in text.split("\n")
    ]
    return {"type": "doc", "version": 1, "content": paras}
