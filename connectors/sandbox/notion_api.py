"""The sandbox's notion emulation (being built)."""

from __future__ import annotations

from typing import Any

from .server import SandboxServer, Service

__all__ = ["NotionService"]


class NotionService(Service):
    name = "notion"
    prefix = "/v1/"

    def __init__(self, server: SandboxServer, workspace: dict[str, Any]) -> None:
        super().__init__(server)
