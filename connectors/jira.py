"""Jira connector on the `jira` package: pull issues by JQL, find our comment, write back.

Cheap by construction: one `/search/jql` request per page of 100 issues with only the fields
the maps need; `/field` (only when custom fields are configured) and `/myself` once per
connector; entity properties ride along in the search (`properties=`), never N+1.

The cursor is turned into JQL in the *account's* time zone, because Jira reads a bare date
such as "2026/11/01 10:00" in the time zone of the user who asks. It starts `overlap` before the
cursor (JQL has minute precision) and items at or before the cursor position are dropped, so an
unchanged scope yields nothing and costs one request.

Jira answers 404 with the same body for a deleted issue and one we may no longer see (issue
security, lost Browse permission); the connector cannot tell them apart and says so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from jira import JIRA

from ._answers import (
    PageTokens,
    ServerClock,
    bad,
    check_redirect,
    entries,
    for_item,
    need_dict,
)
from ._retry import RetryPolicy, call_with_retry
from .base import Account, CommentRef, Cursor, Scope, SourceItem, WriteOp, WriteResult
from .errors import BadAnswer, ItemError, NotFound, register_secret
from .jira_errors import translate as _translate
from .jira_text import (
    adf_plain_text,
    after,
    id_key,
    parse_jira_time,
    prime_field_cache,
    strip_order_by,
)

__all__ = ["BASE_FIELDS", "OVERLAP", "JiraConnector", "adf_plain_text", "open_client"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# What the field maps read; "watches" is the field id behind the JQL name "watchers".
BASE_FIELDS = (
    "summary",
    "status",
    "assignee",
    "reporter",
    "labels",
    "duedate",
    "watches",
    "description",
    "updated",
    "created",
    "issuetype",
    "project",
)
OVERLAP = timedelta(minutes=2)
MAX_PAGES = 100_000  # a loop guard: 10 million issues per scope
COMMENT_PAGE = 100
LIST_PAGE = 1000


def open_client(
    url: str, email: str, token: str, *, api_version: int = 2, timeout: float = 30.0
) -> JIRA:
    """A `JIRA` client with its own retries off and a timeout, so one policy decides."""
    register_secret(token)
    register_secret(f"{email}:{token}")  # as Basic auth sends it, base64-encoded
    try:
        return JIRA(
            server=url,
            basic_auth=(email, token),
            options={"rest_api_version": str(api_version), "check_update": False},
            max_retries=0,
            timeout=timeout,
            get_server_info=True,  # Cloud's deploymentType makes the client use /search/jql
        )
    except Exception as exc:  # the constructor already calls serverInfo
        raise _translate(exc, site=url, email=email, what="the Jira site") from exc


class JiraConnector:
    """Jira Cloud through the `jira` client: pull, people, find_comment, apply."""

    system = "jira"

    def __init__(
        self,
        client: JIRA,
        *,
        api_version: int = 2,
        custom_fields: Sequence[str] = (),
        optional_custom_fields: Sequence[str] = (),
        policy: RetryPolicy | None = None,
        page_size: int = 100,
        properties: Sequence[str] = (),
        overlap: timedelta = OVERLAP,
        email: str = "",
    ) -> None:
        self.client = client
        self.api_version = api_version
        self.custom_fields = tuple(custom_fields)
        # Names the default field maps try: used where the site has them, skipped otherwise,
        # so a fresh Jira works before anyone creates "Hypothesis" or "Cost cap" fields.
        self.optional_custom_fields = tuple(
            n for n in optional_custom_fields if n not in self.custom_fields
        )
        self.policy = policy or RetryPolicy()
        self.page_size = max(1, min(page_size, 100))  # /search/jql caps pages with fields at 100
        self.properties = tuple(properties)
        self.overlap = overlap
        self.site = client.server_url
        auth = getattr(client._session, "auth", None)
        self.email = email or (auth[0] if isinstance(auth, tuple) else "")
        self._custom: dict[str, str] | None = None  # field id -> display name
        self._me: dict[str, Any] | None = None
        self.clock = ServerClock()
        hooks = client._session.hooks.setdefault("response", [])
        hooks.extend([self.clock.hook(), self._off_host])

    def _off_host(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        """A redirect away from the configured site is an error, never followed."""
        if response.is_redirect:
            what = f"the request {response.request.method} {response.request.path_url}"
            check_redirect(self.site, response.headers.get("Location"), system="jira", what=what)
        return response

    def server_time(self) -> datetime | None:
        """Jira's clock, from the Date header of its latest answer."""
        return self.clock.latest

    # -- the one way to call Jira ----------------------------------------------------------
    def _call(
        self,
        fn: Callable[[], T],
        *,
        scope: str = "",
        what: str = "",
        item_id: str = "",
        idempotent: bool = True,
    ) -> T:
        def attempt() -> T:
            try:
                return fn()
            except Exception as exc:
                raise _translate(
                    exc, site=self.site, email=self.email, what=what, scope=scope, item_id=item_id
                ) from exc

        return call_with_retry(attempt, self.policy, idempotent=idempotent)

    def _myself(self) -> dict[str, Any]:
        if self._me is None:
            what = "the token's own account (/myself)"
            me = self._call(lambda: self.client._get_json("myself"), what=what)
            self._me = need_dict(me, ("accountId",), system="jira", scope="", what=what)
        return self._me

    def _custom_ids(self, scope: str) -> dict[str, str]:
        """Configured custom field names resolved to ids via /field, once per connector."""
        if self._custom is None:
            if not self.custom_fields and not self.optional_custom_fields:
                self._custom = {}
                return self._custom
            fields = self._field_list(scope)
            by_name = {f["name"]: f["id"] for f in fields}
            by_id = {f["id"]: f["name"] for f in fields}
            resolved: dict[str, str] = {}
            for name in self.optional_custom_fields:
                if name in by_id or name in by_name:
                    fid = name if name in by_id else by_name[name]
                    if fid.startswith("customfield_"):
                        resolved[fid] = by_id[fid]
            for name in self.custom_fields:
                if name in by_id:
                    resolved[name] = by_id[name]
                elif name in by_name:
                    resolved[by_name[name]] = name
                else:
                    known = sorted(n for f, n in by_id.items() if f.startswith("customfield_"))
                    raise NotFound(
                        f"custom field {name!r} does not exist at {self.site}: fix the name in"
                        f" [fields.jira.fields] (known custom fields: {', '.join(known[:20])})",
                        system="jira",
                        scope=scope,
                        url=self.site,
                    )
            self._custom = resolved
        return self._custom

    # -- pull --------------------------------------------------------------------------------
    def jql(self, scope: Scope, cursor: Cursor | None) -> str:
        """The search for a scope: its project (or JQL), changed since before the cursor."""
        base = scope.query.strip() or f'project = "{scope.name}"'
        base = strip_order_by(base)
        if cursor is not None:
            base = f'({base}) AND updated >= "{self._local_minute(cursor.updated - self.overlap)}"'
        return f"{base} ORDER BY updated ASC"

    def _local_minute(self, when: datetime) -> str:
        """`when` as a JQL date in the account's time zone, floored to the minute."""
        tz = ZoneInfo(self._myself().get("timeZone") or "UTC")
        local = when.astimezone(tz)
        wall = local.replace(tzinfo=None)
        fold0 = wall.replace(tzinfo=tz, fold=0).utcoffset()
        if fold0 != wall.replace(tzinfo=tz, fold=1).utcoffset():
            # A wall time that occurs twice (or never) on a DST change: Jira may read it as the
            # later instant, so step back an hour rather than risk skipping changes.
            local = (when - timedelta(hours=1)).astimezone(tz)
        return local.strftime("%Y/%m/%d %H:%M")

    def pull(self, scope: Scope, cursor: Cursor | None) -> Iterator[SourceItem]:
        custom = self._custom_ids(scope.key)
        self._myself()  # once per connector, so every later pull is one request per page
        jql = self.jql(scope, cursor)
        fields = [*BASE_FIELDS, *custom]
        props = ",".join(self.properties) or None
        seen: set[str] = set()
        token: str | None = None
        what = f"the search of {scope.name} (/search/jql)"
        tokens = PageTokens("jira", scope.key, what)
        for _ in range(MAX_PAGES):
            page = self._search_page(jql, token, fields, props, scope.key, what)
            for raw in page["issues"]:
                if raw["id"] in seen:
                    continue
                seen.add(raw["id"])
                item = self._item(scope, raw, custom)
                if cursor is None or after(item, cursor):
                    yield item
            nxt = page.get("nextPageToken")
            if page.get("isLast") is True or (nxt is None and "isLast" not in page):
                return
            if not isinstance(nxt, str) or not nxt:
                raise bad("jira", scope.key, what, "a page that says more follow (isLast false) "
                          "without a nextPageToken")
            tokens.add(nxt)
            token = nxt
        raise BadAnswer(f"more than {MAX_PAGES} pages", system="jira", scope=scope.key)

    def _search_page(self, jql: str, token: str | None, fields: list[str], props: str | None,
                     scope: str, what: str) -> dict[str, Any]:
        page = self._call(
            lambda: self.client.enhanced_search_issues(
                jql,
                nextPageToken=token,
                maxResults=self.page_size,
                fields=list(fields),
                properties=props,
                json_result=True,
            ),
            scope=scope,
            what=what,
        )
        found = entries(page, "issues", system="jira", scope=scope, what=what,
                        require=("id", "key", "fields"))
        if any(not isinstance(raw["fields"], dict) for raw in found):
            raise bad("jira", scope, what, "an issue whose fields are not an object")
        return dict(page)

    def _item(self, scope: Scope, raw: dict[str, Any], custom: dict[str, str]) -> SourceItem:
        fields = {custom.get(k, k): v for k, v in (raw.get("fields") or {}).items()}
        if self.properties:
            fields["_properties"] = dict(raw.get("properties") or {})
        try:
            updated = parse_jira_time(fields["updated"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ItemError(
                f"issue {raw.get('key')} has no readable 'updated' time",
                item_id=str(raw.get("id")),
                system="jira",
                scope=scope.key,
            ) from exc
        return SourceItem(
            system="jira",
            scope=scope.key,
            id=str(raw["id"]),
            key=raw["key"],
            url=f"{self.site}/browse/{raw['key']}",
            kind="issue",
            updated=updated,
            title=str(fields.get("summary") or ""),
            fields=fields,
            labels=tuple(fields.get("labels") or ()),
            uid=str(raw["id"]),
        )

    # -- people ------------------------------------------------------------------------------
    def people(self) -> Iterator[Account]:
        for start in range(0, MAX_PAGES * LIST_PAGE, LIST_PAGE):
            raw = self._call(
                lambda s=start: self.client._get_json(  # type: ignore[misc]
                    "users/search", params={"startAt": s, "maxResults": LIST_PAGE}
                ),
                what="the user list (/users/search)",
            )
            users = entries(raw, None, system="jira", scope="", what="the user list "
                            "(/users/search)", require=("accountId",))
            for u in users:
                yield Account(
                    system="jira",
                    id=u["accountId"],
                    name=u.get("displayName", ""),
                    email=u.get("emailAddress", ""),
                    active=bool(u.get("active", True)),
                    time_zone=u.get("timeZone", ""),
                    kind="bot" if u.get("accountType") == "app" else "person",
                )
            if len(users) < LIST_PAGE:
                break
        for start in range(0, MAX_PAGES * 50, 50):
            page: dict[str, Any] = self._call(
                lambda s=start: self.client._get_json(  # type: ignore[misc]
                    "group/bulk", params={"startAt": s, "maxResults": 50}
                ),
                what="the group list (/group/bulk)",
            )
            groups = entries(page, "values", system="jira", scope="", what="the group list "
                             "(/group/bulk)", require=("name",))
            for g in groups:
                yield Account(system="jira", id=g["name"], name=g["name"], kind="group")
            if page.get("isLast", True) or not page.get("values"):
                break

    # -- read-only checks (`handoff doctor`, `handoff init`) ---------------------------------
    def account(self) -> dict[str, Any]:
        """The token's own account, as /myself reports it (asked once)."""
        return dict(self._myself())

    def fields(self) -> list[dict[str, Any]]:
        """Every field of the site (id, name, custom, schema), as /field reports it."""
        return self._field_list("")

    def _field_list(self, scope: str) -> list[dict[str, Any]]:
        what = "the field list (/field)"
        data = self._call(lambda: self.client._get_json("field"), scope=scope, what=what)
        found = entries(data, None, system="jira", scope=scope, what=what, require=("id", "name"))
        prime_field_cache(self.client, found)
        return found

    def project_keys(self) -> list[str]:
        """The keys of every project the account can browse (`handoff init`), sorted."""
        projects = self._call(self.client.projects, what="the project list")
        return sorted(str(p.key) for p in projects)

    def my_permissions(self, project: str, keys: Sequence[str]) -> dict[str, bool]:
        """Whether the token's account holds each project permission in `project`, asked
        without writing anything (/mypermissions); NotFound when the project is not visible."""
        data: dict[str, Any] = self._call(
            lambda: self.client.my_permissions(projectKey=project, permissions=",".join(keys)),
            scope=f"jira:{project}",
            what=f"project {project}",
        )
        held = data.get("permissions") or {}
        return {k: bool((held.get(k) or {}).get("havePermission")) for k in keys}

    # -- comments ----------------------------------------------------------------------------
    def find_comment(self, scope: Scope, item_id: str, marker: str) -> CommentRef | None:
        """Our comment on an issue: the oldest by our account with `marker`, later ones in
        `duplicates`. Every page is read, by startAt and the reported total: Jira may answer
        fewer comments than asked for, so a short page is not the last."""
        me = self._myself()["accountId"]
        ours: list[tuple[int, str, str, datetime | None]] = []
        start = 0
        what = f"the comments of issue {item_id}"
        for _ in range(MAX_PAGES):
            comments, total = self._comment_page(scope, item_id, start, what)
            for c in comments:
                text = adf_plain_text(c.get("body"))
                if c["author"].get("accountId") == me and marker in text:
                    cid = str(c["id"])
                    ours.append((id_key(cid)[0], cid, text, _edited(c)))  # ids grow with time
            start += len(comments)
            if start >= total:
                break
            if not comments:
                raise bad("jira", scope.key, what, f"an empty page at {start} of {total}",
                          item_id=item_id)
        else:
            raise bad("jira", scope.key, what, "pages without end", item_id=item_id)
        if not ours:
            return None
        ours.sort()
        first = ours[0]
        return CommentRef(id=first[1], text=first[2], duplicates=tuple(o[1] for o in ours[1:]),
                          updated=first[3])

    def _comment_page(
        self, scope: Scope, item_id: str, start: int, what: str
    ) -> tuple[list[dict[str, Any]], int]:
        """One validated page of an issue's comments, and the total Jira reports."""
        try:
            page = self._call(
                lambda: self.client._get_json(
                    f"issue/{item_id}/comment",
                    params={"startAt": start, "maxResults": COMMENT_PAGE},
                ),
                scope=scope.key,
                what=what,
                item_id=item_id,
            )
        except BadAnswer as exc:
            raise for_item(exc, item_id) from exc
        kw: dict[str, Any] = {"system": "jira", "scope": scope.key, "what": what,
                              "item_id": item_id}
        comments = entries(page, "comments", require=("id", "author"), **kw)
        total = page.get("total")
        if not isinstance(total, int) or isinstance(total, bool):
            raise bad(got="a page without its total", **kw)
        if any(not isinstance(c["author"], dict) for c in comments):
            raise bad(got="a comment whose author is not an account", **kw)
        if start + len(comments) > total:
            raise bad(got=f"more comments than the total of {total} it reports", **kw)
        return comments, total

    # -- writes ------------------------------------------------------------------------------
    def apply(self, op: WriteOp) -> WriteResult:
        item, what = op.item_id, f"issue {op.item_key or op.item_id}"
        kw: dict[str, Any] = {"scope": op.scope, "what": what, "item_id": item}
        if op.action == "comment.create":
            body = self._comment_body(op)
            # Not retried on 5xx/timeouts: it may have landed; the engine looks for the marker.
            created = self._call(
                lambda: self.client.add_comment(item, body), idempotent=False, **kw
            )
            return WriteResult(op.key, ok=True, target=str(created.id))
        if op.action == "comment.update":
            body = self._comment_body(op)
            self._call(lambda: self._put(f"issue/{item}/comment/{op.target}", {"body": body}), **kw)
            return WriteResult(op.key, ok=True, target=op.target)
        if op.action == "comment.delete":
            # A later duplicate of our comment (a race between two runs); already gone is done.
            try:
                self._call(
                    lambda: self.client._session.delete(
                        self.client._get_url(f"issue/{item}/comment/{op.target}")
                    ),
                    **kw,
                )
            except NotFound:
                return WriteResult(op.key, ok=True, target=op.target, detail="already gone")
            return WriteResult(op.key, ok=True, target=op.target)
        if op.action in ("label.add", "label.remove"):
            verb = "add" if op.action == "label.add" else "remove"
            # An `update` operation, not a rewrite of all labels: concurrent edits survive.
            payload = {"update": {"labels": [{verb: op.name}]}}
            self._call(lambda: self._put(f"issue/{item}", payload), **kw)
            return WriteResult(op.key, ok=True)
        if op.action == "entity_property.set":
            value = json.loads(op.value) if op.value else None
            self._call(lambda: self.client.add_issue_property(item, op.name, value), **kw)
            return WriteResult(op.key, ok=True)
        raise ItemError(
            f"Jira cannot carry out {op.action!r} on {what}",
            item_id=item,
            system="jira",
            scope=op.scope,
        )

    def _comment_body(self, op: WriteOp) -> Any:
        """v2 takes wiki markup; v3 only ADF, so op.body is the document as JSON text."""
        if self.api_version == 3:
            try:
                return json.loads(op.body)
            except ValueError as exc:
                raise ItemError(
                    "a v3 comment body must be an ADF document as JSON text",
                    item_id=op.item_id,
                    system="jira",
                    scope=op.scope,
                ) from exc
        return op.body

    def _put(self, path: str, payload: dict[str, Any]) -> None:
        # The client's Resource.update() GETs the resource again after every PUT; one request
        # is enough. Errors still come out as JIRAError from the client's session.
        self.client._session.put(self.client._get_url(path), data=json.dumps(payload))


def _edited(comment: dict[str, Any]) -> datetime | None:
    """When a comment was last edited, from Jira's `updated` (or `created`); None if unreadable."""
    raw = comment.get("updated") or comment.get("created")
    try:
        return parse_jira_time(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
