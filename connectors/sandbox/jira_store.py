"""The sandbox's Jira data: the workspace section, loaded once, and rendered as Jira does.

Workspace section (all keys optional; people come from the workspace's `people`, keyed by
`jira_account_id`; `assignee`, `reporter`, comment `author` and user-typed custom fields take a
person `key` or an accountId):

    "jira": {
      "account": {"account_id": "557058:bot", "name": "Handoff Sync",
                  "email": "handoff-bot@example.com", "time_zone": "Pacific/Auckland"},
      "fields": [{"id": "customfield_10100", "name": "Primary metric", "type": "string"}],
      "groups": [{"name": "growth-team", "members": ["ana"]}],
      "apps": [{"account_id": "app:1", "name": "Automation for Jira"}],
      "projects": [{"key": "EXP", "name": "Experiments"}],
      "rate_limit_per_second": 20,
      "issues": [{"key": "EXP-1", "id": "10001", "summary": "Checkout test",
                  "status": "In Progress", "type": "Task", "assignee": "ana", "reporter": "ben",
                  "labels": ["handoff"], "duedate": "2026-11-20", "description": "wiki or ADF",
                  "created": "2026-10-01T09:00:00Z", "updated": "2026-10-02T09:00:00Z",
                  "fields": {"Primary metric": "conversion"},   # custom fields by id or name
                  "comments": [{"author": "ana", "body": "...", "created": "...Z"}],
                  "properties": {"handoff.check": {"open": 2}},
                  "state": "present" | "deleted" | "forbidden"}]}

Custom field `type` is a Jira schema type: string, number, date, datetime, user, array (of
strings), option. Issue ids default to 10000 + position. Every token in `tokens.jira` belongs to
the one `account` (it is also `myself`); Basic auth must pair it with that account's email.
Times are answered in the account's time zone, and bare JQL dates are read in it, as Jira does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .jira_adf import adf_wiki, to_adf
from .server import ApiError, Response, SandboxServer
from .workspace import JIRA_EMAIL

__all__ = [
    "NOT_FOUND_ISSUE",
    "STANDARD_FIELDS",
    "JiraStore",
    "jira_time",
]

V = r"/rest/api/(?P<v>[23])"
NOT_FOUND_ISSUE = "Issue does not exist or you do not have permission to see it."
UNAUTHENTICATED = b"Client must be authenticated to access this resource."
DEFAULT_ACCOUNT = {
    "account_id": "557058:handoff-bot",
    "name": "Handoff Sync",
    "email": JIRA_EMAIL,
    "time_zone": "UTC",
}

# (id, name, schema type, navigable, clause names); `watches` is asked for as "watchers".
STANDARD_FIELDS: list[tuple[str, str, str, list[str]]] = [
    ("summary", "Summary", "string", ["summary"]),
    ("status", "Status", "status", ["status"]),
    ("assignee", "Assignee", "user", ["assignee"]),
    ("reporter", "Reporter", "user", ["reporter"]),
    ("labels", "Labels", "array", ["labels"]),
    ("duedate", "Due date", "date", ["due", "duedate"]),
    ("watches", "Watchers", "watches", ["watchers"]),
    ("description", "Description", "string", ["description"]),
    ("updated", "Updated", "datetime", ["updated", "updatedDate"]),
    ("created", "Created", "datetime", ["created", "createdDate"]),
    ("issuetype", "Issue Type", "issuetype", ["issuetype", "type"]),
    ("project", "Project", "project", ["project"]),
    ("comment", "Comment", "comments-page", ["comment"]),
]
_NOT_NAVIGABLE = {"comment"}
_STATUS_CATEGORY = {"To Do": ("new", 2), "Done": ("done", 3)}


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def jira_time(dt: datetime, tz: ZoneInfo) -> str:
    """Jira's own timestamp format, in the caller's time zone: 2026-11-01T10:00:00.000+1300."""
    local = dt.astimezone(tz)
    return (
        local.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{local.microsecond // 1000:03d}"
        + (local.strftime("%z"))
    )


class JiraStore:
    """Users, fields, projects, issues and comments of one Jira site, in memory."""

    server: SandboxServer

    def load(self, workspace: dict[str, Any]) -> None:
        """Build every index once, so 100,000 issues load in seconds."""
        section = workspace.get("jira") or {}
        self.inline_comment_max = int(section.get("inline_comment_max", 5000))
        acc = {**DEFAULT_ACCOUNT, **(section.get("account") or {})}
        self.account_id = str(acc["account_id"])
        self.tz = ZoneInfo(str(acc["time_zone"]))
        self.users: dict[str, dict[str, Any]] = {}
        self.person_keys: dict[str, str] = {}
        self._add_user(
            self.account_id, acc["name"], acc["email"], str(acc["time_zone"]), True, "app"
        )
        for p in workspace.get("people") or []:
            if p.get("jira_account_id"):
                self.person_keys[p.get("key", "")] = p["jira_account_id"]
                self._add_user(
                    p["jira_account_id"],
                    p.get("name", ""),
                    p.get("email", ""),
                    p.get("time_zone") or "UTC",
                    p.get("active", True),
                    "atlassian",
                )
        for app in section.get("apps") or []:
            self._add_user(app["account_id"], app.get("name", ""), "", "UTC", True, "app")
        self.email = str(acc["email"]).lower()
        self.groups = [
            {
                "name": g["name"],
                "groupId": g.get("id") or f"g-{i}",
                "members": [self._account(m) for m in g.get("members", [])],
            }
            for i, g in enumerate(section.get("groups") or [])
        ]
        self.fields = self._build_fields(section.get("fields") or [])
        self.field_by_name = {f["name"]: f["id"] for f in self.fields}
        self.user_fields = {f["id"] for f in self.fields if f["schema"]["type"] == "user"}
        self.projects: dict[str, dict[str, Any]] = {}
        for i, pr in enumerate(section.get("projects") or []):
            self._project(pr["key"], pr.get("name"), str(pr.get("id") or 10000 + i))
        self.next_comment_id = 10000
        self.issues: dict[str, dict[str, Any]] = {}  # by id
        self.by_key: dict[str, str] = {}
        for i, raw in enumerate(section.get("issues") or []):
            self._load_issue(raw, i)
        self.version = 0  # bumped on every write; search results are cached per version
        self._search_cache: dict[tuple[str, int], list[str]] = {}

    # -- loading -------------------------------------------------------------------------
    def _add_user(self, aid: str, name: str, email: str, tz: str, active: bool, kind: str) -> None:
        self.users[aid] = {
            "accountId": aid,
            "accountType": kind,
            "displayName": name,
            "emailAddress": email,
            "active": bool(active),
            "timeZone": tz,
        }

    def _account(self, ref: Any) -> Any:
        return self.person_keys.get(ref, ref) if isinstance(ref, str) else ref

    def _build_fields(self, custom: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for fid, name, typ, clauses in STANDARD_FIELDS:
            out.append(
                {
                    "id": fid,
                    "key": fid,
                    "name": name,
                    "custom": False,
                    "orderable": True,
                    "navigable": fid not in _NOT_NAVIGABLE,
                    "searchable": True,
                    "clauseNames": clauses,
                    "schema": {"type": typ, "system": fid},
                }
            )
        for c in custom:
            num = int(c["id"].rsplit("_", 1)[1])
            schema: dict[str, Any] = {
                "type": c.get("type", "string"),
                "custom": c.get(
                    "custom", "com.atlassian.jira.plugin.system.customfieldtypes:textfield"
                ),
                "customId": num,
            }
            if schema["type"] == "array":
                schema["items"] = "string"
            out.append(
                {
                    "id": c["id"],
                    "key": c["id"],
                    "name": c["name"],
                    "custom": True,
                    "orderable": True,
                    "navigable": True,
                    "searchable": True,
                    "clauseNames": [f"cf[{num}]", c["name"]],
                    "schema": schema,
                }
            )
        return out

    def _project(self, key: str, name: str | None = None, pid: str | None = None) -> None:
        if key not in self.projects:
            pid = pid or str(10000 + len(self.projects))
            self.projects[key] = {
                "id": pid,
                "key": key,
                "name": name or key,
                "projectTypeKey": "software",
                "simplified": False,
            }

    def _load_issue(self, raw: dict[str, Any], i: int) -> None:
        key = raw["key"]
        project = raw.get("project") or key.rsplit("-", 1)[0]
        self._project(project)
        iid = str(raw.get("id") or 10000 + i)
        created = _parse_time(raw.get("created") or raw.get("updated") or "2026-01-01T00:00:00Z")
        f: dict[str, Any] = {
            "summary": raw.get("summary", ""),
            "status": raw.get("status", "To Do"),
            "issuetype": raw.get("type", "Task"),
            "assignee": self._account(raw.get("assignee")),
            "reporter": self._account(raw.get("reporter")),
            "labels": list(raw.get("labels", [])),
            "duedate": raw.get("duedate"),
            "description": raw.get("description"),
            "watchers": [self._account(w) for w in raw.get("watchers", [])],
        }
        for name, value in (raw.get("fields") or {}).items():
            fid = self.field_by_name.get(name, name)
            f[fid] = self._account(value) if fid in self.user_fields else value
        comments = [self._load_comment(c, created) for c in raw.get("comments") or []]
        self.issues[iid] = {
            "id": iid,
            "key": key,
            "project": project,
            "fields": f,
            "comments": comments,
            "created": created,
            "updated": _parse_time(raw["updated"]) if raw.get("updated") else created,
            "properties": dict(raw.get("properties") or {}),
            "state": raw.get("state", "present"),
        }
        self.by_key[key] = iid

    def _load_comment(self, c: dict[str, Any], default: datetime) -> dict[str, Any]:
        created = _parse_time(c["created"]) if c.get("created") else default
        self.next_comment_id += 1
        cid = str(c.get("id") or self.next_comment_id)
        author = self._account(c.get("author")) or self.account_id
        return {
            "id": cid,
            "author": author,
            "body": c.get("body", ""),
            "created": created,
            "updated": _parse_time(c["updated"]) if c.get("updated") else created,
        }

    def _fail(self, status: int, message: str = "", errors: dict[str, str] | None = None) -> None:
        body = {"errorMessages": [message] if message else [], "errors": errors or {}}
        raise ApiError(Response(status, body))

    # -- rendering -----------------------------------------------------------------------
    def _base(self) -> str:
        return self.server.url

    def user_json(self, aid: str | None, v: str) -> dict[str, Any] | None:
        if not aid:
            return None
        u = self.users.get(aid) or {
            "accountId": aid,
            "accountType": "atlassian",
            "displayName": aid,
            "active": False,
            "timeZone": "UTC",
        }
        out = {"self": f"{self._base()}/rest/api/{v}/user?accountId={aid}", **u}
        if not out.get("emailAddress"):
            out.pop("emailAddress", None)  # hidden by the user's profile visibility
        return out

    def _body(self, body: Any, v: str) -> Any:
        if v == "3":
            return body if isinstance(body, dict) else to_adf(str(body or ""))
        return adf_wiki(body) if isinstance(body, dict) else body

    def comment_json(self, issue: dict[str, Any], c: dict[str, Any], v: str) -> dict[str, Any]:
        return {
            "self": f"{self._base()}/rest/api/{v}/issue/{issue['id']}/comment/{c['id']}",
            "id": c["id"],
            "author": self.user_json(c["author"], v),
            "body": self._body(c["body"], v),
            "updateAuthor": self.user_json(c.get("update_author", c["author"]), v),
            "created": jira_time(c["created"], self.tz),
            "updated": jira_time(c["updated"], self.tz),
            "jsdPublic": True,
        }

    def _field_value(self, issue: dict[str, Any], fid: str, v: str) -> Any:
        f = issue["fields"]
        base = f"{self._base()}/rest/api/{v}"
        if fid in ("created", "updated"):
            return jira_time(issue[fid], self.tz)
        if fid == "status":
            cat, cid = _STATUS_CATEGORY.get(f["status"], ("indeterminate", 4))
            return {
                "self": f"{base}/status/1",
                "name": f["status"],
                "id": "1",
                "statusCategory": {"id": cid, "key": cat, "name": f["status"]},
            }
        if fid == "issuetype":
            return {
                "self": f"{base}/issuetype/10001",
                "id": "10001",
                "name": f["issuetype"],
                "subtask": False,
            }
        if fid == "project":
            return {
                "self": f"{base}/project/{self.projects[issue['project']]['id']}",
                **self.projects[issue["project"]],
            }
        if fid == "watches":
            return {
                "self": f"{base}/issue/{issue['key']}/watchers",
                "watchCount": len(f["watchers"]),
                "isWatching": self.account_id in f["watchers"],
            }
        if fid == "description":
            return None if f.get("description") is None else self._body(f["description"], v)
        if fid == "comment":
            # Jira Cloud caps the comments a search carries inline (oldest first) and reports
            # the full total; `inline_comment_max` in a workspace lowers the cap for tests.
            every = sorted(issue["comments"], key=lambda c: (c["created"], c["id"]))
            cs = [self.comment_json(issue, c, v) for c in every[: self.inline_comment_max]]
            return {
                "comments": cs,
                "maxResults": len(cs),
                "total": len(every),
                "startAt": 0,
                "self": f"{base}/issue/{issue['id']}/comment",
            }
        if fid in self.user_fields:
            return self.user_json(f.get(fid), v)
        return f.get(fid)

    def _wanted(self, requested: list[str], default: str) -> list[str]:
        names = [n.strip() for r in requested for n in r.split(",") if n.strip()] or [default]
        by_clause = {c: f["id"] for f in self.fields for c in [f["id"], *f["clauseNames"]]}
        out: list[str] = []
        for n in names:
            if n in ("*all", "*navigable"):
                out += [f["id"] for f in self.fields if n == "*all" or f["navigable"]]
            elif not n.startswith("-") and n in by_clause:
                out.append(by_clause[n])
        minus = {by_clause.get(n[1:], n[1:]) for n in names if n.startswith("-")}
        return [x for x in dict.fromkeys(out) if x not in minus]

    def issue_json(
        self, issue: dict[str, Any], v: str, fields: list[str], props: list[str]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "expand": "renderedFields,names,schema,operations,editmeta",
            "id": issue["id"],
            "self": f"{self._base()}/rest/api/{v}/issue/{issue['id']}",
            "key": issue["key"],
            "fields": {fid: self._field_value(issue, fid, v) for fid in fields if fid != "id"},
        }
        keys = self._property_keys(props, issue)
        if keys:
            out["properties"] = {k: issue["properties"][k] for k in keys}
        return out

    @staticmethod
    def _property_keys(props: list[str], issue: dict[str, Any]) -> list[str]:
        names = [n.strip() for p in props for n in p.split(",") if n.strip()]
        if "*all" in names:
            return list(issue["properties"])
        return [n for n in names if n in issue["properties"]]

    # -- lookups and writes ------------------------------------------------------------
    def find_issue(self, ref: str) -> dict[str, Any]:
        iid = ref if ref in self.issues else self.by_key.get(ref.upper(), "")
        issue = self.issues.get(iid)
        if issue is None or issue["state"] != "present":
            self._fail(404, NOT_FOUND_ISSUE)
        assert issue is not None
        return issue

    def touch(self, issue: dict[str, Any]) -> None:
        """Every write moves the issue's `updated`, as Jira does."""
        issue["updated"] = max(self.server.now(), issue["updated"] + timedelta(milliseconds=1))
        self.version += 1
        self._search_cache.clear()
