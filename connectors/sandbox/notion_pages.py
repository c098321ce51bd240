"""The sandbox's Notion pages outside databases, as Notion serves them: a page under a page
(`POST /v1/pages` with a `page_id` parent, whose only property is `title`), its content blocks
(`GET`/`PATCH /v1/blocks/{id}/children`), and one block's text or its removal
(`PATCH`/`DELETE /v1/blocks/{id}`; a removed block is kept in the trash and no longer listed).

Workspace section: `ws["notion"]["pages"] = [{"id": "<uuid>", "title": "Team reviews"}]`, pages
shared with the integration that a report may be published under. A new page shows in its
parent's children as a `child_page` block, as in Notion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import notion_query as q
from .notion_model import minute, new_id, norm_id, ts
from .server import ApiError, Request, route

__all__ = ["LoosePage", "NotionPages"]

_ANY = r"[^/]+"
_TEXT_BLOCKS = ("paragraph", "heading_1", "heading_2", "heading_3", "bulleted_list_item",
                "numbered_list_item", "quote")  # fmt: skip
_MAX_CHILDREN = 100  # Notion: at most 100 blocks per request
_MAX_TEXT = 2000  # Notion: at most 2,000 characters in one rich text object


@dataclass(eq=False)
class LoosePage:
    id: str
    title: str
    parent: str  # "" for a workspace page loaded from the workspace
    created: datetime
    edited: datetime
    blocks: list[dict[str, Any]] = field(default_factory=list)  # stored blocks, in order
    trashed: bool = False


class NotionPages:
    """Routes for pages under pages; mixed into `NotionService`."""

    loose: dict[str, LoosePage]
    bot_id: str

    def load_loose(self, workspace: dict[str, Any], now: datetime) -> None:
        self.loose = {}
        for spec in (workspace.get("notion") or {}).get("pages", []):
            page = LoosePage(norm_id(spec["id"]), spec.get("title", "Untitled"), "",
                             minute(now), minute(now))  # fmt: skip
            self.loose[page.id] = page

    def _loose(self, raw: str, what: str = "block") -> LoosePage:
        page = self.loose.get(norm_id(raw))
        if page is None or page.trashed:
            raise ApiError(self._not_found(what, raw))  # type: ignore[attr-defined]
        return page

    def _block_of(self, raw: str) -> tuple[LoosePage, dict[str, Any]]:
        bid = norm_id(raw)
        for page in self.loose.values():
            for block in page.blocks:
                if block["id"] == bid and not block["in_trash"]:
                    return page, block
        raise ApiError(self._not_found("block", raw))  # type: ignore[attr-defined]

    def _render_page(self, page: LoosePage) -> dict[str, Any]:
        return {
            "object": "page", "id": page.id, "created_time": ts(page.created),
            "last_edited_time": ts(page.edited),
            "created_by": {"object": "user", "id": self.bot_id},
            "last_edited_by": {"object": "user", "id": self.bot_id},
            "cover": None, "icon": None, "in_trash": page.trashed, "archived": page.trashed,
            "parent": {"type": "page_id", "page_id": page.parent} if page.parent
            else {"type": "workspace", "workspace": True},
            "properties": {"title": {"id": "title", "type": "title",
                                     "title": q.rich_text_list(page.title)}},
            "url": f"https://www.notion.so/{page.id.replace('-', '')}", "public_url": None,
        }  # fmt: skip

    def _new_block(self, page: LoosePage, kind: str, content: dict[str, Any]) -> dict[str, Any]:
        now = ts(self.server.now())  # type: ignore[attr-defined]
        return {"object": "block", "id": new_id(), "type": kind, kind: content,
                "parent": {"type": "page_id", "page_id": page.id}, "created_time": now,
                "last_edited_time": now, "created_by": {"object": "user", "id": self.bot_id},
                "last_edited_by": {"object": "user", "id": self.bot_id}, "has_children": False,
                "in_trash": False, "archived": False}  # fmt: skip

    def _text_content(self, kind: str, spec: Any, where: str) -> dict[str, Any]:
        """A text block's content as Notion accepts it; 400 for anything it would refuse."""
        if kind not in _TEXT_BLOCKS or not isinstance(spec, dict):
            raise self._invalid(f"body failed validation: {where} should be a block object.")  # type: ignore[attr-defined]
        rich = spec.get("rich_text")
        if not isinstance(rich, list) or len(rich) > _MAX_CHILDREN:
            raise self._invalid(f"body failed validation: {where}.rich_text should be an array.")  # type: ignore[attr-defined]
        return {"rich_text": [q.rich_text_item(t) for t in self._texts(rich, where)],
                "color": "default"}  # fmt: skip

    def _texts(self, rich: Any, where: str) -> list[str]:
        out = []
        for obj in rich if isinstance(rich, list) else [None]:
            text = (obj.get("text") or {}).get("content") if isinstance(obj, dict) else None
            if not isinstance(text, str) or len(text) > _MAX_TEXT:
                raise self._invalid(  # type: ignore[attr-defined]
                    f"body failed validation: {where}.rich_text[].text.content should be a "
                    f"string of at most {_MAX_TEXT} characters."
                )
            out.append(text)
        return out

    @route("POST", r"/v1/pages")
    def create_page(self, req: Request) -> dict[str, Any]:
        body = self._body(req)  # type: ignore[attr-defined]
        parent = body.get("parent") or {}
        if "page_id" not in parent:  # database parents: the sync never creates those
            raise self._invalid("body failed validation: body.parent.page_id should be defined.")  # type: ignore[attr-defined]
        under = self._loose(str(parent["page_id"]), "page")
        props = body.get("properties") or {}
        if set(props) - {"title"}:
            raise self._invalid("Invalid property for a page under a page: only title.")  # type: ignore[attr-defined]
        rich = (props.get("title") or {}).get("title")
        title = "".join(self._texts(rich, "body.properties.title")) or "Untitled"
        now = minute(self.server.now())  # type: ignore[attr-defined]
        page = LoosePage(new_id(), title, under.id, now, now)
        self.loose[page.id] = page
        child = self._new_block(under, "child_page", {"title": title})
        child["id"] = page.id  # in Notion a child_page block's id is the page's id
        under.blocks.append(child)
        under.edited = now
        return self._render_page(page)

    def loose_children(self, req: Request, block_id: str) -> dict[str, Any]:
        page = self._loose(block_id)
        blocks = [b for b in page.blocks if not b["in_trash"]]
        size = self._page_size(req.arg("page_size"), "query.page_size")  # type: ignore[attr-defined]
        return self._list(blocks, [b["id"] for b in blocks], req.arg("start_cursor"), size,  # type: ignore[attr-defined, no-any-return]
                          "block", lambda b: b)  # fmt: skip

    @route("PATCH", rf"/v1/blocks/(?P<block_id>{_ANY})/children")
    def append_children(self, req: Request, block_id: str) -> dict[str, Any]:
        page = self._loose(block_id)
        children = self._body(req).get("children")  # type: ignore[attr-defined]
        if not isinstance(children, list) or not 0 < len(children) <= _MAX_CHILDREN:
            raise self._invalid("body failed validation: body.children should be an array of "  # type: ignore[attr-defined]
                                f"1 to {_MAX_CHILDREN} blocks.")  # fmt: skip
        made = []
        for i, spec in enumerate(children):
            kind = spec.get("type") or next(iter(set(spec) & set(_TEXT_BLOCKS)), "")
            content = self._text_content(kind, spec.get(kind), f"body.children[{i}]")
            made.append(self._new_block(page, kind, content))
        page.blocks += made
        page.edited = minute(self.server.now())  # type: ignore[attr-defined]
        return {"object": "list", "results": made, "next_cursor": None, "has_more": False,
                "type": "block", "block": {}}  # fmt: skip

    @route("PATCH", rf"/v1/blocks/(?P<block_id>{_ANY})")
    def update_block(self, req: Request, block_id: str) -> dict[str, Any]:
        page, block = self._block_of(block_id)
        body = self._body(req)  # type: ignore[attr-defined]
        kind = block["type"]
        if kind in body:
            block[kind] = self._text_content(kind, body[kind], f"body.{kind}")
        block["last_edited_time"] = ts(self.server.now())  # type: ignore[attr-defined]
        page.edited = minute(self.server.now())  # type: ignore[attr-defined]
        return block

    @route("DELETE", rf"/v1/blocks/(?P<block_id>{_ANY})")
    def delete_block(self, req: Request, block_id: str) -> dict[str, Any]:
        page, block = self._block_of(block_id)
        block["in_trash"] = block["archived"] = True
        if block["type"] == "child_page" and block["id"] in self.loose:
            self.loose[block["id"]].trashed = True
        page.edited = minute(self.server.now())  # type: ignore[attr-defined]
        return block
