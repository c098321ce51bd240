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
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import requests
from jira import JIRA, JIRAError

from ._retry import RetryPolicy, call_with_retry
from .base import Account, CommentRef, Cursor, Scope, SourceItem, WriteOp, WriteResult
from .errors import (
    AuthError,
    ConnectorError,
    ItemError,
    NotFound,
    RateLimited,
    TransientError,
    register_secret,
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


def adf_plain_text(node: Any) -> str:
    """Text of a comment body: a wiki string as is, an ADF document's text nodes joined."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(adf_plain_text(n) for n in node)
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    sep = "\n" if node.get("type") in ("doc", "bulletList", "orderedList") else ""
    return sep.join(adf_plain_text(n) for n in node.get("content") or [])


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
            self._me = self._call(self.client.myself, what="the token's own account")
        return self._me

    def _custom_ids(self, scope: str) -> dict[str, str]:
        """Configured custom field names resolved to ids via /field, once per connector."""
        if self._custom is None:
            if not self.custom_fields and not self.optional_custom_fields:
                self._custom = {}
                return self._custom
            fields = self._call(self.client.fields, scope=scope, what="the field list")
            _prime_field_cache(self.client, fields)
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
        base = _strip_order_by(base)
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
        for _ in range(MAX_PAGES):
            page: dict[str, Any] = self._call(
                lambda t=token: self.client.enhanced_search_issues(  # type: ignore[misc]
                    jql,
                    nextPageToken=t,
                    maxResults=self.page_size,
                    fields=list(fields),
                    properties=props,
                    json_result=True,
                ),
                scope=scope.key,
                what=f"the search of {scope.name}",
            )
            for raw in page.get("issues") or []:
                if raw["id"] in seen:
                    continue
                seen.add(raw["id"])
                item = self._item(scope, raw, custom)
                if cursor is None or _after(item, cursor):
                    yield item
            nxt = page.get("nextPageToken")
            if not nxt:
                return
            if nxt == token:
                raise ConnectorError(
                    "Jira returned the same nextPageToken twice; stopping to avoid a loop",
                    system="jira",
                    scope=scope.key,
                    url=self.site,
                )
            token = nxt
        raise ConnectorError(
            f"more than {MAX_PAGES} pages", system="jira", scope=scope.key, url=self.site
        )

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
        )

    # -- people ------------------------------------------------------------------------------
    def people(self) -> Iterator[Account]:
        for start in range(0, MAX_PAGES * LIST_PAGE, LIST_PAGE):
            users: list[dict[str, Any]] = self._call(
                lambda s=start: self.client._get_json(  # type: ignore[misc]
                    "users/search", params={"startAt": s, "maxResults": LIST_PAGE}
                ),
                what="the user list",
            )
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
                what="the group list",
            )
            for g in page.get("values") or []:
                yield Account(system="jira", id=g["name"], name=g["name"], kind="group")
            if page.get("isLast", True) or not page.get("values"):
                break

    # -- read-only checks (`handoff doctor`, `handoff init`) ---------------------------------
    def account(self) -> dict[str, Any]:
        """The token's own account, as /myself reports it (asked once)."""
        return dict(self._myself())

    def fields(self) -> list[dict[str, Any]]:
        """Every field of the site (id, name, custom, schema), as /field reports it."""
        return list(self._call(self.client.fields, what="the field list"))

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
        me = self._myself().get("accountId")
        for start in range(0, MAX_PAGES * COMMENT_PAGE, COMMENT_PAGE):
            comments = self._call(
                lambda s=start: self.client.comments(  # type: ignore[misc]
                    item_id, start_at=s, max_results=COMMENT_PAGE
                ),
                scope=scope.key,
                what=f"the comments of issue {item_id}",
                item_id=item_id,
            )
            for c in comments:
                author = (c.raw.get("author") or {}).get("accountId")
                text = adf_plain_text(c.raw.get("body"))
                if author == me and marker in text:
                    return CommentRef(id=str(c.raw["id"]), text=text)
            if len(comments) < COMMENT_PAGE:
                return None
        return None

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


def _prime_field_cache(client: JIRA, fields: list[dict[str, Any]]) -> None:
    """Fill the client's own field cache from the list we just read, as it would fill it (by
    JQL clause name): its first search would otherwise GET /field again, one more request on
    every run."""
    if not getattr(client, "_fields_cache_value", None):
        client._fields_cache_value = {
            name: f["id"] for f in fields for name in f.get("clauseNames") or ()
        }


def parse_jira_time(text: str) -> datetime:
    """Jira's "2026-11-01T10:00:00.000+1300" (or ISO with Z) as an aware UTC datetime."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _after(item: SourceItem, cursor: Cursor) -> bool:
    """Strictly past the cursor position (updated, then numeric id for ties)."""
    if item.updated != cursor.updated:
        return item.updated > cursor.updated
    if not cursor.item_id:
        return True
    return _id_key(item.id) > _id_key(cursor.item_id)


def _id_key(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)


def _strip_order_by(jql: str) -> str:
    upper = jql.upper()
    at = upper.rfind("ORDER BY")
    return jql[:at].strip() if at >= 0 else jql


def _translate(
    exc: BaseException,
    *,
    site: str,
    email: str,
    what: str = "",
    scope: str = "",
    item_id: str = "",
) -> ConnectorError:
    """One SDK or transport failure as the project's error, with a message that says the fix."""
    where: dict[str, Any] = {"system": "jira", "scope": scope, "url": site}
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, JIRAError):
        status = exc.status_code or 0
        text = _jira_message(exc)
        url = exc.url or site
        where["url"] = url
        internal = f"{status} {url}: {text}"
        if status == 401:
            return AuthError(
                f"Jira rejected the token for {email or 'the configured account'} at {site}: "
                "check [jira] email and token (an Atlassian API token of that account)",
                status=status,
                internal=internal,
                **where,
            )
        if status == 403:
            return AuthError(
                f"the account {email or ''} may not do this on {what or url}: Jira says "
                f"{text!r}; grant it that permission in the project's permission scheme",
                status=status,
                internal=internal,
                **where,
            )
        if status == 404:
            return NotFound(
                f"{what or url} was not found: it was deleted or {email or 'the account'} can "
                "no longer see it (Jira answers both the same way)",
                status=status,
                internal=internal,
                **where,
            )
        if status == 400 and "does not exist for the field 'project'" in text:
            return NotFound(
                f"{text} Check [jira] projects: the key must exist and be visible to "
                f"{email or 'the account'}",
                status=status,
                internal=internal,
                **where,
            )
        if status == 429:
            return RateLimited(
                f"Jira's rate limit was reached while reading {what or url}",
                retry_after=_retry_after(exc),
                status=status,
                internal=internal,
                **where,
            )
        if status >= 500 or status == 0:
            return TransientError(
                f"Jira answered {status} for {what or url}",
                status=status,
                internal=internal,
                **where,
            )
        if item_id:
            return ItemError(
                f"Jira refused the change to {what}: {text}",
                item_id=item_id,
                status=status,
                internal=internal,
                **where,
            )
        return ConnectorError(
            f"Jira answered {status} for {what or url}: {text}",
            status=status,
            internal=internal,
            **where,
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return TransientError(f"Jira did not answer in time for {what or site}", **where)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return TransientError(
            f"the connection to Jira dropped while reading {what or site}",
            internal=repr(exc),
            **where,
        )
    # A body cut short: fewer bytes than Content-Length, or JSON that does not parse.
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | ValueError):
        return TransientError(
            f"Jira sent an incomplete answer for {what or site}", internal=repr(exc), **where
        )
    if isinstance(exc, requests.exceptions.RequestException):
        return TransientError(f"the request to Jira failed for {what or site}", **where)
    raise exc


def _jira_message(exc: JIRAError) -> str:
    text = str(exc.text or "")
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            body = response.json()
        except ValueError:
            return response.text[:300] if response.text else text
        if isinstance(body, dict):
            parts = list(body.get("errorMessages") or []) + [
                f"{k}: {v}" for k, v in (body.get("errors") or {}).items()
            ]
            if parts:
                return "; ".join(str(p) for p in parts)
    return text


def _retry_after(exc: JIRAError) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
