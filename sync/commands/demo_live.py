"""`handoff demo --live`: the webhook path, shown. After the demo's sync, `handoff serve` runs
as its own process, the sandbox sends its signed webhooks to it, a person fills in a missing
field in Jira, and the demo waits for our comment on the handoff's Notion page to change.

Nothing is simulated: the edit goes through Jira's API, its webhook is signed with a secret
made for this run, and the service re-reads the ticket through the real clients.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.errors import HandoffSyncError, register_secret
from sync.systems import SYSTEMS

__all__ = ["LiveResult", "watch_live"]

_START = 60.0  # the longest the service may take to listen and finish its first poll
_CHANGE = 60.0  # the longest the demo waits for the comment to change


@dataclass(frozen=True)
class LiveResult:
    told: str  # what the person did
    where: str  # where the comment was watched
    before: str
    after: str
    seconds: float  # from the edit's answer to the changed comment


def _wait(ready: Callable[[], bool], seconds: float, what: str, log: Path) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if ready():
            return
        time.sleep(0.1)
    tail = log.read_text(encoding="utf-8", errors="replace")[-800:] if log.exists() else ""
    raise HandoffSyncError(f"the live demo gave up waiting for {what} after {seconds:.0f} s; "
                           f"the service's log is {log}:\n{tail}")


def _metric(url: str, name: str) -> float:
    import httpx

    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(float(line.rpartition(" ")[2]) for line in text.splitlines()
               if line.startswith(name))


@contextlib.contextmanager
def _serving(config: Path, log: Path, hooks: dict[str, str]) -> Iterator[str]:
    """`handoff serve` on a free loopback port; its URL; stopped with SIGTERM afterwards."""
    env = dict(os.environ)
    env.update({f"HANDOFF_{name.upper()}__WEBHOOK_SECRET": s for name, s in hooks.items()})
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sync.commands.cli", "serve", "--config", str(config),
             "--host", "127.0.0.1", "--port", "0"], stdout=subprocess.DEVNULL, stderr=err, env=env)
    try:
        found: list[str] = []

        def listening() -> bool:
            if proc.poll() is not None:
                raise HandoffSyncError(f"`handoff serve` ended at start; see {log}")
            m = re.search(r"http://127\.0\.0\.1:\d+", log.read_text(errors="replace"))
            found.extend([m.group(0)] if m else [])
            return bool(found)

        _wait(listening, _START, "the service to listen", log)
        yield found[0]
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def watch_live(sb: Any, config: Path, folder: Path) -> LiveResult:
    """Serve, send webhooks, make the person's edit, and time the comment's change."""
    from connectors.sandbox.demo_live import LIVE, live_comment, make_live_edit

    hooks = {name: secrets.token_hex(16) for name in SYSTEMS}
    for s in hooks.values():
        register_secret(s)
    log = folder / "serve.log"
    with _serving(config, log, hooks) as url:
        sb.send_webhooks(url, hooks)
        # The service's first poll reads everything once; the edit comes after it.
        first = 'handoff_syncs_total{trigger="poll",outcome="ok"}'
        _wait(lambda: _metric(url, first) >= 1, _START, "the first poll", log)
        before = live_comment(sb)
        make_live_edit(sb)
        began = time.monotonic()
        _wait(lambda: live_comment(sb) != before, _CHANGE, "the comment to change", log)
        seconds = time.monotonic() - began
        after = live_comment(sb)
    return LiveResult(LIVE.told, f"Notion page {LIVE.page}", before, after, seconds)
