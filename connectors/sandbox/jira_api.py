"""The sandbox's jira emulation (being built)."""

from __future__ import annotations

from typing import Any

from .server import SandboxServer, Service

__all__ = ["JiraService"]


class JiraService(Service):
    name = "jira"
    prefix = "/rest/api/"

    def __init__(self, server: SandboxServer, workspace: dict[str, Any]) -> None:
        super().__init__(server)
