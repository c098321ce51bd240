"""`handoff serve` end to end, per system: the sandbox sends its real signed webhooks to a
served process (the real clients, the real state file), as a team's services would.

A person's edit -> its delivery -> one targeted sync -> our comment changes; the echo of our
own writes changes nothing, and nothing after it (no loop); a repeated
delivery is processed once; a bad signature gets 401 and nothing is stored; a hundred
deliveries about one item make one sync; SIGTERM with a full inbox loses nothing across a
restart.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from conftest import ROOT
from engine_fixtures import ANA_NOTION, workspace, write_config
from fault_helpers import posted_comments

from connectors.sandbox import JIRA_EMAIL, Sandbox
from sync.commands.cli import main
from sync.store import copy_of

pytestmark = pytest.mark.slow

SECRETS = {"github": "gh-hook-secret", "jira": "jira-hook-secret", "notion": "secret_notion_v"}
PAGE = "9a8b7c6d-0000-4000-8000-0000000000a1"
ITEM = {"jira": "EXP-2", "github": "acme/web#2", "notion": PAGE}
NOTION_HEADERS = {"Authorization": "Bearer sandbox-notion-write", "Notion-Version": "2025-09-03"}
HYPOTHESIS = "h2. Hypothesis\nFree shipping lifts orders.\n\nh2. Primary metric\nOrders per visitor"


def person_edit(sb: Sandbox, system: str, n: int = 0) -> None:
    """A person's edit of one item through the service's API; the same content for every
    `n` (so only the first changes anything)."""
    if system == "jira":
        r = requests.put(
            f"{sb.url}/rest/api/2/issue/EXP-2",
            json={"fields": {"description": HYPOTHESIS}},
            auth=(JIRA_EMAIL, "sandbox-jira-write"),
            timeout=5,
        )
    elif system == "github":
        r = requests.patch(
            f"{sb.url}/api/v3/repos/acme/web/issues/2",
            json={"title": "EXP-3 tidy CSS"},
            headers={"Authorization": "token sandbox-github-write"},
            timeout=5,
        )
    else:
        r = requests.patch(
            f"{sb.url}/v1/pages/{PAGE}",
            json={"properties": {"Outcome owner": {"people": [{"id": ANA_NOTION}]}}},
            headers=NOTION_HEADERS,
            timeout=5,
        )
    assert r.status_code < 300, r.text


def our_comment(sb: Sandbox, system: str) -> str:
    """Our comment on the item the edits touch, as the service shows it."""
    kw: dict[str, Any] = {"github": (2,)} if system == "github" else {system: (ITEM[system],)}
    found = next(iter(posted_comments(sb, **kw).values()))
    ours = [c.text for c in found if "handoff-sync:" in c.text]
    assert len(ours) <= 1, ours  # never a second comment
    return ours[0] if ours else ""


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    url: str
    state: Path
    log: Path

    def metrics(self) -> dict[str, float]:
        text = requests.get(f"{self.url}/metrics", timeout=5).text
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                base = name.split("{")[0]
                out[base] = out.get(base, 0.0) + float(value)
                out[name] = float(value)
        return out

    def runs(self) -> list[Any]:
        with copy_of(self.state) as st:
            return st.runs(50)


def _wait(pred: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def serving(sb: Sandbox, tmp: Path, **serve: float) -> Iterator[Served]:
    cfg = tmp / "handoff.toml"
    if not cfg.exists():
        write_config(cfg, sb.url, tmp / "state.db")
        base = cfg.read_text(encoding="utf-8")
        cfg.write_text(base + "\n[serve]\n", encoding="utf-8")
    text = cfg.read_text(encoding="utf-8").split("\n[serve]\n")[0]
    opts = {"debounce_seconds": 0.4, "max_wait_seconds": 5.0, **serve}
    text += "\n[serve]\n" + "".join(f"{k} = {v}\n" for k, v in opts.items())
    cfg.write_text(text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.update({f"HANDOFF_{k.upper()}__WEBHOOK_SECRET": v for k, v in SECRETS.items()})
    log = tmp / f"serve-{time.monotonic_ns()}.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sync.commands.cli", "-v", "serve", "--config", str(cfg),
             "--port", "0"],
            stderr=err, cwd=ROOT, env=env,
        )
    try:
        _wait(lambda: b"listening on" in log.read_bytes() or proc.poll() is not None, 30,
              "the service to listen")
        found = re.search(rb"http://[\d.]+:\d+", log.read_bytes())
        assert found, log.read_text()
        served = Served(proc, found.group(0).decode(), tmp / "state.db", log)
        sb.send_webhooks(served.url, SECRETS)
        yield served
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def settle(sb: Sandbox, served: Served, quiet: float = 1.5) -> dict[str, float]:
    """Wait until every delivery is sent and synced and no sync ran for `quiet` seconds."""
    end = time.monotonic() + 90
    last: tuple[float, float] | None = None
    since = time.monotonic()
    while time.monotonic() < end:
        sb.webhooks.drain()
        m = served.metrics()
        now = (m.get("handoff_syncs_total", 0.0), m.get("handoff_inbox_pending", 0.0))
        if now != last:
            last, since = now, time.monotonic()
        elif now[0] >= 1 and now[1] == 0 and time.monotonic() - since >= quiet:
            return m
        time.sleep(0.2)
    raise AssertionError(f"never settled: {served.log.read_text()[-2000:]}")


SYSTEMS = ["jira", "github", "notion"]


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_signed_delivery_changes_the_comment_and_our_echo_changes_nothing(
    system: str, tmp_path: Path
) -> None:
    with Sandbox(workspace()) as sb, serving(sb, tmp_path) as served:
        settle(sb, served)  # the first poll wrote the comments; their echo changed nothing
        before = our_comment(sb, system)
        runs_before = len(served.runs())

        person_edit(sb, system)
        _wait(lambda: our_comment(sb, system) != before, 30, "the comment to change")
        settle(sb, served)

        runs = served.runs()[: len(served.runs()) - runs_before]  # newest first
        # The edit's sync, then the echo's: done without a sync when every delivery is our
        # comment or label by us (GitHub here), else a sync that finds no change.
        assert len(runs) == (1 if system == "github" else 2), [r.counts for r in runs]
        edit, echo = runs[-1], runs[:-1]
        assert edit.counts.get("writes_done", 0) >= 1
        assert all(r.counts.get("writes_planned") == 0 for r in echo)  # our echo changes nothing
        if system == "github":
            assert served.metrics()["handoff_deliveries_echo_total"] >= 2  # comment, label
        after = our_comment(sb, system)
        time.sleep(1.0)
        assert our_comment(sb, system) == after and len(served.runs()) == len(runs) + runs_before
        status = CliRunner().invoke(main, ["status", "--config", str(tmp_path / "handoff.toml")])
    assert "Webhooks: " in status.output and "Last poll (handoff serve): 20" in status.output
    shown = served.log.read_text() + status.output
    assert not [s for s in SECRETS.values() if s in shown]  # never in any output


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_repeated_or_badly_signed_delivery_is_not_processed_again(
    system: str, tmp_path: Path
) -> None:
    with Sandbox(workspace()) as sb, serving(sb, tmp_path) as served:
        m = settle(sb, served)
        last = next(d for d in reversed(sb.webhooks.sent) if d.service == system and d.status)
        again = requests.post(
            f"{served.url}/webhooks/{system}", data=last.body, headers=last.headers, timeout=5
        )
        assert again.status_code == 200 and again.json()["duplicate"]
        forged = {k: v for k, v in last.headers.items() if "Signature" not in k}
        body = last.body.replace(b"}", b" }", 1)  # same delivery id, another body
        bad = requests.post(
            f"{served.url}/webhooks/{system}", data=body, headers=forged, timeout=5
        )
        assert bad.status_code == 401
        time.sleep(1.0)
        after = served.metrics()
        assert after["handoff_syncs_total"] == m["handoff_syncs_total"]
        stored = f'handoff_deliveries_stored_total{{system="{system}"}}'
        assert after[stored] == m[stored]


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_hundred_deliveries_about_one_item_make_one_sync(system: str, tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb, serving(sb, tmp_path, debounce_seconds=2.0,
                                             max_wait_seconds=60.0) as served:
        settle(sb, served)
        with copy_of(served.state) as st:
            seen = max((r.n for r in st.inbox_since()), default=0)
        before = our_comment(sb, system)
        sb.webhooks.paused.set()  # the hundred edits reach the service as one burst
        for n in range(100):
            person_edit(sb, system, n)
        sb.webhooks.paused.clear()
        settle(sb, served, quiet=2.5)

        with copy_of(served.state) as st:
            rows = [r for r in st.inbox_since(seen) if r.subject and system in r.system]
        burst = rows[:100]
        assert len(burst) == 100 and {r.system for r in burst} == {system}
        assert len({r.run_id for r in burst}) == 1  # one sync took all hundred
        assert our_comment(sb, system) != before


@pytest.mark.parametrize("system", SYSTEMS)
def test_sigterm_with_a_full_inbox_loses_nothing_across_a_restart(
    system: str, tmp_path: Path
) -> None:
    with Sandbox(workspace()) as sb:
        with serving(sb, tmp_path, debounce_seconds=60.0, max_wait_seconds=60.0) as served:
            _wait(lambda: served.metrics().get("handoff_syncs_total", 0) >= 1, 60, "a poll")
            before = our_comment(sb, system)
            person_edit(sb, system)
            sb.webhooks.drain()
            with copy_of(served.state) as st:
                waiting = {r.delivery for r in st.inbox_pending()}
            assert waiting  # the echo of the first poll, and the person's edit
            served.proc.send_signal(signal.SIGTERM)
            assert served.proc.wait(60) == 0
        with copy_of(served.state) as st:
            assert {r.delivery for r in st.inbox_pending()} == waiting
        assert our_comment(sb, system) == before

        with serving(sb, tmp_path) as again:
            settle(sb, again)
            with copy_of(again.state) as st:
                done = {r.delivery: r for r in st.inbox_since()}
                assert st.inbox_pending() == []
            assert all(done[d].done_at is not None for d in waiting)
            assert our_comment(sb, system) != before


def test_the_sandbox_sends_each_service_s_real_headers(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb, serving(sb, tmp_path) as served:
        settle(sb, served)
        person_edit(sb, "notion")
        settle(sb, served)
        sent = {d.service: d for d in sb.webhooks.sent if d.status in (200, 202)}
    gh, jira, notion = sent["github"].headers, sent["jira"].headers, sent["notion"].headers
    assert gh["X-GitHub-Event"] and gh["X-GitHub-Delivery"]
    assert gh["X-Hub-Signature-256"].startswith("sha256=")
    assert jira["X-Atlassian-Webhook-Identifier"] and jira["X-Hub-Signature"].startswith("sha256=")
    assert notion["X-Notion-Signature"].startswith("sha256=")


def test_sigterm_during_the_writes_finishes_the_one_in_flight_and_the_restart_the_rest(
    tmp_path: Path,
) -> None:
    from connectors.sandbox import Fault

    with Sandbox(workspace()) as sb:
        sb.inject("WRITE", r".", Fault(delay=1.0), times=1000)  # every write takes a second
        with serving(sb, tmp_path, debounce_seconds=60.0, max_wait_seconds=60.0) as served:
            _wait(lambda: sb.arrived(write=True) >= 1, 60, "the first write")
            served.proc.send_signal(signal.SIGTERM)
            assert served.proc.wait(60) == 143, served.log.read_text()[-2000:]
        sent = sb.arrived(write=True)
        answered = len(sb.log(write=True))
        assert answered == sent  # each write that started was finished, none cut off
        assert sent < 9  # the first poll plans nine writes: the rest were left
        with copy_of(served.state) as st:
            assert st.runs(1)[0].outcome.startswith("interrupted")
        sb.clear_faults()

        with serving(sb, tmp_path) as again:
            settle(sb, again)
            with copy_of(again.state) as st:
                assert st.status().outbox == {}  # every write left behind was sent
        comments = posted_comments(sb, jira=("EXP-1", "EXP-2", "EXP-3"), github=(1, 2),
                                   notion=(PAGE,))
        ours = {item: [c for c in found if "handoff-sync:" in c.text]
                for item, found in comments.items()}
        assert all(len(c) <= 1 for c in ours.values()), ours  # none doubled
        assert all(len(ours[i]) == 1 for i in ("EXP-2", "EXP-3", PAGE)), ours
