"""GitHub's rate limits and conditional GETs, as the sandbox answers them.

With `rate_limits` on: X-RateLimit-* headers, the primary budget per token (403 "API rate
limit exceeded"; a 304 is free) and the secondary limits (content-creating writes and points
per minute: 403 or 429 with Retry-After). GETs always carry an ETag and answer 304 to a
matching If-None-Match.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .github_core import BOT, GithubCore
from .server import Request, Response, SandboxServer, route

__all__ = ["PRIMARY_MESSAGE", "SECONDARY_MESSAGE", "RateLimits"]

PRIMARY_MESSAGE = "API rate limit exceeded for user ID {uid}."
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


@dataclass
class _Budget:
    """One token's rate-limit state: the hourly primary window and the per-minute limits."""

    reset: float
    used: int = 0
    writes: deque[float] = field(default_factory=deque)
    points: deque[tuple[float, int]] = field(default_factory=deque)


class RateLimits(GithubCore):
    """Each token's budgets, the limit check before a route, the headers after it."""

    # Budgets (tests lower them): GitHub's documented numbers.
    primary_limit = 5000
    writes_per_minute = 80
    points_per_minute = 900
    secondary_status = 403  # GitHub answers a secondary limit with 403 or 429

    def __init__(self, server: SandboxServer, workspace: dict[str, Any]) -> None:
        super().__init__(server, workspace)
        self._budgets: dict[str, _Budget] = {}

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
