"""Renamed and transferred repositories, as GitHub answers for them.

After a rename, a request naming the old `owner/repo` is answered with a redirect to the
repository's id: `Location: <api>/repositories/<id>/<rest>`, 301 for GET and HEAD, 307 for
other methods (GitHub's "HTTP redirects": repeat the request verbatim at the new URI). The
`/repositories/<id>/...` paths then serve the same resources as `/repos/<owner>/<repo>/...`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from .github_model import Repo
from .server import ApiError, Request, Response, Route, collect_routes

__all__ = ["RepoMoves"]

_BY_ID = re.compile(r"/api/v3/repositories/(?P<rid>\d+)(?P<rest>/.*)?")
_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")


class RepoMoves:
    """Mixed into the GitHub service: `rename`, the redirects, the by-id routes."""

    repos: dict[str, Repo]
    moved: dict[str, Repo]

    def rename(self, old: str, new: str) -> None:
        """Rename (or transfer) repo `old` to `new`; the old name redirects from now on."""
        repo = self.repos.pop(old.lower())
        repo.owner, repo.name = new.split("/", 1)
        self.repos[new.lower()] = repo
        self.moved[old.lower()] = repo

    def moved_to(self, owner: str, name: str, req: Request) -> ApiError | None:
        """The redirect for a request that names a repository by an old name."""
        repo = self.moved.get(f"{owner}/{name}".lower())
        if repo is None or f"{owner}/{name}".lower() in self.repos:
            return None
        prefix = f"/api/v3/repos/{owner}/{name}"
        rest = req.path[len(prefix) :] if req.path.lower().startswith(prefix.lower()) else ""
        host = req.headers.get("Host") or "127.0.0.1"
        query = urlencode({k: v[0] for k, v in req.query.items()})
        location = f"http://{host}/api/v3/repositories/{repo.id}{rest}" + (
            f"?{query}" if query else ""
        )
        status = 301 if req.method in ("GET", "HEAD") else 307
        body = {
            "message": "Moved Permanently",
            "url": location,
            "documentation_url": "https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects",
        }
        return ApiError(Response(status, body, {"Location": location}))

    def routes(self) -> Iterable[Route]:
        return [Route(m, _BY_ID, self._by_id) for m in _METHODS]

    def _by_id(self, req: Request, rid: str, rest: str | None = None) -> Any:
        repo = next((r for r in self.repos.values() if r.id == int(rid)), None)
        if repo is None:
            raise ApiError(self.error(404, "Not Found", req))  # type: ignore[attr-defined]
        req.path = f"/api/v3/repos/{repo.full}{rest or ''}"
        for route in collect_routes(self):  # type: ignore[arg-type]
            if route.method == req.method:
                m = route.pattern.fullmatch(req.path)
                if m:
                    return route.handler(req, **m.groupdict())
        raise ApiError(self.error(404, "Not Found", req))  # type: ignore[attr-defined]
