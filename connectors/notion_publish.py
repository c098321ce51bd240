"""Publish a document (the weekly review) as one Notion page under a page the integration
can see: created once, then edited in place, block by block, never created twice.

The page is found again among the parent's `child_page` blocks by its first block, a paragraph
holding the marker (Notion has no hidden text); a page of ours with our title and no content
yet (a create whose content was never appended) is taken up too. An edit changes only the
blocks whose text differs, removes the extra ones and appends the missing ones, so a review
that did not change costs reads only. The marker block is never removed, so a run stopped
midway still finds its page next time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = ["Block", "PublishesPages"]

Block = tuple[str, str]  # (Notion block type, its text)
_CHUNK = 100  # Notion: at most 100 blocks appended per request
_TEXT = 2000  # Notion: at most 2,000 characters in one rich text object
_LIST = "the blocks of the page (GET /v1/blocks/…/children)"
_WRITE = "page.publish"  # its capability in connectors.notion_errors


def _rich(text: str) -> list[dict[str, Any]]:
    parts = [text[i : i + _TEXT] for i in range(0, len(text), _TEXT)] or [""]
    return [{"type": "text", "text": {"content": p}} for p in parts]


def _block(kind: str, text: str) -> dict[str, Any]:
    return {"type": kind, kind: {"rich_text": _rich(text)}}


def _text_of(block: dict[str, Any]) -> Block:
    kind = str(block.get("type", ""))
    rich = (block.get(kind) or {}).get("rich_text") or []
    return kind, "".join(str(r.get("plain_text", "")) for r in rich if isinstance(r, dict))


class PublishesPages:
    """Mixed into `NotionConnector` (which provides `client`, `_call` and `_paged`)."""

    client: Any
    _call: Callable[..., Any]
    _paged: Callable[..., Iterator[dict[str, Any]]]

    def _children(self, block_id: str, scope: str) -> list[dict[str, Any]]:
        return list(
            self._paged(lambda **kw: self.client.blocks.children.list(block_id, **kw),
                        scope=scope, what=_LIST, page_size=100)
        )  # fmt: skip

    def _find_page(
        self, parent: str, title: str, marker: str, scope: str
    ) -> tuple[str, list[dict[str, Any]]] | None:
        """Our page under `parent` and its blocks, or None."""
        for block in self._children(parent, scope):
            if block.get("type") != "child_page" or block.get("in_trash"):
                continue
            inside = self._children(block["id"], scope)
            if inside and _text_of(inside[0]) == ("paragraph", marker):
                return str(block["id"]), inside
            if not inside and (block.get("child_page") or {}).get("title") == title:
                return str(block["id"]), inside
        return None

    def publish_page(
        self, parent: str, title: str, blocks: Sequence[Block], marker: str
    ) -> tuple[str, str, bool]:
        """Create our page under `parent` or edit it in place: (page id, url, created)."""
        scope = f"notion:{parent}"
        wanted = [("paragraph", marker), *blocks]
        found = self._find_page(parent, title, marker, scope)
        created = found is None
        have: list[dict[str, Any]] = []
        if found is None:
            page = self._call(
                lambda: self.client.pages.create(
                    parent={"page_id": parent}, properties={"title": {"title": _rich(title)}}
                ),
                scope=scope, what=_WRITE, idempotent=False,
            )  # fmt: skip
            page_id = str(page["id"])
        else:
            page_id, have = found
        self._edit(page_id, have, wanted, scope)
        return page_id, f"https://www.notion.so/{page_id.replace('-', '')}", created

    def _edit(
        self, page_id: str, have: list[dict[str, Any]], wanted: list[Block], scope: str
    ) -> None:
        for block, (kind, text) in zip(have, wanted, strict=False):
            if _text_of(block) == (kind, text):
                continue
            if block.get("type") == kind:
                body = {kind: {"rich_text": _rich(text)}}
                self._call(lambda b=block, d=body: self.client.blocks.update(b["id"], **d),
                           scope=scope, what=_WRITE)  # fmt: skip
            else:  # another kind of block: Notion cannot change a block's type
                self._replace_from(page_id, have, wanted, have.index(block), scope)
                return
        for block in have[len(wanted) :]:
            self._call(lambda b=block: self.client.blocks.delete(b["id"]), scope=scope,
                       what=_WRITE)  # fmt: skip
        self._append(page_id, wanted[len(have) :], scope)

    def _replace_from(
        self, page_id: str, have: list[dict[str, Any]], wanted: list[Block], at: int, scope: str
    ) -> None:
        for block in have[max(at, 1) :]:  # the marker block stays
            self._call(lambda b=block: self.client.blocks.delete(b["id"]), scope=scope,
                       what=_WRITE)  # fmt: skip
        self._append(page_id, wanted[max(at, 1) :], scope)

    def _append(self, page_id: str, blocks: Sequence[Block], scope: str) -> None:
        for at in range(0, len(blocks), _CHUNK):
            chunk = [_block(k, t) for k, t in blocks[at : at + _CHUNK]]
            self._call(lambda c=chunk: self.client.blocks.children.append(page_id, children=c),
                       scope=scope, what=_WRITE, idempotent=False)  # fmt: skip
