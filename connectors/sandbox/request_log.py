"""The sandbox's record of the requests it received, for tests to check what a client sent.

Credentials never reach the record: they are cut to their scheme ("Basic", "Bearer").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

__all__ = ["LoggedRequest", "iter_json_lines", "loggable_headers"]


@dataclass(frozen=True)
class LoggedRequest:
    service: str
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int
    write: bool
    at: float
    # The headers that shape the request (content type, API version, auth scheme), with every
    # credential cut to its scheme: enough to check a request against a description, no secret.
    headers: dict[str, str] = field(default_factory=dict)


_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def loggable_headers(headers: Message) -> dict[str, str]:
    """The request's headers with credentials reduced to their scheme ("Basic", "Bearer")."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS:
            value = value.split(" ", 1)[0] + " <redacted>" if " " in value else "<redacted>"
        out[name] = value
    return out


def iter_json_lines(entries: Iterable[LoggedRequest]) -> Iterator[str]:
    for e in entries:
        yield json.dumps({"service": e.service, "method": e.method, "path": e.path})
