"""Shared by the fault, hostile-input, secrets and concurrency tests: run a sync against the
sandbox, read back what landed through each service's own API, and dump the state file."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from connectors._retry import RetryPolicy
from connectors.sandbox import JIRA_EMAIL, Sandbox
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions, SyncResult
from sync.settings import Settings

__all__ = [
    "FAULT_POLICY",
    "ROOT",
    "Posted",
    "dump_state",
    "handoff",
    "post_as_bot",
    "posted_comments",
    "run_sync",
]

ROOT = Path(__file__).resolve().parent.parent
MARKER = "handoff-sync:"

# FAST_POLICY with a short client timeout, so a hung request costs 0.6 s (PyGithub rounds its
# timeout up to whole seconds), and a deadline that stops a run of timeouts early. At 0.25 s an
# answer that was merely slow on a busy 2-core machine counted as a hang (suites under load
# failed a cell or two this way, each passing alone).
FAULT_POLICY = RetryPolicy(
    attempts=3, base=0.01, cap=0.02, deadline=2.0, max_retry_after=2.0, timeout=0.6
)


def run_sync(settings: Settings, policy: RetryPolicy = FAULT_POLICY, **opts: Any) -> SyncResult:
    """One in-process sync through the real clients, as `handoff sync` runs it."""
    conns = connect(settings, policy=policy)
    engine = Engine(settings, conns.connectors, conns.scopes, known_errors=conns.errors)
    return engine.run(SyncOptions(**opts))


def handoff(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`handoff ARGS` in a fresh interpreter, as cron would start it."""
    return subprocess.run(
        [sys.executable, "-m", "sync.commands.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True)
class Posted:
    """One comment as the service shows it: who wrote it and its text (ADF/rich text as JSON)."""

    item: str
    author: str
    text: str
    raw: Any


def _jira_text(body: Any) -> str:
    if isinstance(body, str):
        return body
    return json.dumps(body, ensure_ascii=False)


def posted_comments(
    sb: Sandbox,
    *,
    jira: tuple[str, ...] = (),
    github: tuple[int, ...] = (),
    notion: tuple[str, ...] = (),
    repo: str = "acme/web",
    tokens: tuple[str, str, str] = (
        "sandbox-jira-write",
        "sandbox-github-write",
        "sandbox-notion-write",
    ),
    api_version: int = 2,
) -> dict[str, list[Posted]]:
    """Every comment on the given items, read through each service's API (not the state)."""
    jt, gt, nt = tokens
    out: dict[str, list[Posted]] = {}
    for key in jira:
        r = requests.get(
            f"{sb.url}/rest/api/{api_version}/issue/{key}/comment",
            auth=(JIRA_EMAIL, jt),
            timeout=5,
        )
        r.raise_for_status()
        out[key] = [
            Posted(key, (c.get("author") or {}).get("accountId", ""), _jira_text(c["body"]), c)
            for c in r.json()["comments"]
        ]
    for n in github:
        r = requests.get(
            f"{sb.url}/api/v3/repos/{repo}/issues/{n}/comments",
            headers={"Authorization": f"token {gt}"},
            timeout=5,
        )
        r.raise_for_status()
        out[f"{repo}#{n}"] = [
            Posted(f"{repo}#{n}", (c.get("user") or {}).get("login", ""), c["body"], c)
            for c in r.json()
        ]
    for page in notion:
        r = requests.get(
            f"{sb.url}/v1/comments",
            params={"block_id": page},
            headers={"Authorization": f"Bearer {nt}", "Notion-Version": "2025-09-03"},
            timeout=5,
        )
        r.raise_for_status()
        out[page] = [
            Posted(
                page,
                (c.get("created_by") or {}).get("id", ""),
                "".join(t["plain_text"] for t in c["rich_text"]),
                c,
            )
            for c in r.json()["results"]
        ]
    return out


def dump_state(path: Path) -> list[str]:
    """Every row of every table in the state file, as text."""
    rows: list[str] = []
    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                rows.append(f"{table}: {row!r}")
    finally:
        con.close()
    return rows


def post_as_bot(sb: Sandbox, system: str, text: str, *, jira: str, github: int, page: str) -> str:
    """A comment by our own account (the write tokens) on Jira issue `jira`, acme/web PR
    `github` or Notion page `page`, made through the service's API; its id."""
    if system == "jira":
        auth = (JIRA_EMAIL, "sandbox-jira-write")
        r = requests.post(f"{sb.url}/rest/api/2/issue/{jira}/comment", json={"body": text},
                          auth=auth, timeout=5)  # fmt: skip
    elif system == "github":
        headers = {"Authorization": "token sandbox-github-write"}
        r = requests.post(f"{sb.url}/api/v3/repos/acme/web/issues/{github}/comments",
                          json={"body": text}, headers=headers, timeout=5)  # fmt: skip
    else:
        headers = {"Authorization": "Bearer sandbox-notion-write", "Notion-Version": "2025-09-03"}
        rich = [{"type": "text", "text": {"content": text}}]
        r = requests.post(f"{sb.url}/v1/comments", headers=headers, timeout=5,
                          json={"parent": {"page_id": page}, "rich_text": rich})  # fmt: skip
    r.raise_for_status()
    return str(r.json()["id"])
