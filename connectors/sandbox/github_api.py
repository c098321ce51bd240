"""GitHub REST v3 as a GitHub Enterprise-style base URL, `/api/v3`, for PyGithub to talk to.

Serves here: repo, pulls (list, one), issues (list with PRs carrying `pull_request`, filtered
by `creator`; one; create; edit title, body and state), users, `/user`, org members and teams.
The service joins the rest from its own modules: github_core (state, auth, paging, lookups),
github_comments (issue comments and labels), github_limits (ETags and 304s; with
`rate_limits` on, the primary and secondary limits and rate_limit), github_moves
(renamed and transferred repositories) and github_hooks (repository webhooks).

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

from datetime import datetime
from typing import Any

from .github_comments import CommentRoutes
from .github_core import BOT, REPO_PATH
from .github_hooks import HookRoutes
from .github_limits import RateLimits
from .github_model import Item, Repo
from .server import ApiError, Request, Response, iso, route

__all__ = ["GithubService", "synthetic_section"]

_R = REPO_PATH
ISSUE_BODY_LIMIT = 65536  # GitHub: "body is too long (maximum is 65536 characters)"


class GithubService(CommentRoutes, RateLimits, HookRoutes):
    """The repo, pull, issue, user and org routes; the rest come from the classes it joins."""

    # -- routes: repos, pulls, issues ------------------------------------------------------
    @route("GET", _R)
    def get_repo(self, req: Request, owner: str, repo: str) -> Any:
        out = self._r(req).repo(self._repo(owner, repo, req), full=True)
        # `permissions` is the caller's own access: a read token may pull but not triage/push.
        write = req.access == "write"
        admins = self.hook_admins.get(out["full_name"].lower())
        login = self.token_logins.get(self._token(req), "")
        out["permissions"] = {
            # Administering the repository is what its hooks need (see github_hooks).
            "admin": write and (admins is None or login in admins),
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
