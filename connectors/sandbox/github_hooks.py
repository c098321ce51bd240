"""The GitHub sandbox's repository webhooks: `/repos/{owner}/{repo}/hooks` as GitHub serves it.

Shapes follow GitHub's description (`hook`, `webhook-config`): a hook has id, type
"Repository", name "web", active, events, config {url, content_type, insecure_ssl, secret
shown as "********"}, its URLs and last_response. Listing and changing hooks needs admin on the
repository; a token of someone who is not gets 404, as GitHub answers it. Workspace:

    "github": {"hook_admins": {"acme/web": ["alice"]}}   # default: every token's login
"""

from __future__ import annotations

from typing import Any

from .github_core import REPO_PATH, GithubCore
from .server import ApiError, Request, Response, SandboxServer, iso, route

__all__ = ["HookRoutes"]

_HOOK = REPO_PATH + r"/hooks/(?P<hook_id>\d+)"
_CONTENT_TYPES = ("json", "form")


class HookRoutes(GithubCore):
    """List, create, read, edit and delete repository hooks."""

    def __init__(self, server: SandboxServer, workspace: dict[str, Any]) -> None:
        super().__init__(server, workspace)
        admins = (workspace.get("github") or {}).get("hook_admins") or {}
        self.hook_admins: dict[str, list[str]] = {k.lower(): list(v) for k, v in admins.items()}
        self.repo_hooks: dict[str, dict[int, dict[str, Any]]] = {}

    def _hooks(self, owner: str, repo: str, req: Request) -> dict[int, dict[str, Any]]:
        """The repo's hooks, once the caller is known to administer it (else 404)."""
        r = self._repo(owner, repo, req)
        admins = self.hook_admins.get(r.full.lower())
        if admins is not None and self.token_logins.get(self._token(req), "") not in admins:
            raise ApiError(self.error(404, "Not Found", req))
        return self.repo_hooks.setdefault(r.full.lower(), {})

    def _hook_json(self, req: Request, owner: str, repo: str, hook: dict[str, Any]) -> Any:
        api, _ = self._base(req)
        url = f"{api}/repos/{owner}/{repo}/hooks/{hook['id']}"
        config = {k: v for k, v in hook["config"].items() if k != "secret"}
        if hook["config"].get("secret"):
            config["secret"] = "********"  # GitHub never gives a secret back
        return {
            "type": "Repository",
            "id": hook["id"],
            "name": "web",
            "active": hook["active"],
            "events": list(hook["events"]),
            "config": config,
            "updated_at": iso(hook["updated"]),
            "created_at": iso(hook["created"]),
            "url": url,
            "test_url": f"{url}/test",
            "ping_url": f"{url}/pings",
            "deliveries_url": f"{url}/deliveries",
            "last_response": {"code": None, "status": "unused", "message": None},
        }

    def _hook_body(self, req: Request, hook: dict[str, Any] | None) -> dict[str, Any]:
        """A create or edit body checked as GitHub does (422 with "Validation Failed")."""
        try:
            data = req.json()
        except ValueError:
            raise ApiError(self.error(400, "Problems parsing JSON", req)) from None
        if not isinstance(data, dict) or data.get("name", "web") != "web":
            raise ApiError(self.error(422, "Validation Failed", req))
        config = data.get("config", hook["config"] if hook else None)
        events = data.get("events", hook["events"] if hook else ["push"])
        active = data.get("active", hook["active"] if hook else True)
        ok = (
            isinstance(config, dict)
            and isinstance(config.get("url"), str)
            and config["url"].startswith(("http://", "https://"))
            and config.get("content_type", "form") in _CONTENT_TYPES
            and isinstance(events, list)
            and all(isinstance(e, str) for e in events)
            and isinstance(active, bool)
        )
        if not ok:
            raise ApiError(self.error(422, "Validation Failed", req))
        events = list(dict.fromkeys([*events, *data.get("add_events", [])]))
        events = [e for e in events if e not in data.get("remove_events", [])]
        assert isinstance(config, dict)
        config = {"content_type": "form", "insecure_ssl": "0", **config}
        return {"config": config, "events": events, "active": active}

    @route("GET", REPO_PATH + r"/hooks")
    def list_hooks(self, req: Request, owner: str, repo: str) -> Any:
        hooks = self._hooks(owner, repo, req)
        items = [hooks[k] for k in sorted(hooks)]
        return self._page(req, items, lambda h: self._hook_json(req, owner, repo, h))

    @route("POST", REPO_PATH + r"/hooks")
    def create_hook(self, req: Request, owner: str, repo: str) -> Any:
        hooks = self._hooks(owner, repo, req)
        fields = self._hook_body(req, None)
        if any(h["config"]["url"] == fields["config"]["url"] for h in hooks.values()):
            # GitHub: "Hook already exists on this repository"
            raise ApiError(self.error(422, "Validation Failed", req))
        now = self.server.now().replace(microsecond=0)
        hook = {"id": self._next(), "created": now, "updated": now, **fields}
        hooks[hook["id"]] = hook
        body = self._hook_json(req, owner, repo, hook)
        return Response(201, body, {"Location": body["url"]})

    def _one(self, req: Request, owner: str, repo: str, hook_id: str) -> dict[str, Any]:
        hook = self._hooks(owner, repo, req).get(int(hook_id))
        if hook is None:
            raise ApiError(self.error(404, "Not Found", req))
        return hook

    @route("GET", _HOOK)
    def get_hook(self, req: Request, owner: str, repo: str, hook_id: str) -> Any:
        return self._hook_json(req, owner, repo, self._one(req, owner, repo, hook_id))

    @route("PATCH", _HOOK)
    def edit_hook(self, req: Request, owner: str, repo: str, hook_id: str) -> Any:
        hook = self._one(req, owner, repo, hook_id)
        hook.update(self._hook_body(req, hook))
        hook["updated"] = self.server.now().replace(microsecond=0)
        return self._hook_json(req, owner, repo, hook)

    @route("DELETE", _HOOK)
    def delete_hook(self, req: Request, owner: str, repo: str, hook_id: str) -> Any:
        self._one(req, owner, repo, hook_id)
        del self._hooks(owner, repo, req)[int(hook_id)]
        return Response(204, None)
