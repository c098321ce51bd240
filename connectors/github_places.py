"""Where a GitHub repository lives now: renamed or transferred repos answer with a redirect.

GitHub answers a request that names a repository by an old name with a redirect to
`/repositories/<id>/...` (301 for GET, 307 otherwise). PyGithub follows a 301 but drops the
query (state, sort, per_page), and does not follow a 307, so the connector watches every raw
answer, learns where the repository lives and sends every later read and write there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

from github import Github

from ._answers import ServerClock
from .gate import gate_requests

__all__ = ["RepoPlaces", "watch"]

log = logging.getLogger("connectors.github")


def watch(
    client: Github, hook: Callable[..., Any], before: Callable[[str, str], None] | None = None
) -> None:
    """Add a response hook to every requests session PyGithub opens (it builds its sessions
    inside its connection class): the hook sees each raw answer, redirects included; `before`
    (see `connectors.gate`) is called ahead of each request."""
    requester = client.requester
    attr = "_Requester__connectionClass"
    base = getattr(requester, attr, None)
    if base is None or getattr(base, "_handoff_watched", False):
        return

    class Watched(base):  # type: ignore[misc, valid-type]
        _handoff_watched = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.session.hooks.setdefault("response", []).append(hook)
            if before is not None:
                gate_requests(self.session, before)

    setattr(requester, attr, Watched)



class RepoPlaces:
    """Mixed into the GitHub connector: the raw-answer hook and the moved repositories."""

    client: Github
    clock: ServerClock
    _local: threading.local  # per thread: `redirects`, the Locations seen during its last call
    _moved: dict[str, str]

    def _redirect_list(self) -> list[str]:
        found: list[str] | None = getattr(self._local, "redirects", None)
        if found is None:
            found = self._local.redirects = []
        return found

    def _on_response(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        self.clock.saw(response.headers)
        if response.is_redirect and response.headers.get("Location"):
            self._redirect_list().append(urljoin(response.url, response.headers["Location"]))
        return response

    def _route(self, url: str) -> str:
        """`url` under a renamed or transferred repository's id, once GitHub said it moved."""
        parts = url.split("/", 4)
        if len(parts) >= 4 and parts[0] == "" and parts[1] == "repos":
            moved = self._moved.get(f"{parts[2]}/{parts[3]}".lower())
            if moved:
                return moved + (f"/{parts[4]}" if len(parts) > 4 else "")
        return url

    def _learn_move(self, url: str, location: str) -> None:
        """A repository answered with a redirect to its id (renamed or transferred): remember
        where it lives, so every later read and write goes there directly."""
        parts = url.split("/", 4)
        if len(parts) < 4 or parts[1] != "repos":
            return
        rest = f"/{parts[4]}" if len(parts) > 4 else ""
        path = urlsplit(location).path
        base = urlsplit(self.client.requester.base_url).path.rstrip("/")
        if path.startswith(base):
            path = path[len(base) :]
        if rest and path.endswith(rest):
            path = path[: -len(rest)]
        if path.startswith("/repositories/"):
            self._moved[f"{parts[2]}/{parts[3]}".lower()] = path
            log.info("github: %s/%s moved; reading it at %s", parts[2], parts[3], path)

    def _repo_obj(self, full: str) -> Any:
        """A lazy Repository for `full` (no request), by id when it moved."""
        moved = self._moved.get(full.lower())
        if moved:
            return self.client.get_repo(int(moved.rsplit("/", 1)[1]))
        return self.client.get_repo(full)
