"""The sandbox Notion's state: pages, comments and users loaded from a workspace, and
rendered as Notion's objects (the workspace format is in notion_api's docstring)."""

from __future__ import annotations

import gc
import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import notion_query as q
from .server import SandboxServer

__all__ = [
    "BOT_ID", "Database", "NotionStore", "Page", "Source", "minute", "new_id", "norm_id", "ts",
]

BOT_ID = "5a9d1c0e-0b7e-4f5e-9c39-4a2b6f1d7e01"


_DASHED = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX = re.compile(r"[0-9a-f]{32}")
_ids = random.Random()  # uuid4() reads os.urandom each call: too slow for 100k loads


def norm_id(raw: str) -> str:
    """Notion accepts ids with or without dashes; '' when `raw` is not a UUID."""
    if _DASHED.fullmatch(raw):
        return raw
    h = raw.replace("-", "").lower()
    if not _HEX.fullmatch(h):
        return ""
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_id() -> str:
    """A random version-4 UUID (not for secrets)."""
    return str(uuid.UUID(int=_ids.getrandbits(128), version=4))


def minute(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(second=0, microsecond=0)


def ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_time(value: str) -> datetime:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@dataclass(eq=False)
class Source:
    id: str
    name: str
    db: Database
    schema: dict[str, dict[str, Any]]  # property name -> Notion property object
    pages: list[Page] = field(default_factory=list)
    version: int = 0  # bumped on every page change; invalidates query snapshots


@dataclass(eq=False)
class Database:
    id: str
    title: str
    shared: bool
    created: datetime
    sources: list[Source] = field(default_factory=list)


@dataclass(eq=False)
class Page:
    id: str
    source: Source
    props: dict[str, Any]
    created: datetime
    edited: datetime
    created_by: str
    edited_by: str
    trashed: bool
    body: list[Any]
    comments: list[dict[str, Any]]

class NotionStore:
    """The emulated workspace: indexes built once at load, objects rendered on demand."""

    server: SandboxServer

    def load(self, workspace: dict[str, Any]) -> None:
        section = workspace.get("notion") or {}
        self.tokens: dict[str, str] = (workspace.get("tokens") or {}).get("notion", {})
        bot = section.get("bot") or {}
        self.bot_id = norm_id(bot.get("id", BOT_ID)) or BOT_ID
        self.bot_name = bot.get("name", "handoff-sync")
        self.workspace_name = bot.get("workspace_name", "Sandbox")
        self.users: dict[str, dict[str, Any]] = {}
        for person in workspace.get("people", []):
            uid = norm_id(person.get("notion_user_id") or "")
            if uid:
                self.users[uid] = {"id": uid, "name": person.get("name", ""), "type": "person",
                                   "email": person.get("email", ""),
                                   "active": person.get("active", True)}
        for user in section.get("users", []):
            uid = norm_id(user["id"])
            self.users[uid] = {"active": True, "type": "person", **user, "id": uid}
        self.users[self.bot_id] = {"id": self.bot_id, "name": self.bot_name, "type": "bot",
                                   "active": True}
        self.databases: dict[str, Database] = {}
        self.sources: dict[str, Source] = {}
        self.pages: dict[str, Page] = {}
        self.comments: dict[str, tuple[Page, dict[str, Any]]] = {}
        paused = gc.isenabled()
        gc.disable()  # 100k pages of small objects would set off collection after collection
        try:
            for db in section.get("databases", []):
                self._load_database(db)
        finally:
            if paused:
                gc.enable()


    def _load_database(self, spec: dict[str, Any]) -> None:
        now = minute(self.server.now())
        created = minute(parse_time(spec["created_time"])) if "created_time" in spec else now
        db = Database(norm_id(spec["id"]), spec.get("title", "Untitled"),
                      spec.get("shared", True), created)
        self.databases[db.id] = db
        sources = spec.get("data_sources") or [{
            "id": spec.get("data_source_id") or str(uuid.uuid5(uuid.NAMESPACE_URL, db.id)),
            "name": db.title, "properties": spec.get("properties", {}),
            "pages": spec.get("pages", [])}]
        for s in sources:
            src = Source(norm_id(s["id"]), s.get("name", db.title), db,
                         q.schema(s.get("properties") or {"Name": "title"}))
            db.sources.append(src)
            self.sources[src.id] = src
            for p in s.get("pages", []):
                self._load_page(src, p, now)

    def _load_page(self, src: Source, p: dict[str, Any], now: datetime) -> None:
        edited = minute(parse_time(p["last_edited_time"])) if "last_edited_time" in p else now
        created = minute(parse_time(p["created_time"])) if "created_time" in p else edited
        author = norm_id(p.get("created_by", "")) or self.bot_id
        props = dict(p.get("properties") or {})
        if "title" in p:
            props[q.title_name(src.schema)] = p["title"]
        page = Page(norm_id(p["id"]), src, props, created, edited, author, author,
                    bool(p.get("in_trash") or p.get("archived")), list(p.get("body") or []), [])
        src.pages.append(page)
        self.pages[page.id] = page
        for c in p.get("comments") or []:
            cid = norm_id(c.get("id", "")) or new_id()
            text = c.get("rich_text", c.get("text", ""))
            at = minute(parse_time(c["created_time"])) if "created_time" in c else edited
            comment = {"id": cid, "discussion_id": new_id(),
                       "created": at, "edited": at,
                       "author": norm_id(c.get("author", "")) or self.bot_id,
                       "rich_text": q.rich_text_list(text)}
            page.comments.append(comment)
            self.comments[cid] = (page, comment)

    def user(self, uid: str) -> dict[str, Any]:
        u = self.users.get(uid)
        if u is None:
            return {"object": "user", "id": uid}
        out: dict[str, Any] = {"object": "user", "id": uid, "name": u.get("name", ""),
                               "avatar_url": None, "type": u["type"]}
        if u["type"] == "bot":
            out["bot"] = ({"owner": {"type": "workspace", "workspace": True},
                           "workspace_name": self.workspace_name,
                           "workspace_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, self.bot_id)),
                           "workspace_limits": {"max_file_upload_size_in_bytes": 5242880}}
                          if uid == self.bot_id else {})
        else:
            out["person"] = {"email": u.get("email", ""), "email_verified": True}
        return out

    def render_page(self, page: Page) -> dict[str, Any]:
        src = page.source
        title = q.plain(page.props.get(q.title_name(src.schema)), "title") or ""
        slug = "-".join("".join(c if c.isalnum() else " " for c in title).split())
        return {
            "object": "page", "id": page.id, "created_time": ts(page.created),
            "last_edited_time": ts(page.edited),
            "created_by": {"object": "user", "id": page.created_by},
            "last_edited_by": {"object": "user", "id": page.edited_by},
            "cover": None, "icon": None,
            "parent": {"type": "data_source_id", "data_source_id": src.id,
                       "database_id": src.db.id},
            "in_trash": page.trashed, "is_archived": page.trashed, "is_locked": False,
            "properties": {name: q.render_value(prop, page.props.get(name), page.edited,
                                                page.created, self.user)
                           for name, prop in src.schema.items()},
            "url": f"https://www.notion.so/{slug + '-' if slug else ''}"
                   f"{page.id.replace('-', '')}",
            "public_url": None, "archived": page.trashed,
        }

    def render_comment(self, page: Page, c: dict[str, Any]) -> dict[str, Any]:
        author = self.users.get(c["author"], {})
        return {"object": "comment", "id": c["id"],
                "parent": {"type": "page_id", "page_id": page.id},
                "discussion_id": c["discussion_id"], "created_time": ts(c["created"]),
                "last_edited_time": ts(c["edited"]),
                "created_by": {"object": "user", "id": c["author"]},
                "rich_text": c["rich_text"],
                "display_name": {"type": "integration" if author.get("type") == "bot" else "user",
                                 "resolved_name": author.get("name", "")}}

    def _blocks(self, page: Page) -> list[dict[str, Any]]:
        blocks = []
        for i, b in enumerate(page.body):
            kind, text = ("paragraph", b) if isinstance(b, str) else (b["type"], b.get("text", ""))
            content: dict[str, Any] = {"rich_text": q.rich_text_list(text), "color": "default"}
            if kind.startswith("heading_"):
                content["is_toggleable"] = False
            elif kind == "paragraph":
                content["icon"] = None
            blocks.append({
                "object": "block", "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{page.id}/{i}")),
                "parent": {"type": "page_id", "page_id": page.id},
                "created_time": ts(page.created), "last_edited_time": ts(page.edited),
                "created_by": {"object": "user", "id": page.created_by},
                "last_edited_by": {"object": "user", "id": page.edited_by},
                "has_children": False, "in_trash": False, "type": kind, kind: content,
                "archived": False})
        return blocks
