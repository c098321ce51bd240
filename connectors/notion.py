"""Notion through notion-client 3.1 (API 2025-09-03): pages of a database, comments, people.

A scope is a database id; it is resolved once to its data source(s), which are queried with a
last_edited_time filter and sorted by it. Notion keeps last_edited_time to the minute, so a
pull asks from a little before the cursor, and the pages of the cursor's own minute come back
again. They are yielded again: the state compares each page's content digest with the stored
row, so an unchanged boundary page makes no work, in this process or a new one (cron), and a
page changed twice within one minute is not lost.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from notion_client import Client
from notion_client.client import ClientOptions

from ._answers import PageTokens, ServerClock, bad, entries, for_item, need_dict
from ._retry import RetryPolicy, call_with_retry
from .base import (
    MARKER_PREFIX,
    Account,
    CommentRef,
    Cursor,
    Said,
    Scope,
    SourceItem,
    WriteOp,
    WriteResult,
)
from .constants import Remembers, accounts_from, accounts_to
from .errors import BadAnswer, ItemError, NotFound, PlanError, TransientError, register_secret
from .found import FoundComments
from .gate import Gated, gate_httpx
from .notion_errors import LISTING, translate
from .notion_publish import PublishesPages
from .notion_text import parse_time as _parse_time
from .notion_text import said_in
from .notion_text import shown as _shown
from .notion_wanted import NotionWanted

__all__ = ["NotionConnector", "open_client"]

log = logging.getLogger(__name__)
_SDK_LOG = logging.getLogger(__name__ + ".sdk")  # given to the client so it adds no handlers

def open_client(url: str, token: str, *, timeout: float) -> Client:
    """A notion-client Client for `url` (the sandbox or https://api.notion.com).

    Its own retries are off (retry=False sets max_retries to 0 in 3.1): one policy decides.
    """
    register_secret(token)
    options = ClientOptions(auth=token, base_url=url.rstrip("/"), timeout_ms=int(timeout * 1000),
                            retry=False, logger=_SDK_LOG, log_level=logging.WARNING)
    return Client(options=options)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _plain(rich_text: Any) -> str:
    return "".join(t.get("plain_text", "") for t in rich_text or [] if isinstance(t, dict))


def _title(page: dict[str, Any]) -> str:
    for prop in page.get("properties", {}).values():
        if isinstance(prop, dict) and prop.get("type") == "title":
            return _plain(prop.get("title"))
    return ""


class NotionConnector(Gated, Remembers, FoundComments, NotionWanted, PublishesPages):
    """Pulls pages of Notion databases and writes comments and properties back."""

    system = "notion"
    page_size = 100  # Notion's maximum
    overlap = timedelta(minutes=2)  # last_edited_time is rounded down to the minute
    max_pages = 100_000  # loop guard: list pages of one call

    def __init__(
        self, client: Client, *, body_fields: bool = False, policy: RetryPolicy | None = None,
        check_property: str = "Handoff check",
    ) -> None:
        self.client = client
        # The page property we set next to our comment: Notion has no batch comment list, so
        # only a page where it shows a value gets its comments read (see `_with_comment`).
        self.check_property = check_property
        self.body_fields = body_fields
        self.policy = policy or RetryPolicy()
        self._sources: dict[str, list[str]] = {}
        self._me: str | None = None
        self._known: frozenset[str] = frozenset()  # see `comments_known`
        self._wanted: dict[str, frozenset[str]] = {}  # see `NotionWanted.comments_wanted`
        self.clock = ServerClock()
        http = getattr(client, "client", None)
        if isinstance(http, httpx.Client):
            http.event_hooks.setdefault("response", []).append(
                lambda r: self.clock.saw(r.headers)
            )
            gate_httpx(http, self._before)

    def server_time(self) -> datetime | None:
        """Notion's clock, from the Date header of its latest answer."""
        return self.clock.latest

    def comments_known(self, page_ids: Iterable[str]) -> None:
        """Pages whose comment of ours the state holds: a read without a cursor (`--full`)
        does not look at them again, one request each at three a second. A page the state
        knows no comment of ours on is still looked at, so a lost state never doubles one."""
        self._known = frozenset(page_ids)

    def is_read(self, method: str, path: str) -> bool:
        # A query and a search are reads that Notion answers on POST.
        return method.upper() == "GET" or path.endswith("/query") or path.endswith("/search")

    # -- calls -------------------------------------------------------------------------------
    def _call(self, fn: Callable[[], Any], *, scope: str, what: str, item_id: str = "",
              idempotent: bool = True, prop: str = "") -> Any:
        """One SDK call under the retry policy; the sync client's answers are plain dicts."""

        def attempt() -> Any:
            try:
                return fn()
            except Exception as exc:  # every SDK failure is translated here
                raise translate(exc, scope=scope, what=what, item_id=item_id,
                                 prop=prop) from exc

        return call_with_retry(attempt, self.policy, idempotent=idempotent)

    def _paged(self, fn: Callable[..., Any], *, scope: str, what: str, item_id: str = "",
               **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every result of a Notion list, one retried request per page of results, each page
        checked: a page that is not a list answer, or cursors that cycle, are errors."""
        cursor: str | None = None
        listing = LISTING.get(what, what)
        tokens = PageTokens(self.system, scope, listing)
        kw: dict[str, Any] = {"system": self.system, "scope": scope, "what": listing,
                              "item_id": item_id}
        for _ in range(self.max_pages):
            args = dict(kwargs, start_cursor=cursor) if cursor else dict(kwargs)
            try:
                resp = self._call(functools.partial(fn, **args), scope=scope, what=what,
                                  item_id=item_id)
            except BadAnswer as exc:
                raise (for_item(exc, item_id) if item_id else exc) from exc
            results = entries(resp, "results", require=("id",), **kw)
            if resp.get("object") != "list" or not isinstance(resp.get("has_more"), bool):
                raise bad(got="a JSON object that is not a list answer", **kw)
            yield from results
            nxt = resp.get("next_cursor")
            if not resp["has_more"]:
                return
            if not isinstance(nxt, str) or not nxt:
                raise bad(got="a page that says more follow (has_more) without a next_cursor",
                          **kw)
            tokens.add(nxt)
            cursor = nxt
        raise BadAnswer(f"more than {self.max_pages} pages of {listing}; stopping",
                        system=self.system, scope=scope)

    # -- reading -----------------------------------------------------------------------------
    def data_sources(self, scope: Scope) -> list[str]:
        """The data source ids of the scope's database (asked once per connector)."""
        if scope.name not in self._sources:
            self._sources[scope.name] = self._constant(
                f"data_sources:{scope.name}", lambda: self._ask_sources(scope), _ids
            )
        return self._sources[scope.name]

    def _ask_sources(self, scope: Scope) -> list[str]:
        db = self._call(lambda: self.client.databases.retrieve(scope.name), scope=scope.key,
                        what="read")
        sources = entries(db, "data_sources", system=self.system, scope=scope.key,
                          what=f"the database {scope.name}", require=("id",))
        return [str(ds["id"]) for ds in sources]

    def properties(self, scope: Scope) -> dict[str, str]:
        """Property name -> type over the scope's data sources (their schema; read-only)."""
        out: dict[str, str] = {}
        for ds_id in self.data_sources(scope):
            ds = self._call(functools.partial(self.client.data_sources.retrieve, ds_id),
                            scope=scope.key, what="read")
            for name, prop in (ds.get("properties") or {}).items():
                out.setdefault(name, str((prop or {}).get("type") or ""))
        return out

    def pull(self, scope: Scope, cursor: Cursor | None) -> Iterator[SourceItem]:
        """Pages of the scope's data sources edited since a little before `cursor`."""
        body: dict[str, Any] = {
            "sorts": [{"timestamp": "last_edited_time", "direction": "ascending"}],
            "page_size": self.page_size,
        }
        if cursor is not None:
            since = cursor.updated - self.overlap
            body["filter"] = {"timestamp": "last_edited_time",
                              "last_edited_time": {"on_or_after": _iso(since)}}
        seen: set[str] = set()
        whole = [True]  # every page's comment was looked for or known absent
        for ds_id in self.data_sources(scope):
            pages = self._paged(lambda ds=ds_id, **kw: self.client.data_sources.query(ds, **kw),
                                scope=scope.key, what="read", **body)
            for page in pages:
                if page.get("object") != "page" or page["id"] in seen:
                    continue
                if not isinstance(page.get("last_edited_time"), str):
                    raise bad(self.system, scope.key, LISTING["read"],
                              "a page without its last_edited_time")
                seen.add(page["id"])
                item = self._item(scope, page, _parse_time(page["last_edited_time"]))
                yield self._with_comment(scope, page, item, cursor, whole)
        found = self._read_wanted(scope, self._wanted.pop(scope.key, frozenset()) - seen, whole)
        self._found_beside(scope, found if whole[0] else None)

    def _with_comment(self, scope: Scope, page: dict[str, Any], item: SourceItem,
                      cursor: Cursor | None, whole: list[bool]) -> SourceItem:
        """`item` with our comment: read only where our property shows a value (we wrote
        there), or where the property is not there to tell. A page without a value is not
        looked at: a comment of ours the state knows stands (a run stopped between our comment
        and the property), and the state knows no other (the scope counts as looked at).
        Nor, on a read since a cursor, is a page re-read in the overlap (its comment was read
        when it changed) or one whose last edit is ours (the state holds what we wrote); nor,
        on a read without one, a page whose comment the state holds (`comments_known`)."""
        if item.state != "present":
            return item
        if item.id in self._wanted.get(scope.key, ()):
            return self._read_comment(scope, item, whole)  # a person commented there
        prop = (page.get("properties") or {}).get(self.check_property)
        if isinstance(prop, dict) and not prop.get(str(prop.get("type"))):
            return item
        if cursor is None and item.id in self._known:
            return item
        if cursor is not None and (
            item.updated <= cursor.updated
            or (page.get("last_edited_by") or {}).get("id") == self.me()
        ):
            return item
        return self._read_comment(scope, item, whole)

    def _read_comment(self, scope: Scope, item: SourceItem, whole: list[bool]) -> SourceItem:
        try:
            ref = self.find_comment(scope, item.id, MARKER_PREFIX)
        except (ItemError, TransientError) as exc:
            log.warning("notion: could not read the comments of page %s: %s", item.id, exc)
            whole[0] = False
            return item
        said = self.__dict__.get("_said", {}).pop(item.id, ())
        return replace(item, comment=ref, comment_read=True, said=said)

    def _item(self, scope: Scope, page: dict[str, Any], updated: datetime) -> SourceItem:
        fields: dict[str, Any] = dict(page.get("properties", {}))
        if self.body_fields:
            fields["_body"] = self.body_text(scope, page["id"])
        title = _title(page)
        gone = bool(page.get("in_trash") or page.get("archived") or page.get("is_archived"))
        return SourceItem(system=self.system, scope=scope.key, id=page["id"],
                          key=title or page["id"], url=page.get("url", ""), kind="page",
                          updated=updated, title=title, fields=fields, labels=(),
                          state="deleted" if gone else "present", uid=page["id"])

    def body_text(self, scope: Scope, page_id: str) -> str:
        """The page's top-level blocks as plain text, headings as `## X` lines."""
        lines = []
        blocks = self._paged(lambda **kw: self.client.blocks.children.list(page_id, **kw),
                             scope=scope.key, what="read", page_size=self.page_size)
        for block in blocks:
            kind = block.get("type", "")
            text = _plain((block.get(kind) or {}).get("rich_text"))
            lines.append(f"## {text}" if kind.startswith("heading_") else text)
        return "\n".join(lines)

    def people(self) -> Iterator[Account]:
        """Every user the integration can see; bots (ours included) as kind "bot". Kept
        between runs (see `connectors.constants`)."""
        found = self._constant("people", lambda: accounts_to(self._ask_people()), accounts_from)
        return iter([Account(**a) for a in found])

    def _ask_people(self) -> Iterator[Account]:
        for user in self._paged(lambda **kw: self.client.users.list(**kw), scope="",
                                what="users", page_size=self.page_size):
            bot = user.get("type") == "bot"
            yield Account(system=self.system, id=user["id"], name=user.get("name") or "",
                          email=(user.get("person") or {}).get("email", ""),
                          kind="bot" if bot else "person")

    def database_ids(self) -> list[str]:
        """The databases shared with the integration (`handoff init`): the parents of the data
        sources search finds, sorted."""
        found = self._paged(
            lambda **kw: self.client.search(
                filter={"property": "object", "value": "data_source"}, **kw),
            scope="", what="search")
        ids = {str((ds.get("parent") or {}).get("database_id") or "") for ds in found}
        return sorted(i for i in ids if i)

    def me(self) -> str:
        """Our bot user's id (asked once)."""
        if self._me is None:
            self._me = self._constant("me", self._ask_me, _text)
        return self._me

    def _ask_me(self) -> str:
        me = self._call(lambda: self.client.users.me(), scope="", what="users")
        return str(need_dict(me, ("id",), system=self.system, scope="",
                             what="the integration's own bot user (/v1/users/me)")["id"])

    def find_comment(self, scope: Scope, item_id: str, marker: str) -> CommentRef | None:
        """Our own comment on a page: the oldest by our bot containing `marker`, later ones in
        `duplicates`. A malformed comment list is an ItemError, never "none of ours"."""
        me = self.me()
        comments = list(self._paged(
            lambda **kw: self.client.comments.list(block_id=item_id, **kw),
            scope=scope.key, what="comments.read", item_id=item_id, page_size=self.page_size))
        ours: list[tuple[str, int, str, str, str]] = []
        for n, c in enumerate(comments):
            author, rich = c.get("created_by"), c.get("rich_text")
            if not isinstance(author, dict) or not isinstance(rich, list):
                raise bad(self.system, scope.key, f"the comments of page {item_id}",
                          "a comment without its author or text", item_id=item_id)
            text = _plain(rich)
            if author.get("id") == me and marker in text:
                ours.append((str(c.get("created_time") or ""), n, c["id"], text,
                             str(c.get("last_edited_time") or "")))
        said: dict[str, tuple[Said, ...]] = self.__dict__.setdefault("_said", {})
        said[item_id] = said_in(comments, me)  # handed out by `_with_comment`
        if not ours:
            return None
        ours.sort()  # ISO times in UTC sort as text; ties in the order Notion lists them
        edited = ours[0][4]
        return CommentRef(id=ours[0][2], text=ours[0][3],
                          duplicates=tuple(o[2] for o in ours[1:]),
                          updated=_parse_time(edited) if edited else None)

    # -- writing -----------------------------------------------------------------------------
    def apply(self, op: WriteOp) -> WriteResult:
        """Create or update our comment, or set a page property."""
        if op.action == "comment.create":
            rich = _json(op, op.body, "body")
            resp = self._call(
                lambda: self.client.comments.create(parent={"page_id": op.item_id},
                                                    rich_text=rich),
                scope=op.scope, what=op.action, item_id=op.item_id, idempotent=False)
            return WriteResult(op.key, True, target=resp["id"])
        if op.action == "comment.update":
            rich = _json(op, op.body, "body")
            resp = self._call(lambda: self.client.comments.update(op.target, rich_text=rich),
                              scope=op.scope, what=op.action, item_id=op.item_id)
            return WriteResult(op.key, True, target=resp["id"])
        if op.action == "comment.delete":
            # A later duplicate of ours (two runs raced). Notion answers 404 for a comment that
            # is gone or not this connection's own: either way there is nothing left to do.
            try:
                self._call(lambda: self.client.comments.delete(op.target), scope=op.scope,
                           what=op.action, item_id=op.item_id)
            except NotFound:
                return WriteResult(op.key, True, target=op.target, detail="already gone")
            return WriteResult(op.key, True, target=op.target)
        if op.action == "property.set":
            value = _json(op, op.value, "value")
            page = self._call(lambda: self.client.pages.update(op.item_id,
                                                               properties={op.name: value}),
                              scope=op.scope, what=op.action, item_id=op.item_id, prop=op.name)
            # The answer is the page: its edit time and the property as the next query shows
            # them, so the state sees our echo as no change. (Comments do not move the page.)
            return WriteResult(op.key, True, detail=f"{op.name} set", **_shown(page, op.name))
        raise PlanError(f"notion: cannot {op.action} on {op.item_key}; Notion has no labels, "
                        "use a property")


def _json(op: WriteOp, text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise PlanError(f"notion: {op.action} on {op.item_key}: the op's {what} is not JSON "
                        "text") from None


def _text(stored: Any) -> str:
    if not isinstance(stored, str) or not stored:
        raise TypeError("not a text")
    return stored


def _ids(stored: Any) -> list[str]:
    if not isinstance(stored, list) or not all(isinstance(i, str) for i in stored):
        raise TypeError("not a list of ids")
    return stored
