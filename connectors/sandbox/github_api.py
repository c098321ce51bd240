"""The sandbox's github emulation (being built)."""

from __future__ import annotations

from typing import Any

from .server import SandboxServer, Service

__all__ = ["GithubService"]


class GithubService(Service):
    name = "github"
    prefix = "/api/v3/"

    def __init__(self, server: SandboxServer, workspace: dict[str, Any]) -> None:
        super().__init__(server)
