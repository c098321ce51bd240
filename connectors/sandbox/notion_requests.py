"""The sandbox Notion's answers to bad requests, and the lookups and list pages every route
uses: ids, bodies and page sizes validated with Notion's own messages, shared pages and data
sources found (or Notion's 404 that says to share them), cursors paged as Notion pages them."""

from __future__ import annotations

import json
from typing import Any

from .notion_model import NotionStore, Page, Source, norm_id
from .server import ApiError, Request, Response, Service


class NotionRequests(NotionStore, Service):
    """What `NotionService` checks and looks up before a route does its work."""

    @staticmethod
    def _err(status: int, code: str, message: str) -> Response:
        return Response(status, {"object": "error", "status": status, "code": code,
                                 "message": message})

    def _not_found(self, what: str, raw_id: str) -> Response:
        return self._err(404, "object_not_found",
                         f"Could not find {what} with ID: {norm_id(raw_id) or raw_id}. Make sure "
                         "the relevant pages and databases are shared with your integration "
                         f'"{self.bot_name}".')

    def _invalid(self, message: str) -> ApiError:
        return ApiError(self._err(400, "validation_error", message))

    def _id(self, raw: str, where: str) -> str:
        nid = norm_id(raw)
        if not nid:
            raise self._invalid(f"path failed validation: path.{where} should be a valid uuid, "
                                f'instead was `"{raw}"`.')
        return nid

    def _page(self, raw: str) -> Page:
        page = self.pages.get(self._id(raw, "page_id"))
        if page is None or not page.source.db.shared:
            raise ApiError(self._not_found("page", raw))
        return page

    def _source(self, raw: str) -> Source:
        src = self.sources.get(self._id(raw, "data_source_id"))
        if src is None or not src.db.shared:
            raise ApiError(self._not_found("data_source", raw))
        return src

    def _body(self, req: Request) -> dict[str, Any]:
        try:
            body = req.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(self._err(400, "invalid_json", "Error parsing JSON body.")) from None
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise self._invalid("body failed validation: body should be an object.")
        return body

    def _page_size(self, value: Any, where: str) -> int:
        if value is None:
            return 100
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._invalid(f"{where.split('.')[0]} failed validation: {where} should be a "
                                f"number, instead was `{json.dumps(value)}`.")
        if value > 100:
            raise self._invalid(f"{where.split('.')[0]} failed validation: {where} should be "
                                f"less than or equal to `100`, instead was `{value}`.")
        if value < 1:
            raise self._invalid(f"{where.split('.')[0]} failed validation: {where} should be "
                                f"greater than or equal to `1`, instead was `{value}`.")
        return value

    def _list(self, items: list[Any], ids: list[str], start: str | None, size: int,
              kind: str, render: Any) -> dict[str, Any]:
        """A Notion list page; the cursor is the id of the next item, as Notion's are."""
        offset = 0
        if start:
            try:
                offset = ids.index(norm_id(start) or start)
            except ValueError:
                raise self._invalid(f"start_cursor provided is invalid: {start}") from None
        chunk = items[offset:offset + size]
        more = offset + size < len(items)
        return {"object": "list", "results": [render(x) for x in chunk],
                "next_cursor": ids[offset + size] if more else None, "has_more": more,
                "type": kind, kind: {}}
