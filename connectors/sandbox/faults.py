"""Faults the sandbox's tests inject: a status, a delay, a dropped or cut connection.

`SandboxServer.inject` queues them; the request handler answers with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Fault", "Injected"]


@dataclass
class Fault:
    """What the next matching request(s) get instead of a normal answer.

    status: answer with this status and the service's own error body for it.
    delay: seconds to wait before answering (or before the other effects).
    drop: close the connection without answering.
    cut: send the headers and half the body, then close.
    commit: process the request for real first (the write lands on the server), then apply
        delay/drop, so the client never learns it succeeded.
    retry_after: a Retry-After header value for the error answer.
    """

    status: int | None = None
    delay: float = 0.0
    drop: bool = False
    cut: bool = False
    commit: bool = False
    retry_after: float | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Injected:
    method: str
    pattern: re.Pattern[str]
    fault: Fault
    remaining: int
    after: int = 0  # matching requests to let through untouched first
