"""The sandbox's Jira comment routes (list, one, add, edit, delete) and issue entity properties.

Only a comment's author may edit or delete it, as Jira answers for a non-admin account. A v3
body must be an ADF document and a v2 body a string (wiki markup).
"""

from __future__ import annotations

from typing import Any

from .jira_store import JiraStore, V
from .server import Request, Response, Service, route

__all__ = ["JiraCommentRoutes"]


class JiraCommentRoutes(JiraStore, Service):
    """Mixed into the Jira service, whose __init__ sets `comment_page_max`."""

    comment_page_max: int

    # -- routes: comments ----------------------------------------------------------------
    @route("GET", V + r"/issue/(?P<ref>[^/]+)/comment")
    def comment_list(self, req: Request, v: str, ref: str) -> Any:
        issue = self.find_issue(ref)
        comments = sorted(
            issue["comments"],
            key=lambda c: (c["created"], c["id"]),
            reverse=req.arg("orderBy") == "-created",
        )
        start = int(req.arg("startAt") or 0)
        size = max(0, min(int(req.arg("maxResults") or 100), self.comment_page_max))
        page = [self.comment_json(issue, c, v) for c in comments[start : start + size]]
        return {"comments": page, "maxResults": size, "total": len(comments), "startAt": start}

    @route("GET", V + r"/issue/(?P<ref>[^/]+)/comment/(?P<cid>[^/]+)")
    def comment_get(self, req: Request, v: str, ref: str, cid: str) -> Any:
        issue = self.find_issue(ref)
        return self.comment_json(issue, self._comment(issue, cid), v)

    @route("POST", V + r"/issue/(?P<ref>[^/]+)/comment")
    def comment_add(self, req: Request, v: str, ref: str) -> Any:
        issue = self.find_issue(ref)
        body = self._comment_body(req, v)
        now = self.server.now()
        self.next_comment_id += 1
        c = {
            "id": str(self.next_comment_id),
            "author": self.account_id,
            "body": body,
            "created": now,
            "updated": now,
        }
        issue["comments"].append(c)
        self.touch(issue)
        return Response(201, self.comment_json(issue, c, v))

    def person_comment(self, ref: str, author: str, body: Any) -> str:
        """A person's comment made in Jira's app (every API token here is the bot's), announced
        as a `comment_created` webhook by that person when webhooks are on. Returns its id."""
        with self.server.lock:
            issue = self.find_issue(ref)
            now = self.server.now()
            self.next_comment_id += 1
            c = {"id": str(self.next_comment_id), "author": author, "body": body,
                 "created": now, "updated": now}
            issue["comments"].append(c)
            self.touch(issue)
            hooks = self.server.webhooks
            if hooks is not None:
                hooks.jira_comment(self, issue, c, author)
        return str(c["id"])

    @route("PUT", V + r"/issue/(?P<ref>[^/]+)/comment/(?P<cid>[^/]+)")
    def comment_edit(self, req: Request, v: str, ref: str, cid: str) -> Any:
        issue = self.find_issue(ref)
        c = self._comment(issue, cid)
        body = self._comment_body(req, v)
        if c["author"] != self.account_id:
            self._fail(403, "You do not have the permission to edit this comment.")
        c["body"] = body
        c["updated"] = self.server.now()
        self.touch(issue)
        return self.comment_json(issue, c, v)

    @route("DELETE", V + r"/issue/(?P<ref>[^/]+)/comment/(?P<cid>[^/]+)")
    def comment_delete(self, req: Request, v: str, ref: str, cid: str) -> Any:
        """Jira answers 204 and no body; only the author (or an admin) may delete."""
        issue = self.find_issue(ref)
        c = self._comment(issue, cid)
        if c["author"] != self.account_id:
            self._fail(403, "You do not have the permission to delete this comment.")
        issue["comments"].remove(c)
        self.touch(issue)
        return Response(204, b"")

    def _comment(self, issue: dict[str, Any], cid: str) -> dict[str, Any]:
        for c in issue["comments"]:
            if c["id"] == cid:
                return c
        self._fail(404, f"Can not find a comment for the id: {cid}.")
        raise AssertionError  # unreachable: _fail raises

    def _comment_body(self, req: Request, v: str) -> Any:
        try:
            body = (req.json() or {}).get("body")
        except ValueError:
            self._fail(400, "Unexpected character: was expecting a JSON value.")
        if body in (None, ""):
            self._fail(400, "", {"comment": "Comment body can not be empty!"})
        if v == "3" and not (
            isinstance(body, dict) and body.get("type") == "doc" and body.get("version") == 1
        ):
            self._fail(400, "", {"comment": "Comment body is not valid!"})
        if v == "2" and not isinstance(body, str):
            self._fail(
                400, "Can not deserialize instance of java.lang.String out of START_OBJECT token"
            )
        return body

    # -- routes: entity properties -------------------------------------------------------
    @route("GET", V + r"/issue/(?P<ref>[^/]+)/properties")
    def property_keys(self, req: Request, v: str, ref: str) -> Any:
        issue = self.find_issue(ref)
        base = f"{self._base()}/rest/api/{v}/issue/{issue['id']}/properties"
        return {"keys": [{"self": f"{base}/{k}", "key": k} for k in issue["properties"]]}

    @route("GET", V + r"/issue/(?P<ref>[^/]+)/properties/(?P<pkey>[^/]+)")
    def property_get(self, req: Request, v: str, ref: str, pkey: str) -> Any:
        issue = self.find_issue(ref)
        if pkey not in issue["properties"]:
            self._fail(404, f"The property with key '{pkey}' does not exist.")
        return {"key": pkey, "value": issue["properties"][pkey]}

    @route("PUT", V + r"/issue/(?P<ref>[^/]+)/properties/(?P<pkey>[^/]+)")
    def property_put(self, req: Request, v: str, ref: str, pkey: str) -> Any:
        issue = self.find_issue(ref)
        if len(req.body) > 32768:
            self._fail(400, "The property value exceeds the maximum size of 32768 bytes.")
        try:
            value = req.json()
        except ValueError:
            self._fail(400, "The property value must be valid JSON.")
        created = pkey not in issue["properties"]
        issue["properties"][pkey] = value
        self.version += 1  # properties do not move `updated`, but searches may return them
        self._search_cache.clear()
        return Response(201 if created else 200)
