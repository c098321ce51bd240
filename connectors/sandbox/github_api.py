"""GitHub REST v3 as a GitHub Enterprise-style base URL, `/api/v3`, for PyGithub to talk to.

Serves: repo, pulls (list, one), issues (list with PRs carrying `pull_request`, filtered by
`creator`; one; create; edit title, body and state), issue comments (per issue, per repo, one,
create, edit), labels on an issue (list, add, set, remove one, remove all), users, `/user`,
org members and teams, rate_limit. GETs carry an ETag and answer 304 to a matching
If-None-Match. With `rate_limits` on: X-RateLimit-* headers, the
primary budget per token (403 "API rate limit exceeded", a 304 is free), and the secondary
limits (content-creating writes and points per minute: 403 or 429 with Retry-After).

Workspace section (ids, numbers, timestamps, URLs are filled in when left out):

    "github": {
      "token_logins": {"sandbox-github-write": "handoff-bot"},  # default: every token -> bot
      "users": [{"login": "handoff-bot", "name": "Handoff Bot", "type": "Bot"}],
      "orgs": {"acme": {"members": ["alice"],
                        "teams": [{"slug": "data-eng", "name": "Data Eng", "members": ["alice"]}]}},
      "repos": {"acme/web": {
        "labels": [{"name": "handoff:blocked", "color": "d73a4a", "description": null}],
        "pulls": [{"number": 1, "title": "EXP-1 ...", "body": "...", "user": "alice",
                   "state": "open", "draft": false, "merged_at": null, "closed_at": null,
                   "assignees": [], "requested_reviewers": ["bob"], "requested_teams": ["data-eng"],
                   "labels": ["x"], "head": "feature/exp-1", "base": "main",
                   "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-02T00:00:00Z",
                   "comments": [{"user": "bob", "body": "...", "created_at": "..."}]}],
        "issues": [...same keys without head/base/draft/merged_at/requested_*...]}}}

People with a `github_login` become users (name, email). Pulls and issues share one number
sequence per repo, as on GitHub; every write to one (comment, label) moves its `updated_at`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlencode

from .github_moves import RepoMoves
from .github_render import Comment, Item, Render, Repo
from .server import ApiError, Request, Response, SandboxServer, Service, iso, route

__all__ = ["GithubService", "synthetic_section"]

DOCS = "https://docs.github.com/rest"
BOT = "handoff-bot"
_R = r"/api/v3/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
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
_NOT_AN_OBJECT = "Invalid request.\n\nFor 'links/0/schema', {} is not an object."
ISSUE_BODY_LIMIT = 65536  # GitHub: "body is too long (maximum is 65536 characters)"
PRIMARY_MESSAGE = "API rate limit exceeded for user ID {uid}."
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass
class _Budget:
    """One token's rate-limit state: the hourly primary window and the per-minute limits."""

    reset: float
    used: int = 0
    writes: deque[float] = field(default_factory=deque)
    points: deque[tuple[float, int]] = field(default_factory=deque)


