"""The GitHub sandbox's state and the plumbing every route shares.

Loads the workspace's `github` section (users, orgs, repos with their pulls, issues, comments,
labels), authenticates tokens, shapes GitHub's error bodies, pages lists with GitHub's Link
header, and looks repos and items up (404, or the redirect of a renamed repo). The routes
themselves live in github_api (repos, pulls, issues, users), github_comments (comments,
labels) and github_limits (rate limits, ETags).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from .github_model import Comment, Item, Repo
from .github_moves import RepoMoves
from .github_render import Render
from .server import ApiError, Request, Response, SandboxServer, Service

__all__ = ["BOT", "REPO_PATH", "GithubCore"]

DOCS = "https://docs.github.com/rest"
BOT = "handoff-bot"
REPO_PATH = r"/api/v3/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
_MESSAGES = {
    400: "Problems parsing JSON",
    401: "Bad credentials",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    422: "Validation Failed",
    500: "Server Error",
    502: "Server Error",
    503: "Service Unavailable",
}
# GitHub's answer to a body that matches none of an operation's request schemas.


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class GithubCore(RepoMoves, Service):
    """State, loading, auth, errors, paging and lookups; the route classes build on it."""

    name = "github"
    prefix = "/api/v3/"

    def __init__(self, server: SandboxServer, workspace: dict[str, Any]) -> None:
        super().__init__(server)
        section = workspace.get("github") or {}
        self.tokens: dict[str, str] = dict(workspace.get("tokens", {}).get("github", {}))
        self.token_logins: dict[str, str] = {t: BOT for t in self.tokens}
        self.token_logins.update(section.get("token_logins", {}))
        self.users: dict[str, dict[str, Any]] = {}
        self._ids = 1000
        for p in workspace.get("people", []):
            if p.get("github_login"):
                self._user(p["github_login"], name=p.get("name"), email=p.get("email"))
        for u in section.get("users", []):
            self._user(u["login"], **{k: v for k, v in u.items() if k != "login"})
        for login in self.token_logins.values():
            self._user(login, name="Handoff Bot")
        self.orgs: dict[str, dict[str, Any]] = {}
        for org, spec in section.get("orgs", {}).items():
            teams = {t["slug"]: dict(t, id=self._next()) for t in spec.get("teams", [])}
            self.orgs[org] = {"members": list(spec.get("members", [])), "teams": teams}
        self.repos: dict[str, Repo] = {}
        self.moved: dict[str, Repo] = {}  # old name -> repo, after a rename
        for full, spec in section.get("repos", {}).items():
            self._load_repo(full, spec)

    # -- loading ---------------------------------------------------------------------------
    def _next(self) -> int:
        self._ids += 1
        return self._ids

    def _user(self, login: str, **info: Any) -> dict[str, Any]:
        user = self.users.get(login)
        if user is None:
            user = self.users[login] = {"id": self._next(), "type": "User", "name": None}
        user.update({k: v for k, v in info.items() if v is not None})
        return user

    def _load_repo(self, full: str, spec: dict[str, Any]) -> None:
        owner, name = full.split("/", 1)
        created = _ts(spec.get("created_at")) or datetime(2024, 1, 1, tzinfo=UTC)
        repo = self.repos[full.lower()] = Repo(self._next(), owner, name, created)
        for label in spec.get("labels", []):
            self._label(repo, label["name"], label.get("color"), label.get("description"))
        number = 0
        for kind in ("pulls", "issues"):
            for raw in spec.get(kind, []):
                number = raw.get("number") or number + 1
                made = _ts(raw.get("created_at")) or created
                item = Item(
                    id=self._next(),
                    number=number,
                    is_pull=kind == "pulls",
                    title=raw.get("title", ""),
                    body=raw.get("body"),
                    user=raw.get("user", BOT),
                    state=raw.get("state", "open"),
                    created=made,
                    updated=_ts(raw.get("updated_at")) or made,
                    closed=_ts(raw.get("closed_at")),
                    merged=_ts(raw.get("merged_at")),
                    draft=bool(raw.get("draft", False)),
                    head=raw.get("head", f"branch-{number}"),
                    base=raw.get("base", "main"),
                    assignees=list(raw.get("assignees", [])),
                    reviewers=list(raw.get("requested_reviewers", [])),
                    teams=[
                        t if "/" in t else f"{owner}/{t}" for t in raw.get("requested_teams", [])
                    ],
                    labels=list(raw.get("labels", [])),
                )
                for login in [item.user, *item.assignees, *item.reviewers]:
                    if login not in self.users:
                        self._user(login)
                for name_ in item.labels:
                    self._label(repo, name_)
                for c in raw.get("comments", []):
                    at = _ts(c.get("created_at")) or item.created
                    cid = self._next()
                    repo.comments[cid] = Comment(cid, number, c.get("user", BOT), c["body"], at, at)
                    item.comments.append(cid)
                repo.items[number] = item

    def _label(
        self, repo: Repo, name: str, color: str | None = None, desc: str | None = None
    ) -> dict[str, Any]:
        key = name.lower()
        if key not in repo.labels:
            repo.labels[key] = {
                "id": self._next(),
                "name": name,
                "color": color or "ededed",
                "description": desc,
            }
        return repo.labels[key]

    # -- auth, errors -----------------------------------------------------------------------
    @staticmethod
    def _token(req: Request) -> str:
        scheme, _, token = (req.headers.get("Authorization") or "").partition(" ")
        return token.strip() if scheme.lower() in ("token", "bearer") else ""

    def authenticate(self, req: Request) -> None:
        token = self._token(req)
        if not token:
            raise ApiError(self.error(401, "Requires authentication", req))
        if token not in self.tokens:
            raise ApiError(self.error(401, "Bad credentials", req))
        req.access = self.tokens[token]

    def error(self, status: int, message: str = "", req: Request | None = None) -> Response:
        body = {
            "message": message or _MESSAGES.get(status, f"HTTP {status}"),
            "documentation_url": DOCS,
            "status": str(status),
        }
        return Response(status, body)

    def forbidden(self, req: Request) -> Response:
        return self.error(403, "Resource not accessible by integration", req)

    # -- rendering -------------------------------------------------------------------------
    @staticmethod
    def _base(req: Request) -> tuple[str, str]:
        """(api root, html root) on the host the client used, so PyGithub follows links."""
        host = req.headers.get("Host") or "127.0.0.1"
        return f"http://{host}/api/v3", f"http://{host}"

    def _r(self, req: Request) -> Render:
        api, html = self._base(req)
        return Render(api, html, self.users, self.orgs)

    def _page(self, req: Request, items: list[Any], render: Any) -> Response:
        """One page of `items` (per_page <= 100, page from 1) with GitHub's Link header."""
        try:
            per_page = max(1, min(100, int(req.arg("per_page") or 30)))
            page = max(1, int(req.arg("page") or 1))
        except ValueError:
            raise ApiError(self.error(400, "Invalid page or per_page", req)) from None
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers: dict[str, str] = {}
        if last > 1:
            api, _ = self._base(req)
            query = {k: v[0] for k, v in req.query.items() if k != "page"}

            def link(n: int, rel: str) -> str:
                url = f"{api}{req.path[len('/api/v3') :]}?{urlencode({**query, 'page': n})}"
                return f'<{url}>; rel="{rel}"'

            rels = []
            if page > 1:
                rels.append(link(page - 1, "prev"))
            if page < last:
                rels += [link(page + 1, "next"), link(last, "last")]
            if page > 1:
                rels.append(link(1, "first"))
            headers["Link"] = ", ".join(rels)
        return Response(200, [render(x) for x in chunk], headers)

    # -- lookups ---------------------------------------------------------------------------
    def _repo(self, owner: str, repo: str, req: Request) -> Repo:
        found = self.repos.get(f"{owner}/{repo}".lower())
        if found is None:
            raise self.moved_to(owner, repo, req) or ApiError(self.error(404, "Not Found", req))
        return found

    def _item(self, repo: Repo, number: str, req: Request, pull: bool = False) -> Item:
        it = repo.items.get(int(number))
        if it is None or (pull and not it.is_pull):
            raise ApiError(self.error(404, "Not Found", req))
        return it

    def _since(self, req: Request) -> datetime | None:
        raw = req.arg("since")
        try:
            return datetime.fromisoformat(raw) if raw else None
        except ValueError:
            raise ApiError(self.error(422, "Validation Failed", req)) from None
