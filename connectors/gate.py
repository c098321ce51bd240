"""The hook each connector calls before a read request goes out, so the engine can pace reads
under the same budget as writes (Notion: about 3 requests a second in all).

It sits on the client library's transport (a requests Session's `send`, an httpx Client's
request hook), so every read the library makes is counted, its own follow-up GETs and
retries included. Writes pass through: the engine paces each write op before it calls the
connector. The gate is None until the engine sets `read_gate`; a gate may block (it sleeps
until the budget has room) and must not raise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Gated", "ReadGate", "gate_httpx", "gate_requests"]

ReadGate = Callable[[], None]
Before = Callable[[str, str], None]  # (HTTP method, path) of a request about to go out


class Gated:
    """Mixed into a connector: `read_gate` is set by the engine; `_before` is what the
    transport hook calls; `is_read` says which requests the budget counts as reads."""

    read_gate: ReadGate | None = None

    def is_read(self, method: str, path: str) -> bool:
        return method.upper() in ("GET", "HEAD")

    def _before(self, method: str, path: str) -> None:
        gate = self.read_gate
        if gate is not None and self.is_read(method, path):
            gate()


def gate_requests(session: Any, before: Before) -> None:
    """Call `before` ahead of every request a requests Session sends (redirects included)."""
    send = session.send

    def gated(request: Any, **kwargs: Any) -> Any:
        before(str(request.method or "GET"), str(request.path_url or ""))
        return send(request, **kwargs)

    session.send = gated


def gate_httpx(client: Any, before: Before) -> None:
    """Call `before` ahead of every request an httpx Client sends."""
    client.event_hooks.setdefault("request", []).append(
        lambda request: before(str(request.method), str(request.url.path))
    )
