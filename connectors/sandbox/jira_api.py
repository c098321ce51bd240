"""The sandbox's Jira Cloud: REST v2 and v3 under /rest/api/{2,3}, as the `jira` client uses it.

The workspace section is described in `jira_store`; JQL in `jira_jql`; the comment and
entity-property routes in `jira_comments`; ADF and wiki bodies in `jira_adf`.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from ..window import SlidingWindow
from .jira_hooks import AdminWebhookRoutes
from .jira_jql import Jql
from .jira_store import jira_time
from .server import ApiError, Request, Response, SandboxServer, Service, route

__all__ = ["JiraService"]

V = r"/rest/api/(?P<v>[23])"
UNAUTHENTICATED = b"Client must be authenticated to access this resource."
# Project permissions /mypermissions knows: key -> (id, name, needs a write token).
PERMISSIONS = {
    "BROWSE_PROJECTS": ("10", "Browse Projects", False),
    "ADD_COMMENTS": ("15", "Add Comments", True),
    "EDIT_ISSUES": ("12", "Edit Issues", True),
    "EDIT_OWN_COMMENTS": ("38", "Edit Own Comments", True),
}


class JiraService(AdminWebhookRoutes):
    name = "jira"
    prefix = "/rest/"  # /rest/api/{2,3} and the admin webhooks' /rest/webhooks/1.0

    def __init__(self, server: SandboxServer, workspace: dict[str, Any]) -> None:
        Service.__init__(self, server)
        self.load(workspace)
        self.tokens: dict[str, str] = dict((workspace.get("tokens") or {}).get("jira") or {})
        per_second = int((workspace.get("jira") or {}).get("rate_limit_per_second", 20))
        self.window = SlidingWindow(per_second, 1.0)
        # Jira Cloud may answer fewer comments per page than asked (the real cap varies).
        self.comment_page_max = int((workspace.get("jira") or {}).get("comment_page_max", 5000))
        self.admin_hooks = {}
        self.webhook_admin = bool((workspace.get("jira") or {}).get("webhook_admin", True))

    # -- service hooks -------------------------------------------------------------------
    def authenticate(self, req: Request) -> None:
        header = req.headers.get("Authorization", "")
        scheme, _, cred = header.partition(" ")
        token = ""
        if scheme.lower() == "basic":
            try:
                email, _, token = base64.b64decode(cred).decode().partition(":")
            except ValueError:
                email = ""
            if email.lower() != self.email:
                token = ""
        elif scheme.lower() == "bearer":
            token = cred
        access = self.tokens.get(token)
        if not token or access is None:
            raise ApiError(
                Response(
                    401,
                    UNAUTHENTICATED,
                    {
                        "Content-Type": "text/plain;charset=UTF-8",
                        "WWW-Authenticate": 'Basic realm="protected-by-api-token"',
                    },
                )
            )
        req.access = access

    def is_write(self, req: Request) -> bool:
        if req.method == "POST" and req.path.endswith("/search/jql"):
            return False
        return super().is_write(req)

    def error(self, status: int, message: str = "", req: Request | None = None) -> Response:
        if status == 401:
            return Response(401, UNAUTHENTICATED, {"Content-Type": "text/plain;charset=UTF-8"})
        default = {
            404: "Not Found",
            429: "Rate limit exceeded.",
            500: "Internal server error",
            503: "Service Unavailable",
        }
        text = message or default.get(status, f"HTTP {status}")
        return Response(status, {"errorMessages": [text], "errors": {}})

    def forbidden(self, req: Request) -> Response:
        if "/comment" in req.path:
            text = "You do not have the permission to comment on this issue."
        elif "/properties/" in req.path:
            text = "You do not have permission to edit issue properties (Edit issues)."
        else:
            text = "You do not have permission to edit issues in this project (Edit issues)."
        return self.error(403, text, req)

    def limit(self, req: Request, now: float) -> Response | None:
        wait = self.window.hit(now)
        if not wait:
            return None
        resp = self.error(429, "", req)
        resp.headers.update(
            {"Retry-After": str(max(1, math.ceil(wait))), "RateLimit-Reason": "jira-burst-based"}
        )
        return resp

    # -- routes: server, user, fields ----------------------------------------------------
    @route("GET", V + r"/serverInfo")
    def server_info(self, req: Request, v: str) -> Any:
        now = self.server.now()
        return {
            "baseUrl": self._base(),
            "version": "1001.0.0-SNAPSHOT",
            "versionNumbers": [1001, 0, 0],
            "deploymentType": "Cloud",
            "buildNumber": 100285,
            "buildDate": "2026-01-05T00:00:00.000+0000",
            "serverTime": jira_time(now, self.tz),
            "scmInfo": "sandbox",
            "serverTitle": "Jira",
        }

    @route("GET", V + r"/myself")
    def myself(self, req: Request, v: str) -> Any:
        me = self.user_json(self.account_id, v) or {}
        return {**me, "locale": "en_US"}

    @route("GET", V + r"/project")
    def project_list(self, req: Request, v: str) -> Any:
        # "Get all projects" (deprecated in favour of /project/search, still served): a bare
        # array of every project the account can browse.
        base = f"{self._base()}/rest/api/{v}"
        return [
            {"expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
             "self": f"{base}/project/{p['id']}", **p, "isPrivate": False, "properties": {}}
            for p in self.projects.values()
        ]

    @route("GET", V + r"/field")
    def field_list(self, req: Request, v: str) -> Any:
        return self.fields

    @route("GET", V + r"/mypermissions")
    def my_permissions(self, req: Request, v: str) -> Any:
        # Read-only, so `handoff doctor` can ask before writing: writes need a write token.
        keys = [k.strip() for k in (req.arg("permissions") or "").split(",") if k.strip()]
        if not keys:
            self._fail(400, "The 'permissions' query parameter is required.")
        unknown = [k for k in keys if k not in PERMISSIONS]
        if unknown:
            self._fail(400, f"Unrecognized permission key: {unknown[0]}")
        project = req.arg("projectKey")
        if project is not None and project not in self.projects:
            self._fail(404, f"No project could be found with key '{project}'.")
        out = {}
        for k in keys:
            pid, name, write = PERMISSIONS[k]
            out[k] = {
                "id": pid,
                "key": k,
                "name": name,
                "type": "PROJECT",
                "description": name,
                "havePermission": req.access == "write" or not write,
            }
        return {"permissions": out}

    @route("GET", V + r"/user")
    def user_get(self, req: Request, v: str) -> Any:
        aid = req.arg("accountId") or ""
        if aid not in self.users:
            self._fail(404, "Specified user does not exist or you do not have required permissions")
        return self.user_json(aid, v)

    @route("GET", V + r"/user/search")
    def user_search(self, req: Request, v: str) -> Any:
        q = (req.arg("query") or req.arg("username") or "").lower()
        if not q and not req.arg("accountId"):
            self._fail(400, "One of 'query' or 'accountId' parameters must be provided.")
        hits = [
            a
            for a, u in self.users.items()
            if req.arg("accountId") == a
            or (
                q
                and (
                    u["displayName"].lower().startswith(q)
                    or u["emailAddress"].lower().startswith(q)
                )
            )
        ]
        return self._user_page(req, hits, v)

    @route("GET", V + r"/users/search")
    def users_all(self, req: Request, v: str) -> Any:
        return self._user_page(req, list(self.users), v)

    def _user_page(self, req: Request, ids: list[str], v: str) -> list[Any]:
        start = int(req.arg("startAt") or 0)
        size = min(int(req.arg("maxResults") or 50), 1000)
        return [self.user_json(a, v) for a in ids[start : start + size]]

    @route("GET", V + r"/group/bulk")
    def group_bulk(self, req: Request, v: str) -> Any:
        start = int(req.arg("startAt") or 0)
        size = max(1, min(int(req.arg("maxResults") or 50), 50))
        page = self.groups[start : start + size]
        return {
            "maxResults": size,
            "startAt": start,
            "total": len(self.groups),
            "isLast": start + size >= len(self.groups),
            "values": [{"name": g["name"], "groupId": g["groupId"]} for g in page],
        }

    @route("GET", V + r"/groups/picker")
    def groups_picker(self, req: Request, v: str) -> Any:
        q = (req.arg("query") or "").lower()
        hits = [g for g in self.groups if q in g["name"].lower()]
        shown = hits[: int(req.arg("maxResults") or 20)]
        return {
            "header": f"Showing {len(shown)} of {len(hits)} matching groups",
            "total": len(hits),
            "groups": [
                {"name": g["name"], "html": g["name"], "labels": [], "groupId": g["groupId"]}
                for g in shown
            ],
        }

    # -- routes: search ------------------------------------------------------------------
    @route("GET", V + r"/search/jql")
    def search_get(self, req: Request, v: str) -> Any:
        return self._search(
            v,
            req.arg("jql") or "",
            req.arg("nextPageToken"),
            req.arg("maxResults"),
            req.args("fields"),
            req.args("properties"),
        )

    @route("POST", V + r"/search/jql")
    def search_post(self, req: Request, v: str) -> Any:
        b = req.json() or {}
        return self._search(
            v,
            b.get("jql") or "",
            b.get("nextPageToken"),
            b.get("maxResults"),
            list(b.get("fields") or []),
            list(b.get("properties") or []),
        )

    @route("GET", V + r"/search")
    def search_removed(self, req: Request, v: str) -> Any:
        self._fail(
            410,
            "The requested API has been removed. Please migrate to the "
            "/rest/api/3/search/jql API. A full migration guideline is available at "
            "https://developer.atlassian.com/changelog/#CHANGE-2046",
        )

    def _search(
        self,
        v: str,
        jql: str,
        token: str | None,
        max_results: Any,
        fields_arg: list[str],
        props: list[str],
    ) -> dict[str, Any]:
        fields = self._wanted(fields_arg, "id")
        cap = 5000 if set(fields) <= {"id", "key"} else 100
        size = max(1, min(int(max_results or 50), cap))
        ids = self._search_cache.get((jql, self.version))
        if ids is None:
            ids = Jql(self).run(jql)
            self._search_cache = {(jql, self.version): ids}
        start = 0
        if token:
            try:
                start = int(json.loads(base64.urlsafe_b64decode(token))["o"])
            except (ValueError, KeyError, TypeError):
                self._fail(400, "The provided next page token is invalid or expired.")
        page = ids[start : start + size]
        out: dict[str, Any] = {
            "issues": [self.issue_json(self.issues[i], v, fields, props) for i in page],
            "isLast": start + size >= len(ids),
        }
        if not out["isLast"]:
            out["nextPageToken"] = base64.urlsafe_b64encode(
                json.dumps({"o": start + size, "v": self.version}).encode()
            ).decode()
        return out

    # -- routes: issue -------------------------------------------------------------------
    @route("GET", V + r"/issue/(?P<ref>[^/]+)")
    def issue_get(self, req: Request, v: str, ref: str) -> Any:
        issue = self.find_issue(ref)
        return self.issue_json(
            issue, v, self._wanted(req.args("fields"), "*all"), req.args("properties")
        )

    @route("PUT", V + r"/issue/(?P<ref>[^/]+)")
    def issue_edit(self, req: Request, v: str, ref: str) -> Any:
        issue = self.find_issue(ref)
        body = req.json() or {}
        ops: list[tuple[str, str, Any]] = [
            ("set", k, x) for k, x in (body.get("fields") or {}).items()
        ]
        for fid, changes in (body.get("update") or {}).items():
            for change in changes:
                ops += [(op, fid, x) for op, x in change.items()]
        if not ops:
            self._fail(400, "No fields or update operations were given.")
        known = {f["id"]: f for f in self.fields}
        errors = {
            fid: f"Field '{fid}' cannot be set. It is not on the appropriate screen, or unknown."
            for _, fid, _ in ops
            if fid not in known or fid in ("created", "updated", "project", "watches")
        }
        for op, fid, x in ops:
            if fid == "labels" and any(" " in str(lab) for lab in (x if op == "set" else [x])):
                errors["labels"] = "The label contains spaces which is invalid."
            if fid == "description" and v == "3" and x is not None and not isinstance(x, dict):
                errors["description"] = (
                    "Operation value must be an Atlassian Document "
                    "(see the Atlassian Document Format)"
                )
        if errors:
            self._fail(400, "", errors)
        for op, fid, x in ops:
            self._apply_edit(issue, known[fid], op, x)
        self.touch(issue)
        if req.arg("returnIssue") == "true":
            return self.issue_json(issue, v, self._wanted([], "*all"), [])
        return Response(204)

    def _apply_edit(self, issue: dict[str, Any], field: dict[str, Any], op: str, x: Any) -> None:
        f = issue["fields"]
        fid = field["id"]
        if isinstance(x, dict) and "accountId" in x:
            x = x["accountId"]
        elif isinstance(x, dict) and field["schema"]["type"] in ("status", "issuetype"):
            x = x.get("name")
        if field["schema"]["type"] != "array":
            if op != "set":
                self._fail(400, "", {fid: f"Operation '{op}' is not supported for '{fid}'."})
            f[fid] = x
            return
        current = list(f.get(fid) or [])
        if op == "set":
            f[fid] = list(x or [])
        elif op == "add" and x not in current:
            f[fid] = [*current, x]
        elif op == "remove":
            f[fid] = [c for c in current if c != x]

    @route("DELETE", V + r"/issue/(?P<ref>[^/]+)")
    def issue_delete(self, req: Request, v: str, ref: str) -> Any:
        """Jira answers 204; the issue then answers 404 and leaves every search."""
        issue = self.find_issue(ref)
        issue["state"] = "deleted"
        self.touch(issue)
        return Response(204, b"")
