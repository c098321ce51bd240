"""GitHub's issue comments and issue labels, as the sandbox serves them.

Comments: per issue, per repo (since, sort, direction), one, create, edit, delete. Labels on
an issue: list, add (unknown names are created), set, remove one, remove all. Every write
moves the issue's `updated_at`, as on GitHub.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from .github_core import BOT, REPO_PATH, GithubCore
from .github_model import Comment, Item, Repo
from .server import ApiError, Request, Response, route

__all__ = ["CommentRoutes"]

_R = REPO_PATH
# GitHub's answer to a body that matches none of an operation's request schemas.
_NOT_AN_OBJECT = "Invalid request.\n\nFor 'links/0/schema', {} is not an object."


class CommentRoutes(GithubCore):
    """The comment and label routes of the GitHub service."""

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

    _REACTIONS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})

    @route("POST", _R + r"/issues/comments/(?P<comment_id>\d+)/reactions")
    def react(self, req: Request, owner: str, repo: str, comment_id: str) -> Any:
        """201 with a new reaction; 200 with the one this user already left with that content.
        A reaction does not move the issue's `updated_at`."""
        r = self._repo(owner, repo, req)
        c = self._comment(r, comment_id, req)
        try:
            data = req.json()
        except ValueError:
            raise ApiError(self.error(400, "Problems parsing JSON", req)) from None
        content = data.get("content") if isinstance(data, dict) else None
        if content not in self._REACTIONS:
            raise ApiError(self.error(422, "Validation Failed", req))
        login = self.token_logins.get(self._token(req), BOT)
        for rid, who, what, at in c.reactions:
            if (who, what) == (login, content):
                return Response(200, self._r(req).reaction(rid, who, what, at))
        now = self.server.now().replace(microsecond=0)
        c.reactions.append((self._next(), login, str(content), now))
        return Response(201, self._r(req).reaction(*c.reactions[-1]))

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