class GithubService(RepoMoves, Service):
    name = "github"
    prefix = "/api/v3/"

    # Budgets (tests lower them): GitHub's documented numbers.
    primary_limit = 5000
    writes_per_minute = 80
    points_per_minute = 900
    secondary_status = 403  # GitHub answers a secondary limit with 403 or 429

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
        self._budgets: dict[str, _Budget] = {}

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

    # -- auth, errors, limits --------------------------------------------------------------
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

    def _budget(self, req: Request, now: float) -> _Budget:
        token = self._token(req)
        b = self._budgets.get(token)
        if b is None or now >= b.reset:
            b = self._budgets[token] = _Budget(reset=math.floor(now) + 3600)
        return b

    def limit(self, req: Request, now: float) -> Response | None:
        if req.path.rstrip("/").endswith("/rate_limit"):
            return None  # GitHub does not charge for asking
        now = self.server.now().timestamp()  # the sandbox clock, so tests can advance() it
        b = self._budget(req, now)
        if b.used >= self.primary_limit:
            uid = self.users[self.token_logins.get(self._token(req), BOT)]["id"]
            return self.error(403, PRIMARY_MESSAGE.format(uid=uid), req)
        write = self.is_write(req)
        while b.writes and now - b.writes[0] >= 60:
            b.writes.popleft()
        while b.points and now - b.points[0][0] >= 60:
            b.points.popleft()
        cost = 5 if write else 1
        spent = sum(p for _, p in b.points)
        if (write and len(b.writes) >= self.writes_per_minute) or (
            spent + cost > self.points_per_minute
        ):
            oldest = b.writes[0] if write and b.writes else (b.points[0][0] if b.points else now)
            resp = self.error(self.secondary_status, SECONDARY_MESSAGE, req)
            resp.headers["Retry-After"] = str(max(1, math.ceil(60 - (now - oldest))))
            return resp
        if write:
            b.writes.append(now)
        b.points.append((now, cost))
        b.used += 1
        return None

    def decorate(self, req: Request, resp: Response) -> Response:
        if req.method == "GET" and resp.status == 200 and not isinstance(resp.body, bytes):
            etag = 'W/"' + hashlib.sha256(json.dumps(resp.body).encode()).hexdigest()[:40] + '"'
            resp.headers["ETag"] = etag
            if etag in (req.headers.get("If-None-Match") or ""):
                resp = Response(304, None, {"ETag": etag})
                b = self._budgets.get(self._token(req))
                if self.server.rate_limits and b and b.used:
                    b.used -= 1  # a 304 does not count against the primary limit
        if self.server.rate_limits and self._token(req) in self.tokens:
            b = self._budget(req, self.server.now().timestamp())
            resp.headers.update(
                {
                    "X-RateLimit-Limit": str(self.primary_limit),
                    "X-RateLimit-Remaining": str(max(0, self.primary_limit - b.used)),
                    "X-RateLimit-Used": str(b.used),
                    "X-RateLimit-Reset": str(int(b.reset)),
                    "X-RateLimit-Resource": "core",
                }
            )
        return resp

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

    # -- routes: repos, pulls, issues ------------------------------------------------------
    @route("GET", _R)
    def get_repo(self, req: Request, owner: str, repo: str) -> Any:
        out = self._r(req).repo(self._repo(owner, repo, req), full=True)
        # `permissions` is the caller's own access: a read token may pull but not triage/push.
        write = req.access == "write"
        out["permissions"] = {
            "admin": False,
            "maintain": False,
            "push": write,
            "triage": write,
            "pull": True,
        }
        return out

    def _listed(self, repo: Repo, req: Request, pulls: bool) -> list[Item]:
        state = req.arg("state", "open")
        sort = req.arg("sort", "created") or "created"
        default = "desc" if sort == "created" or not req.arg("sort") else "asc"
        if not pulls:
            default = "desc"  # issues: desc whatever the sort
        items = repo.ordered("updated" if sort == "updated" else "created", pulls)
        if req.arg("direction", default) == "desc":
            items = items[::-1]
        if state != "all":
            items = [i for i in items if i.state == state]
        return items

    @route("GET", _R + r"/pulls")
    def list_pulls(self, req: Request, owner: str, repo: str) -> Any:
        r = self._repo(owner, repo, req)
        return self._page(req, self._listed(r, req, True), lambda i: self._r(req).pull(r, i, False))

    @route("GET", _R + r"/pulls/(?P<number>\d+)")
    def get_pull(self, req: Request, owner: str, repo: str, number: str) -> Any:
        r = self._repo(owner, repo, req)
        return self._r(req).pull(r, self._item(r, number, req, pull=True), full=True)

    @route("GET", _R + r"/issues")
    def list_issues(self, req: Request, owner: str, repo: str) -> Any:
        r = self._repo(owner, repo, req)
        items = self._listed(r, req, False)
        since = self._since(req)
        if since:
            items = [i for i in items if i.updated >= since]
        creator = req.arg("creator")
        if creator:
            items = [i for i in items if i.user.lower() == creator.lower()]
        return self._page(req, items, lambda i: self._r(req).issue(r, i))

    @route("GET", _R + r"/issues/(?P<number>\d+)")
    def get_issue(self, req: Request, owner: str, repo: str, number: str) -> Any:
        r = self._repo(owner, repo, req)
        return self._r(req).issue(r, self._item(r, number, req))

    def _issue_fields(self, req: Request, creating: bool) -> dict[str, Any]:
        """title/body/state of a create or edit, checked as GitHub does (422 otherwise)."""
        try:
            data = req.json()
        except ValueError:
            raise ApiError(self.error(400, "Problems parsing JSON", req)) from None
        if not isinstance(data, dict):
            raise ApiError(self.error(422, "Validation Failed", req))
        title, body, state = data.get("title"), data.get("body"), data.get("state")
        bad = (
            (creating and not title)
            or (title is not None and not isinstance(title, str | int))
            or (body is not None and not isinstance(body, str))
            or (isinstance(body, str) and len(body) > ISSUE_BODY_LIMIT)
            or state not in (None, "open", "closed")
        )
        if bad:
            raise ApiError(self.error(422, "Validation Failed", req))
        pairs = (("title", title), ("body", body), ("state", state))
        return {k: v for k, v in pairs if v is not None}

    @route("POST", _R + r"/issues")
    def create_issue(self, req: Request, owner: str, repo: str) -> Any:
        r = self._repo(owner, repo, req)
        fields = self._issue_fields(req, creating=True)
        now = self.server.now().replace(microsecond=0)
        it = Item(
            id=self._next(),
            number=max(r.items, default=0) + 1,  # pulls and issues share one sequence
            is_pull=False,
            title=str(fields["title"]),
            body=fields.get("body"),
            user=self.token_logins.get(self._token(req), BOT),
            state="open",
            created=now,
            updated=now,
        )
        r.items[it.number] = it
        r.touch(it, now)
        body = self._r(req).issue(r, it)
        return Response(201, body, {"Location": body["url"]})

    @route("PATCH", _R + r"/issues/(?P<number>\d+)")
    def edit_issue(self, req: Request, owner: str, repo: str, number: str) -> Any:
        r = self._repo(owner, repo, req)
        it = self._item(r, number, req)
        fields = self._issue_fields(req, creating=False)
        now = self.server.now().replace(microsecond=0)
        it.title = str(fields.get("title", it.title))
        it.body = fields.get("body", it.body)
        if fields.get("state", it.state) != it.state:
            it.state = fields["state"]
            it.closed = now if it.state == "closed" else None
        r.touch(it, now)
        return self._r(req).issue(r, it)

    # -- routes: comments ------------------------------------------------------------------
    @route("GET", _R + r"/issues/(?P<number>\d+)/comments")
    def list_comments(self, req: Request, owner: str, repo: str, number: str) -> Any:
        r = self._repo(owner, repo, req)
        since = self._since(req)
        found = [r.comments[c] for c in self._item(r, number, req).comments]
        found = [c for c in found if since is None or c.updated >= since]
        return self._page(req, found, lambda c: self._r(req).comment(r, c))

    @route("GET", _R + r"/issues/comments")
    def list_repo_comments(self, req: Request, owner: str, repo: str) -> Any:
        r = self._repo(owner, repo, req)
        since = self._since(req)
        found = [c for c in r.comments.values() if since is None or c.updated >= since]
        sort = req.arg("sort")
        found.sort(key=lambda c: (c.updated if sort == "updated" else c.created, c.id))
        if sort and req.arg("direction") == "desc":
            found.reverse()  # GitHub ignores direction without sort
        return self._page(req, found, lambda c: self._r(req).comment(r, c))

    def _comment(self, r: Repo, comment_id: str, req: Request) -> Comment:
        c = r.comments.get(int(comment_id))
        if c is None:
            raise ApiError(self.error(404, "Not Found", req))
        return c

    @route("GET", _R + r"/issues/comments/(?P<comment_id>\d+)")
    def get_comment(self, req: Request, owner: str, repo: str, comment_id: str) -> Any:
        r = self._repo(owner, repo, req)
        return self._r(req).comment(r, self._comment(r, comment_id, req))

    def _body(self, req: Request) -> str:
        try:
            data = req.json()
        except ValueError:
            raise ApiError(self.error(400, "Problems parsing JSON", req)) from None
        if not isinstance(data, dict) or not isinstance(data.get("body"), str) or not data["body"]:
            raise ApiError(self.error(422, "Validation Failed", req))
        return str(data["body"])

    @route("POST", _R + r"/issues/(?P<number>\d+)/comments")
    def create_comment(self, req: Request, owner: str, repo: str, number: str) -> Any:
        r = self._repo(owner, repo, req)
        it = self._item(r, number, req)
        now = self.server.now().replace(microsecond=0)
        login = self.token_logins.get(self._token(req), BOT)
        c = Comment(self._next(), it.number, login, self._body(req), now, now)
        r.comments[c.id] = c
        it.comments.append(c.id)
        r.touch(it, now)
        body = self._r(req).comment(r, c)
        return Response(201, body, {"Location": body["url"]})

    @route("PATCH", _R + r"/issues/comments/(?P<comment_id>\d+)")
    def edit_comment(self, req: Request, owner: str, repo: str, comment_id: str) -> Any:
        r = self._repo(owner, repo, req)
        c = self._comment(r, comment_id, req)
        c.body = self._body(req)
        c.updated = self.server.now().replace(microsecond=0)
        r.touch(r.items[c.number], c.updated)
        return self._r(req).comment(r, c)

    @route("DELETE", _R + r"/issues/comments/(?P<comment_id>\d+)")
    def delete_comment(self, req: Request, owner: str, repo: str, comment_id: str) -> Any:
        """GitHub answers 204 and no body; a second delete answers 404."""
        r = self._repo(owner, repo, req)
        c = self._comment(r, comment_id, req)
        del r.comments[c.id]
        it = r.items[c.number]
        it.comments.remove(c.id)
        r.touch(it, self.server.now().replace(microsecond=0))
        return Response(204, b"")

    # -- routes: labels --------------------------------------------------------------------
    def _label_names(self, req: Request) -> list[str]:
        try:
            data = req.json()
        except ValueError:
            raise ApiError(self.error(400, "Problems parsing JSON", req)) from None
        if not isinstance(data, dict):
            # GitHub's description takes only {"labels": [...]}; a bare array (what PyGithub's
            # add_to_labels and set_labels send) matches none of its request schemas.
            raise ApiError(self.error(422, _NOT_AN_OBJECT.format(json.dumps(data)), req))
        data = data.get("labels")
        if not isinstance(data, list):
            raise ApiError(self.error(422, "Validation Failed", req))
        names = [d.get("name") if isinstance(d, dict) else d for d in data]
        if not all(isinstance(n, str) and n for n in names):
            raise ApiError(self.error(422, "Validation Failed", req))
        return [str(n) for n in names]

    def _labels_of(self, r: Repo, it: Item, req: Request) -> list[dict[str, Any]]:
        return [self._r(req).label(r, n) for n in it.labels]

    @route("GET", _R + r"/issues/(?P<number>\d+)/labels")
    def list_labels(self, req: Request, owner: str, repo: str, number: str) -> Any:
        r = self._repo(owner, repo, req)
        it = self._item(r, number, req)
        return self._page(req, it.labels, lambda n: self._r(req).label(r, n))

    @route("POST", _R + r"/issues/(?P<number>\d+)/labels")
    def add_labels(self, req: Request, owner: str, repo: str, number: str) -> Any:
        r = self._repo(owner, repo, req)
        it = self._item(r, number, req)
        have = {n.lower() for n in it.labels}
        for name in self._label_names(req):
            if name.lower() not in have:
                it.labels.append(self._label(r, name)["name"])  # unknown labels are created
                have.add(name.lower())
        r.touch(it, self.server.now())
        return self._labels_of(r, it, req)

    @route("PUT", _R + r"/issues/(?P<number>\d+)/labels")
    def set_labels(self, req: Request, owner: str, repo: str, number: str) -> Any:
        r = self._repo(owner, repo, req)
        it = self._item(r, number, req)
        it.labels = list(dict.fromkeys(self._label(r, n)["name"] for n in self._label_names(req)))
        r.touch(it, self.server.now())
        return self._labels_of(r, it, req)

    @route("DELETE", _R + r"/issues/(?P<number>\d+)/labels")
    def clear_labels(self, req: Request, owner: str, repo: str, number: str) -> Any:
        r = self._repo(owner, repo, req)
        it = self._item(r, number, req)
        it.labels = []
        r.touch(it, self.server.now())
        return Response(204, None)

    @route("DELETE", _R + r"/issues/(?P<number>\d+)/labels/(?P<name>[^/]+)")
    def remove_label(self, req: Request, owner: str, repo: str, number: str, name: str) -> Any:
        r = self._repo(owner, repo, req)
        it = self._item(r, number, req)
        wanted = unquote(name).lower()
        if wanted not in {n.lower() for n in it.labels}:
            raise ApiError(self.error(404, "Label does not exist", req))
        it.labels = [n for n in it.labels if n.lower() != wanted]
        r.touch(it, self.server.now())
        return self._labels_of(r, it, req)

    # -- routes: users, orgs, rate limit ---------------------------------------------------
    @route("GET", r"/api/v3/user")
    def get_me(self, req: Request) -> Any:
        me = self._r(req).user(self.token_logins.get(self._token(req), BOT), full=True)
        me.update(
            {
                "private_gists": 0,
                "total_private_repos": 0,
                "owned_private_repos": 0,
                "disk_usage": 0,
                "collaborators": 0,
                "two_factor_authentication": True,
                "user_view_type": "private",  # the spec discriminates /user on it
            }
        )
        return me

    @route("GET", r"/api/v3/user/repos")
    def my_repos(self, req: Request) -> Any:
        # Every repository the token can reach (the sandbox's tokens reach them all).
        repos = sorted(self.repos.values(), key=lambda r: f"{r.owner}/{r.name}".lower())
        return self._page(req, repos, lambda r: self._r(req).repo(r, full=False))

    @route("GET", r"/api/v3/users/(?P<login>[^/]+)")
    def get_user(self, req: Request, login: str) -> Any:
        if login not in self.users:
            raise ApiError(self.error(404, "Not Found", req))
        return self._r(req).user(login, full=True)

    def _org(self, org: str, req: Request) -> dict[str, Any]:
        if org not in self.orgs:
            raise ApiError(self.error(404, "Not Found", req))
        return self.orgs[org]

    @route("GET", r"/api/v3/orgs/(?P<org>[^/]+)/members")
    def org_members(self, req: Request, org: str) -> Any:
        members = sorted(self._org(org, req)["members"])
        return self._page(req, members, lambda m: self._r(req).user(m))

    @route("GET", r"/api/v3/orgs/(?P<org>[^/]+)/teams")
    def org_teams(self, req: Request, org: str) -> Any:
        slugs = sorted(self._org(org, req)["teams"])
        return self._page(req, slugs, lambda s: self._r(req).team(f"{org}/{s}"))

    @route("GET", r"/api/v3/orgs/(?P<org>[^/]+)/teams/(?P<slug>[^/]+)/members")
    def team_members(self, req: Request, org: str, slug: str) -> Any:
        team = self._org(org, req)["teams"].get(slug)
        if team is None:
            raise ApiError(self.error(404, "Not Found", req))
        return self._page(req, sorted(team.get("members", [])), lambda m: self._r(req).user(m))

    @route("GET", r"/api/v3/rate_limit")
    def rate_limit(self, req: Request) -> Any:
        now = self.server.now().timestamp()
        b = self._budget(req, now)
        used = b.used if self.server.rate_limits else 0
        core = {
            "limit": self.primary_limit,
            "used": used,
            "remaining": max(0, self.primary_limit - used),
            "reset": int(b.reset),
        }
        search = {"limit": 30, "used": 0, "remaining": 30, "reset": int(now) + 60}
        return {"resources": {"core": core, "search": search}, "rate": core}


def synthetic_section(repo: str, pulls: int, logins: list[str], start: datetime) -> dict[str, Any]:
    """A `github` section: `pulls` PRs in `repo`, one a minute from `start` (scale tests)."""
    items = []
    for n in range(1, pulls + 1):
        at = iso(start.replace(microsecond=0) + (n - 1) * _MINUTE)
        items.append(
            {
                "number": n,
                "title": f"EXP-{n} change {n}",
                "body": f"Handoff EXP-{n}",
                "user": logins[n % len(logins)],
                "created_at": at,
                "updated_at": at,
                "head": f"feature/exp-{n}",
            }
        )
    return {"repos": {repo: {"pulls": items}}}


_MINUTE = datetime(2000, 1, 1, 0, 1) - datetime(2000, 1, 1, 0, 0)
