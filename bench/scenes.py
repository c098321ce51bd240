"""What happens to the workspace between the benchmark's runs: a person's edit, a config change,
the clock moving, the latency and rate limits. Nothing here touches the engine."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

from connectors.sandbox import JIRA_EMAIL, Sandbox

__all__ = ["change_config", "person_edits_one_item", "slow", "wait"]


def wait(sb: Sandbox, minutes: float) -> float:
    """The sandbox's clock moves on (nobody does anything); returns the engine's clock offset
    in seconds, so the child's clock moves with it."""
    sb.advance(timedelta(minutes=minutes))
    return float(sb.clock_offset.total_seconds())


def person_edits_one_item(sb: Sandbox, ws: dict[str, Any]) -> str:
    """A person adds a label to one Jira issue (content that the digest covers but that no rule
    reads: no finding changes). Returns the issue's scope key."""
    key = ws["jira"]["issues"][0]["key"]
    requests.put(f"{sb.url}/rest/api/3/issue/{key}", auth=(JIRA_EMAIL, "sandbox-jira-write"),
                 json={"update": {"labels": [{"add": "touched"}]}}, timeout=30,
                 ).raise_for_status()
    return "jira:" + key.split("-", 1)[0]


def change_config(config: Path) -> None:
    """One more group name (an owner named so is refused): the rules' input differs, no
    finding changes on a generated workspace, so a rebuild measures reading and reconciling,
    not writing."""
    text = config.read_text(encoding="utf-8")
    assert "\ngroups = [" in text, "sandbox_config no longer writes a groups line"
    config.write_text(text.replace("\ngroups = [", '\ngroups = ["bench-config-change", ', 1),
                      encoding="utf-8")


def slow(sb: Sandbox, latency: float) -> None:
    """Latency per request and the APIs' rate limits on (latency > 0) or off."""
    sb.latency = latency
    sb.rate_limits = latency > 0
