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

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ._answers import PageTokens, bad, entries
from .base import MARKER_PREFIX, Account, Cursor, Scope, SourceItem
from .constants import accounts_from, accounts_to
from .errors import BadAnswer, ItemError, NotFound
from .found import FoundComments
from .jira_comments import JiraComments
from .jira_session import MAX_PAGES, open_client
from .jira_text import adf_plain_text, after, parse_jira_time, prime_field_cache, strip_order_by
from .jira_writes import JiraWrites

__all__ = ["BASE_FIELDS", "JiraConnector", "adf_plain_text", "open_client"]

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
LIST_PAGE = 1000


class JiraConnector(JiraComments, JiraWrites, FoundComments):
    """Jira Cloud through the `jira` client: pull, people, find_comment, apply.

    The session, comment reads and writes live in `jira_session`, `jira_comments` and
    `jira_writes`; this class adds searching, people and the read-only checks."""

    def _custom_ids(self, scope: str) -> dict[str, str]:
        """Configured custom field names resolved to ids via /field, once per connector."""
        with self._once:  # scopes pull side by side: one /field, not one per thread
            return self._resolve_custom(scope)

    def _resolve_custom(self, scope: str) -> dict[str, str]:
        if self._custom is None:
            if not self.custom_fields and not self.optional_custom_fields:
                self._custom = {}
                return self._custom
            fields = self._constant("field", lambda: self._field_list(scope), self._primed)
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
        # Our comment rides along in the search (the `comment` field), never one read per issue.
        fields = [*BASE_FIELDS, "comment", *custom]
        props = ",".join(self.properties) or None
        seen: set[str] = set()
        whole = True  # every yielded issue's comments were looked at
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
                    ref, looked = self.inline_comment(scope, item.id, raw["fields"].get("comment"),
                                                      MARKER_PREFIX)
                    whole = whole and looked
                    said = self.said_in(raw["fields"].get("comment"), item.id)
                    yield replace(item, comment=ref, comment_read=looked, said=said)
            nxt = page.get("nextPageToken")
            if page.get("isLast") is True or (nxt is None and "isLast" not in page):
                # An issue not yielded is unchanged since the state read it: its note stands.
                self._found_beside(scope, {} if whole else None)
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
        # The comment list stays out of the item: it is read above, and stored it would be
        # decoded again on every run.
        fields = {custom.get(k, k): v for k, v in (raw.get("fields") or {}).items()
                  if k != "comment"}
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

    def _primed(self, stored: Any) -> list[dict[str, Any]]:
        """A stored field list, checked and given to the client as /field would be."""
        found = entries(stored, None, system="jira", scope="", what="the stored field list",
                        require=("id", "name"))
        prime_field_cache(self.client, found)
        return found

    # -- people ------------------------------------------------------------------------------
    def people(self) -> Iterator[Account]:
        """Every user and group (kept between runs, see `connectors.constants`)."""
        found = self._constant("people", lambda: accounts_to(self._ask_people()), accounts_from)
        return iter([Account(**a) for a in found])

    def _ask_people(self) -> Iterator[Account]:
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
