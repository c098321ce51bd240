"""The sandbox's Notion: API 2025-09-03 (databases hold data sources) under /v1/.

Workspace section (`ws["notion"]`); ids are UUIDs (with or without dashes), times ISO-8601 UTC:

    {"bot": {"id": "<uuid>", "name": "handoff-sync", "workspace_name": "Acme"},
     "users": [{"id": "<uuid>", "name": "Alerts bot", "type": "bot"}],  # beyond `people`
     "databases": [{
        "id": "<uuid>", "title": "Experiments", "shared": true, "created_time": "...",
        "data_source_id": "<uuid>",            # optional; one implicit data source
        "properties": {"Name": "title", "Owner": "people", "Notes": "rich_text",
                       "Stage": {"type": "select", "options": ["Design", "Run"]},
                       "Status": {"type": "status", "options": ["Not started", "Done"]}},
        "pages": [{"id": "<uuid>", "created_time": "...", "last_edited_time": "...",
                   "in_trash": false, "created_by": "<user uuid>",
                   "properties": {"Name": "EXP-42 checkout", "Owner": ["<user uuid>"],
                                  "Stage": "Run", "Notes": "plain text or a rich_text array"},
                   "body": [{"type": "heading_2", "text": "Hypothesis"}, "a paragraph"],
                   "comments": [{"id": "<uuid>", "author": "<user uuid>", "text": "..."}]}]}]}

A database may instead list `"data_sources": [{"id", "name", "properties", "pages"}]`.
Property values are stored in this simple form (title/rich_text: str or rich_text array,
select/status: option name, multi_select: names, people/relation: ids, date: "YYYY-MM-DD" or
{"start", "end", "time_zone"}, number, checkbox, url, formula: a plain value) and rendered as
Notion's full objects on the way out. People with a `notion_user_id` are Notion persons
(inactive ones are not listed). Timestamps are kept to the minute, as Notion does.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..window import SlidingWindow
from . import notion_query as q
from .notion_model import BOT_ID, Page, minute, new_id, norm_id, ts
from .notion_pages import NotionPages
from .notion_requests import NotionRequests
from .server import ApiError, Request, Response, SandboxServer, route

__all__ = ["BOT_ID", "NotionService"]

VERSION = "2025-09-03"
_UUID = r"[0-9a-fA-F-]{32,36}"
_ANY = r"[^/]+"
_MESSAGES = {
    400: ("validation_error", "Invalid request."),
    401: ("unauthorized", "API token is invalid."),
    403: ("restricted_resource", "Insufficient permissions for this endpoint."),
    404: ("object_not_found", "Could not find object."),
    409: ("conflict_error", "Conflict occurred while saving. Please try again."),
    429: ("rate_limited", "You have been rate limited. Please try again in a few minutes."),
    500: ("internal_server_error", "Unexpected error occurred."),
    502: ("internal_server_error", "Unexpected error occurred."),
    503: ("service_unavailable", "Notion is unavailable, please try again later."),
    504: ("gateway_timeout", "Gateway timeout."),
}
_ARCHIVED = "Can't edit block that is archived. You must unarchive the block before editing."


class NotionService(NotionPages, NotionRequests):
    name = "notion"
    prefix = "/v1/"
    RATE_LIMIT = 9  # requests per RATE_WINDOW seconds: ~3/s on average, bursts allowed
    RATE_WINDOW = 3.0
    SNAPSHOTS = 64  # query result lists kept so cursors stay valid while pages change

    def __init__(self, server: SandboxServer, workspace: dict[str, Any]) -> None:
        super().__init__(server)
        self._snapshots: dict[str, tuple[int, list[Page], dict[str, int]]] = {}
        self._windows: dict[str, SlidingWindow] = {}
        self.load(workspace)
        self.load_loose(workspace, server.now())

    # -- service hooks ---------------------------------------------------------------------
    def authenticate(self, req: Request) -> None:
        auth = req.headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else ""
        if token not in self.tokens:
            raise ApiError(self.error(401, "", req))
        req.access = self.tokens[token]
        version = req.headers.get("Notion-Version")
        if not version:
            raise ApiError(self._err(400, "missing_version",
                                     "Notion-Version header failed validation: Notion-Version "
                                     "header should be defined, instead was `undefined`."))
        if version < VERSION and req.path.startswith("/v1/data_sources"):
            raise ApiError(self._err(400, "invalid_request_url", "Invalid request URL."))

    def error(self, status: int, message: str = "", req: Request | None = None) -> Response:
        if (status == 404 and message == "Not Found") or status == 405:  # no such route
            return self._err(400, "invalid_request_url", "Invalid request URL.")
        code, default = _MESSAGES.get(status, ("internal_server_error", "Unexpected error."))
        if status == 404 and req is not None and not message:
            parts = req.path.strip("/").split("/")
            kind = {"pages": "page", "databases": "database", "data_sources": "data_source",
                    "blocks": "block", "comments": "comment", "users": "user"}
            what = kind.get(parts[1], "object") if len(parts) > 2 else "object"
            return self._not_found(what, parts[2] if len(parts) > 2 else "")
        resp = self._err(status, code, message or default)
        if status == 429:
            resp.headers.setdefault("Retry-After", "1")
        return resp

    def forbidden(self, req: Request) -> Response:
        return self._err(403, "restricted_resource", _MESSAGES[403][1])

    def is_write(self, req: Request) -> bool:
        if req.method == "POST" and (req.path.endswith("/query") or req.path == "/v1/search"):
            return False  # reads that Notion happens to answer on POST
        return super().is_write(req)

    def limit(self, req: Request, now: float) -> Response | None:
        token = (req.headers.get("Authorization") or "")[7:]
        window = self._windows.setdefault(token, SlidingWindow(self.RATE_LIMIT, self.RATE_WINDOW))
        wait = window.hit(now)
        if not wait:
            return None
        resp = self._err(429, *_MESSAGES[429])
        resp.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return resp

    def decorate(self, req: Request, resp: Response) -> Response:
        body = resp.body
        if isinstance(body, dict) and "object" in body and "request_id" not in body:
            resp.body = {**body, "request_id": new_id()}
        return resp

    def _touch(self, page: Page) -> None:
        page.edited = minute(self.server.now())
        page.edited_by = self.bot_id
        page.source.version += 1

    # -- databases and data sources --------------------------------------------------------
    @route("GET", rf"/v1/databases/(?P<db_id>{_ANY})")
    def get_database(self, req: Request, db_id: str) -> dict[str, Any]:
        db = self.databases.get(self._id(db_id, "database_id"))
        if db is None or not db.shared:
            raise ApiError(self._not_found("database", db_id))
        return {"object": "database", "id": db.id, "title": q.rich_text_list(db.title),
                "description": [], "parent": {"type": "workspace", "workspace": True},
                "is_inline": False, "in_trash": False, "is_locked": False,
                "created_time": ts(db.created), "last_edited_time": ts(db.created),
                "data_sources": [{"id": s.id, "name": s.name} for s in db.sources],
                "icon": None, "cover": None,
                "url": f"https://www.notion.so/{db.id.replace('-', '')}", "public_url": None,
                "archived": False}

    @route("GET", rf"/v1/data_sources/(?P<ds_id>{_ANY})")
    def get_data_source(self, req: Request, ds_id: str) -> dict[str, Any]:
        src = self._source(ds_id)
        bot = {"object": "user", "id": self.bot_id}
        return {"object": "data_source", "id": src.id, "cover": None, "icon": None,
                "created_time": ts(src.db.created), "created_by": bot, "last_edited_by": bot,
                "last_edited_time": ts(src.db.created), "title": q.rich_text_list(src.name),
                "description": [], "is_inline": False, "properties": src.schema,
                "parent": {"type": "database_id", "database_id": src.db.id},
                "database_parent": {"type": "workspace", "workspace": True},
                "url": f"https://www.notion.so/{src.db.id.replace('-', '')}",
                "public_url": None, "in_trash": False, "archived": False}

    @route("POST", r"/v1/search")
    def search(self, req: Request) -> dict[str, Any]:
        # Data sources (or pages) shared with the integration whose title holds `query`.
        body = self._body(req)
        size = self._page_size(body.get("page_size"), "body.page_size")
        kind = (body.get("filter") or {}).get("value", "")
        if kind not in ("", "page", "data_source"):
            raise self._invalid("body failed validation: body.filter.value should be "
                                f'`"page"` or `"data_source"`, instead was `"{kind}"`.')
        words = str(body.get("query") or "").casefold()
        found: list[dict[str, Any]] = []
        if kind in ("", "data_source"):
            found += [self.get_data_source(req, s.id) for s in self.sources.values()
                      if s.db.shared and words in s.name.casefold()]
        if kind in ("", "page"):
            found += [self.render_page(p) for p in self.pages.values()
                      if p.source.db.shared and not p.trashed]
        start = int(body["start_cursor"]) if str(body.get("start_cursor", "")).isdigit() else 0
        chunk, more = found[start:start + size], start + size < len(found)
        return {"object": "list", "results": chunk,
                "next_cursor": str(start + size) if more else None, "has_more": more,
                "type": "page_or_data_source", "page_or_data_source": {}}

    @route("POST", rf"/v1/data_sources/(?P<ds_id>{_ANY})/query")
    def query(self, req: Request, ds_id: str) -> dict[str, Any]:
        src = self._source(ds_id)
        body = self._body(req)
        size = self._page_size(body.get("page_size"), "body.page_size")
        try:
            keep = q.predicate(src.schema, body.get("filter"))
            order = q.ordering(src.schema, body.get("sorts"))
        except q.Invalid as e:
            raise self._invalid(str(e)) from None
        trashed = bool(body.get("in_trash") or body.get("archived"))
        key = json.dumps([src.id, body.get("filter"), body.get("sorts"), trashed], sort_keys=True)
        snap = self._snapshots.get(key)
        if snap is None or (not body.get("start_cursor") and snap[0] != src.version):
            pages = [p for p in src.pages if (trashed or not p.trashed) and keep(p)]
            pages = order(pages)
            snap = (src.version, pages, {p.id: i for i, p in enumerate(pages)})
            self._snapshots.pop(key, None)
            self._snapshots[key] = snap
            while len(self._snapshots) > self.SNAPSHOTS:
                self._snapshots.pop(next(iter(self._snapshots)))
        _, pages, pos = snap
        start = body.get("start_cursor")
        offset = pos.get(norm_id(start) if isinstance(start, str) else "", -1) if start else 0
        if offset < 0:
            raise self._invalid(f"start_cursor provided is invalid: {start}")
        chunk = pages[offset:offset + size]
        more = offset + size < len(pages)
        return {"object": "list", "results": [self.render_page(p) for p in chunk],
                "next_cursor": pages[offset + size].id if more else None, "has_more": more,
                "type": "page_or_data_source", "page_or_data_source": {}}

    # -- pages -----------------------------------------------------------------------------
    @route("GET", rf"/v1/pages/(?P<page_id>{_ANY})")
    def get_page(self, req: Request, page_id: str) -> dict[str, Any]:
        return self.render_page(self._page(page_id))

    @route("PATCH", rf"/v1/pages/(?P<page_id>{_ANY})")
    def update_page(self, req: Request, page_id: str) -> dict[str, Any]:
        page = self._page(page_id)
        body = self._body(req)
        props = body.get("properties")
        if props is not None and not isinstance(props, dict):
            raise self._invalid("body failed validation: body.properties should be an object, "
                                f"instead was `{json.dumps(props)}`.")
        trash = body.get("in_trash", body.get("archived"))
        if props and page.trashed and trash is not False:
            raise self._invalid(_ARCHIVED)
        try:
            updates = {q.resolve(page.source.schema, name)[0]:
                       q.accept(q.resolve(page.source.schema, name)[1], value, self.users)
                       for name, value in (props or {}).items()}
        except q.Invalid as e:
            raise self._invalid(str(e)) from None
        if trash is not None:
            page.trashed = bool(trash)
        page.props.update(updates)
        if updates or trash is not None:
            self._touch(page)
        return self.render_page(page)

    @route("GET", rf"/v1/blocks/(?P<block_id>{_ANY})/children")
    def block_children(self, req: Request, block_id: str) -> dict[str, Any]:
        if norm_id(block_id) in self.loose:  # a page under a page (notion_pages)
            return self.loose_children(req, block_id)
        page = self._page(block_id)
        blocks = self._blocks(page)
        size = self._page_size(req.arg("page_size"), "query.page_size")
        return self._list(blocks, [b["id"] for b in blocks], req.arg("start_cursor"), size,
                          "block", lambda b: b)

    # -- comments --------------------------------------------------------------------------
    @route("GET", r"/v1/comments")
    def list_comments(self, req: Request) -> dict[str, Any]:
        raw = req.arg("block_id")
        if not raw:
            raise self._invalid("query failed validation: query.block_id should be defined, "
                                "instead was `undefined`.")
        page = self._page(raw)
        size = self._page_size(req.arg("page_size"), "query.page_size")
        return self._list(page.comments, [c["id"] for c in page.comments],
                          req.arg("start_cursor"), size, "comment",
                          lambda c: self.render_comment(page, c))

    @route("POST", r"/v1/comments")
    def create_comment(self, req: Request) -> dict[str, Any]:
        body = self._body(req)
        parent = body.get("parent")
        if not isinstance(parent, dict) or not parent.get("page_id"):
            raise self._invalid("body failed validation: body.parent.page_id should be defined, "
                                "instead was `undefined`.")
        page = self._page(str(parent["page_id"]))
        try:
            rich = q.accept_rich_text(body.get("rich_text"), "body.rich_text", self.users)
        except q.Invalid as e:
            raise self._invalid(str(e)) from None
        now = minute(self.server.now())
        cid = new_id()
        comment = {"id": cid, "discussion_id": new_id(), "created": now, "edited": now,
                   "author": self.bot_id, "rich_text": rich}
        page.comments.append(comment)
        self.comments[cid] = (page, comment)
        return self.render_comment(page, comment)

    def person_comment(self, page_id: str, author: str, text: str | list[Any]) -> str:
        """A person's comment made in Notion's app (the API comments only as the integration);
        as in Notion, it does not move the page's last_edited_time. Announced as a
        `comment.created` webhook by that person when webhooks are on. Returns its id."""
        if isinstance(text, str):
            text = [{"type": "text", "text": {"content": text, "link": None},
                     "plain_text": text, "annotations": {}, "href": None}]
        with self.server.lock:
            page = self.pages[norm_id(page_id)]
            now = minute(self.server.now())
            cid = new_id()
            comment = {"id": cid, "discussion_id": new_id(), "created": now, "edited": now,
                       "author": author, "rich_text": text}
            page.comments.append(comment)
            self.comments[cid] = (page, comment)
            hooks = self.server.webhooks
            if hooks is not None:
                hooks.notion_comment(self, page, cid, author)
        return cid

    @route("PATCH", rf"/v1/comments/(?P<comment_id>{_ANY})")
    def update_comment(self, req: Request, comment_id: str) -> dict[str, Any]:
        found = self.comments.get(self._id(comment_id, "comment_id"))
        if found is None or not found[0].source.db.shared:
            raise ApiError(self._not_found("comment", comment_id))
        page, comment = found
        if comment["author"] != self.bot_id:  # integrations may edit only their own comments
            raise ApiError(self.forbidden(req))
        try:
            rich = q.accept_rich_text(self._body(req).get("rich_text"), "body.rich_text",
                                      self.users)
        except q.Invalid as e:
            raise self._invalid(str(e)) from None
        comment["rich_text"] = rich
        comment["edited"] = minute(self.server.now())
        return self.render_comment(page, comment)

    @route("DELETE", rf"/v1/comments/(?P<comment_id>{_ANY})")
    def delete_comment(self, req: Request, comment_id: str) -> dict[str, Any]:
        """Notion's reference (delete-a-comment): a connection may delete only the comments it
        created; any other, like one already deleted, answers 404 object_not_found. The answer
        is the deleted comment object."""
        cid = self._id(comment_id, "comment_id")
        found = self.comments.get(cid)
        if found is None or not found[0].source.db.shared or found[1]["author"] != self.bot_id:
            raise ApiError(self._not_found("comment", comment_id))
        page, comment = found
        page.comments.remove(comment)
        del self.comments[cid]
        return self.render_comment(page, comment)

    # -- users -----------------------------------------------------------------------------
    @route("GET", r"/v1/users")
    def list_users(self, req: Request) -> dict[str, Any]:
        ids = [uid for uid, u in self.users.items() if u.get("active", True)]
        size = self._page_size(req.arg("page_size"), "query.page_size")
        return self._list(ids, ids, req.arg("start_cursor"), size, "user", self.user)

    @route("GET", r"/v1/users/me")
    def me(self, req: Request) -> dict[str, Any]:
        return self.user(self.bot_id)

    @route("GET", rf"/v1/users/(?P<user_id>{_UUID})")
    def get_user(self, req: Request, user_id: str) -> dict[str, Any]:
        uid = self._id(user_id, "user_id")
        if uid not in self.users or not self.users[uid].get("active", True):
            raise ApiError(self._err(404, "object_not_found",
                                     f"Could not find user with ID: {uid}."))
        return self.user(uid)
