"""A loopback emulator of Jira Cloud, GitHub and Notion for tests, benchmarks and the demo.

    with Sandbox(workspace) as sb:
        sb.url                      # http://127.0.0.1:PORT, all three services on one port
        sb.inject("POST", r"/comments$", Fault(status=500))
        sb.log(write=True)          # every write request received
"""

from __future__ import annotations

import gc
from typing import Any

from .faults import Fault
from .github_api import GithubService
from .jira_api import JiraService
from .notion_api import NotionService
from .request_log import LoggedRequest
from .server import SandboxServer
from .workspace import DEFAULT_TOKENS, JIRA_EMAIL, empty_workspace, load_workspace

__all__ = [
    "DEFAULT_TOKENS",
    "JIRA_EMAIL",
    "Fault",
    "LoggedRequest",
    "Sandbox",
    "empty_workspace",
    "load_workspace",
]


class Sandbox(SandboxServer):
    """The three services on one loopback port, seeded from a workspace."""

    def __init__(
        self, workspace: dict[str, Any] | None = None, port: int = 0, rate_limits: bool = False
    ) -> None:
        super().__init__(port)
        ws = empty_workspace()
        ws.update(workspace or {})
        self.workspace = ws
        self.rate_limits = rate_limits
        # Loading builds millions of small objects that all live on; the cyclic collector
        # would rescan them again and again (100,000 items: ~2.4 s with it, ~0.5 s without).
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self.jira = JiraService(self, ws)
            self.github = GithubService(self, ws)
            self.notion = NotionService(self, ws)
        finally:
            if was_enabled:
                gc.enable()
        for service in (self.jira, self.github, self.notion):
            self.add(service)

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
