"""Registered webhooks as the connectors read them: one shape for GitHub's repository hooks
and Jira's admin webhooks, so `handoff webhooks register` and `doctor` compare them alike."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FoundHook"]


@dataclass(frozen=True)
class FoundHook:
    """One webhook a service holds: where it sends, whether it sends, and for what."""

    id: str
    url: str
    active: bool
    events: frozenset[str]
    # What else decides what it delivers: GitHub's content_type, Jira's JQL filter.
    settings: dict[str, str] = field(default_factory=dict)
