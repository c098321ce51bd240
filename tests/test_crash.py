"""Crash safety: SIGKILL a real `handoff sync` at each write, rerun: nothing lost or doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from engine_fixtures import workspace, write_config

from connectors._retry import FAST_POLICY
from connectors.sandbox import Fault, Sandbox
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions
from sync.settings import load_settings

HERE = Path(__file__).resolve().parent
AUTH = {
    "jira": ("handoff-bot@example.com", "sandbox-jira-write"),
    "github": {"Authorization": "token sandbox-github-write"},
    "notion": {"Authorization": "Bearer sandbox-notion-write", "Notion-Version": "2025-09-03"},
}


def handoff(config: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sync.commands.cli", "sync", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=HERE.parent,
    )


def marker_comments(sb: Sandbox) -> Counter[str]:
    """How many of our marker comments each item holds, read through each service's API."""
    seen: Counter[str] = Counter()
    for key in ("EXP-1", "EXP-2", "EXP-3"):
        r = requests.get(f"{sb.url}/rest/api/2/issue/{key}/comment", auth=AUTH["jira"], timeout=5)
        seen[key] = sum("handoff-sync:" in c["body"] for c in r.json()["comments"])
    for n in (1, 2):
        r = requests.get(
            f"{sb.url}/api/v3/repos/acme/web/issues/{n}/comments",
            headers=AUTH["github"],
            timeout=5,
        )
        seen[f"pr{n}"] = sum("handoff-sync:" in c["body"] for c in r.json())
    page = "9a8b7c6d-0000-4000-8000-0000000000a1"
    r = requests.get(
        f"{sb.url}/v1/comments", params={"block_id": page}, headers=AUTH["notion"], timeout=5
    )
    seen["page"] = sum(
        "handoff-sync:" in "".join(t["plain_text"] for t in c["rich_text"])
        for c in r.json()["results"]
    )
    return seen


def wait_for_writes(sb: Sandbox, count: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while sb.arrived(write=True) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sync never reached that write"
        time.sleep(0.01)


def first_sync_writes(tmp_path: Path) -> int:
    with Sandbox(workspace()) as sb:
        config = write_config(tmp_path / "probe.toml", sb.url, tmp_path / "probe.db")
        proc = handoff(config)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        return len(sb.log(write=True))


@pytest.mark.slow
@pytest.mark.parametrize("lands", [True, False], ids=["write-landed", "write-in-flight"])
def test_sigkill_at_every_write_then_rerun_leaves_one_comment_per_item(
    tmp_path: Path, lands: bool
) -> None:
    total = first_sync_writes(tmp_path)
    assert total >= 6
    for k in range(total):
        with Sandbox(workspace()) as sb:
            config = write_config(tmp_path / f"c{k}.toml", sb.url, tmp_path / f"s{k}.db")
            # The (k+1)-th write hangs: either after the server applied it, or before (and is
            # then dropped, never applied).
            fault = Fault(commit=True, delay=30) if lands else Fault(drop=True, delay=30)
            sb.inject("WRITE", ".", fault, after=k)
            proc = handoff(config)
            wait_for_writes(sb, k + 1, proc)
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=10)
            sb.clear_faults()

            rerun = handoff(config)
            out, err = rerun.communicate(timeout=120)
            assert rerun.returncode == 0, (k, out.decode(), err.decode())

            counts = marker_comments(sb)
            assert max(counts.values()) == 1, (k, counts)
            # Every item with findings carries its comment, and nothing is left to write.
            assert {item for item, n in counts.items() if n} == {"EXP-2", "EXP-3", "pr2", "page"}
            settings = load_settings(config)
            conns = connect(settings, policy=FAST_POLICY)
            check = Engine(settings, conns.connectors, conns.scopes).run(SyncOptions(dry_run=True))
            assert check.ops == [] and not check.failed, (k, check.plan_text)
