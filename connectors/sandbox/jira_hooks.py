"""The Jira sandbox's admin webhooks: `/rest/webhooks/1.0/webhook`, as Jira Cloud serves it.

Not in Atlassian's OpenAPI description (which has only the apps' dynamic webhooks under
/rest/api/3/webhook); the shapes follow developer.atlassian.com/cloud/jira/platform/webhooks,
"Registering a webhook via the Jira REST API": POST {name, url, events, filters
{"issue-related-events-section": JQL}, excludeBody, secret} answers 201 with the webhook and
its `self` URL; GET lists them (a bare array); GET/PUT/DELETE `.../webhook/{id}` read, replace
and remove one. The secret is kept (it signs deliveries) but never shown again. Only Jira
administrators may do any of it; the others get 403. Workspace:

    "jira": {"webhook_admin": false}   # default: the account administers Jira (write tokens)
"""

from __future__ import annotations

from typing import Any

from .jira_comments import JiraCommentRoutes
from .server import Request, Response, route

__all__ = ["AdminWebhookRoutes"]

HOOKS = r"/rest/webhooks/1\.0/webhook"


class AdminWebhookRoutes(JiraCommentRoutes):
    """The admin webhook routes; `JiraService` sets `admin_hooks` and `webhook_admin`."""

    admin_hooks: dict[int, dict[str, Any]]
    webhook_admin: bool

    def _admin(self, req: Request) -> None:
        if not (self.webhook_admin and req.access == "write"):
            self._fail(403, "You are not authorized to perform this action. Administrator "
                       "privileges are required.")

    def _hook_json(self, hook: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in hook.items() if k not in ("id", "secret")}
        body["self"] = f"{self._base()}/rest/webhooks/1.0/webhook/{hook['id']}"
        return body

    def _hook_fields(self, req: Request) -> dict[str, Any]:
        try:
            data = req.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            self._fail(400, "The request body is not valid JSON.")
        assert isinstance(data, dict)  # _fail raised
        errors = {k: f"The {k} is required." for k in ("name", "url") if not data.get(k)}
        if not isinstance(data.get("events", []), list):
            errors["events"] = "The events must be a list."
        if not isinstance(data.get("filters", {}), dict):
            errors["filters"] = "The filters must be an object."
        if errors:
            self._fail(400, "", errors)
        keys = ("name", "url", "events", "filters", "excludeBody", "secret", "description")
        return {k: data[k] for k in keys if k in data}

    def _stamp(self, hook: dict[str, Any]) -> None:
        me = self.users.get(self.account_id) or {}
        hook.update(
            lastUpdatedUser=self.account_id,
            lastUpdatedDisplayName=me.get("displayName", ""),
            lastUpdated=int(self.server.now().timestamp() * 1000),
        )

    @route("GET", HOOKS)
    def list_admin_hooks(self, req: Request) -> Any:
        self._admin(req)
        return [self._hook_json(h) for _, h in sorted(self.admin_hooks.items())]

    @route("POST", HOOKS)
    def create_admin_hook(self, req: Request) -> Any:
        self._admin(req)
        fields = self._hook_fields(req)
        hook = {"id": max(self.admin_hooks, default=0) + 1, "events": [], "filters": {},
                "excludeBody": False, "enabled": True, **fields}
        self._stamp(hook)
        self.admin_hooks[hook["id"]] = hook
        return Response(201, self._hook_json(hook))

    def _admin_hook(self, req: Request, hook_id: str) -> dict[str, Any]:
        self._admin(req)
        hook = self.admin_hooks.get(int(hook_id))
        if hook is None:
            self._fail(404, f"Webhook with id {hook_id} not found.")
        assert hook is not None  # _fail raised
        return hook

    @route("GET", HOOKS + r"/(?P<hook_id>\d+)")
    def get_admin_hook(self, req: Request, hook_id: str) -> Any:
        return self._hook_json(self._admin_hook(req, hook_id))

    @route("PUT", HOOKS + r"/(?P<hook_id>\d+)")
    def replace_admin_hook(self, req: Request, hook_id: str) -> Any:
        hook = self._admin_hook(req, hook_id)
        fields = self._hook_fields(req)
        # A PUT replaces the webhook; a secret left out is kept, as the admin page does.
        kept = {"id": hook["id"], "secret": hook.get("secret"), "enabled": hook["enabled"]}
        hook.clear()
        hook.update({"events": [], "filters": {}, "excludeBody": False, **kept, **fields})
        if "enabled" in (req.json() or {}):
            hook["enabled"] = bool(req.json()["enabled"])
        self._stamp(hook)
        return self._hook_json(hook)

    @route("DELETE", HOOKS + r"/(?P<hook_id>\d+)")
    def delete_admin_hook(self, req: Request, hook_id: str) -> Any:
        self._admin_hook(req, hook_id)
        del self.admin_hooks[int(hook_id)]
        return Response(204, None)
