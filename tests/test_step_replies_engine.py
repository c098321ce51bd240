"""A reply per escalation step, end to end against the sandbox: the clock moves through the
ladder, each step's new people are told once by a new comment with a real mention, a reply whose
answer was lost is found by its marker instead of being posted twice, and a closed finding's
reply says done."""

from __future__ import annotations

import os
import re
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from engine_fixtures import workspace, write_config
from fault_helpers import FAULT_POLICY, posted_comments
from test_crash import handoff

from connectors.sandbox import JIRA_EMAIL, Fault, Sandbox
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions, SyncResult
from sync.settings import Settings, load_settings
from sync.writeback.steps import DONE, STEP_PREFIX

LEAD = """
[[people]]
key = "lee"
name = "Lee Park"
jira = "acc-lee"
github = "lee-gh"
time_zone = "UTC"

[escalation]
leads = ["lee"]
"""
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # a Monday


def _settings(tmp_path: Path, sb: Sandbox, extra: str = "") -> Settings:
    path = write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db")
    path.write_text(path.read_text(encoding="utf-8") + LEAD + extra, encoding="utf-8")
    return load_settings(path)


def _run(settings: Settings, at: datetime, **opts: bool) -> SyncResult:
    conns = connect(settings, policy=FAULT_POLICY)
    engine = Engine(settings, conns.connectors, conns.scopes, clock=lambda: at)
    return engine.run(SyncOptions(**opts))


def _replies(sb: Sandbox) -> list[str]:
    """The texts of our step replies on EXP-2, as Jira shows them."""
    return [p.text for p in posted_comments(sb, jira=("EXP-2",))["EXP-2"] if STEP_PREFIX in p.text]


def _lead_posts(sb: Sandbox) -> int:
    return sum(
        1
        for e in sb.log(write=True)
        if e.method == "POST"
        and e.path.endswith("/issue/10001/comment")  # EXP-2 by its id
        and "[~accountid:acc-lee]" in str(e.body)
        and STEP_PREFIX in str(e.body)
    )


def test_each_step_is_told_once_by_a_new_reply_with_a_real_mention(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        settings = _settings(tmp_path, sb)
        first = _run(settings, T0)
        assert first.exit_code == 0, first.errors
        assert _replies(sb) == []  # the first step is told by our comment itself
        # Past the approver's step (16 working hours): EXP-2 names no approver, nobody new.
        assert _run(settings, T0 + timedelta(days=3)).exit_code == 0
        assert _replies(sb) == []
        # Past the lead's step (40 working hours, five working days on).
        sb.clear_log()
        climbed = _run(settings, T0 + timedelta(days=8))
        assert climbed.exit_code == 0, climbed.errors
        replies = _replies(sb)
        assert len(replies) == 1, replies
        assert "this needs you now (escalation step 3, lead)" in replies[0]
        assert _lead_posts(sb) == 1  # a new comment (POST), mentioning [~accountid:acc-lee]
        # Later runs at the same step, and a state lost and rebuilt: never again.
        sb.clear_log()
        assert _run(settings, T0 + timedelta(days=9)).exit_code == 0
        Path(settings.state.path).unlink()
        assert _run(settings, T0 + timedelta(days=10)).exit_code == 0
        assert _lead_posts(sb) == 0
        assert len(_replies(sb)) == 1


def test_dry_run_lists_the_reply_and_sends_nothing(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        settings = _settings(tmp_path, sb)
        assert _run(settings, T0).exit_code == 0
        sb.clear_log()
        dry = _run(settings, T0 + timedelta(days=8), dry_run=True)
        assert "reply: new comment, telling lee (escalation step 3)" in dry.plan_text
        assert sb.log(write=True) == []


def test_a_reply_whose_answer_was_lost_is_found_not_posted_twice(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        settings = _settings(tmp_path, sb)
        assert _run(settings, T0).exit_code == 0
        # The reply lands on the server, and the connection drops before the answer.
        sb.inject("POST", r"/issue/10001/comment$", Fault(commit=True, drop=True), times=1)
        _run(settings, T0 + timedelta(days=8))
        assert len(_replies(sb)) == 1
        again = _run(settings, T0 + timedelta(days=8, minutes=5))
        assert again.exit_code == 0, again.errors
        assert len(_replies(sb)) == 1


def test_the_reply_says_done_when_its_finding_closes(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        settings = _settings(tmp_path, sb)
        assert _run(settings, T0).exit_code == 0
        assert _run(settings, T0 + timedelta(days=8)).exit_code == 0
        assert len(_replies(sb)) == 1
        # Someone adds the missing hypothesis: the finding closes.
        brief = "h2. Hypothesis\nFree shipping lifts orders.\n\nh2. Primary metric\nOrders"
        r = requests.put(
            f"{sb.url}/rest/api/2/issue/EXP-2",
            json={"fields": {"description": brief}},
            auth=(JIRA_EMAIL, "sandbox-jira-write"),
            timeout=5,
        )
        assert r.status_code == 204, r.text
        sb.advance(timedelta(days=8, minutes=30))
        closed = _run(settings, T0 + timedelta(days=8, minutes=30))
        assert closed.exit_code == 0, closed.errors
        (reply,) = _replies(sb)
        assert DONE in reply
        sb.clear_log()
        assert _run(settings, T0 + timedelta(days=8, minutes=40)).exit_code == 0
        assert [e for e in sb.log(write=True) if STEP_PREFIX in str(e.body)] == []


# A ladder whose second step is reached at once: a real `handoff sync` posts replies on its first
# run, so it can be killed while one is in flight.
ALL_DAY = """start_hour = 0
end_hour = 24
work_days = [0, 1, 2, 3, 4, 5, 6]
"""
AT_ONCE = """
[[escalation.ladder]]
after_hours = 0
to = "owner"

[[escalation.ladder]]
after_hours = 0
to = "lead"
"""


def _hung(sb: Sandbox) -> bool:
    return sb.arrived(write=True) > len(sb.log(write=True))


def _replied(sb: Sandbox) -> bool:
    return any(e.method == "POST" and STEP_PREFIX in str(e.body) for e in sb.log(write=True))


def _step_replies(sb: Sandbox) -> Counter[tuple[str, str]]:
    """(item, marker) -> how many replies with that marker the item holds."""
    seen: Counter[tuple[str, str]] = Counter()
    for key in ("EXP-1", "EXP-2", "EXP-3"):
        for p in posted_comments(sb, jira=(key,))[key]:
            seen.update((key, m) for m in re.findall(STEP_PREFIX + r"[0-9a-f]{12}/s\d+", p.text))
    return seen


@pytest.mark.parametrize("lands", [True, False], ids=["reply-landed", "reply-in-flight"])
def test_sigkill_while_a_reply_is_sent_then_rerun_leaves_one_reply(
    tmp_path: Path, lands: bool
) -> None:
    with Sandbox(workspace()) as sb:
        config = tmp_path / "c.toml"
        # A real `handoff sync` runs on the wall clock: everyone works all day, every day, so
        # quiet hours never hold the lead's reply back.
        _settings(tmp_path, sb, ALL_DAY)  # first the default ladder: our comments, no replies
        first = handoff(config)
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, err.decode()
        config.write_text(config.read_text(encoding="utf-8") + AT_ONCE, encoding="utf-8")
        # Now the lead's step is reached; the only POSTs of comments are replies. The first
        # hangs: either after the server applied it, or before (and is then dropped).
        fault = Fault(commit=True, delay=30) if lands else Fault(drop=True, delay=30)
        sb.inject("POST", r"/issue/\d+/comment$", fault)
        sb.clear_log()
        proc = handoff(config)
        deadline = time.monotonic() + 60
        # The hung reply: applied and logged (landed), or arrived and unanswered (in flight).
        while not (_replied(sb) if lands else _hung(sb) and (time.sleep(0.2) or _hung(sb))):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the sync never reached a reply"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
        sb.clear_faults()

        rerun = handoff(config)
        out, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, (out.decode(), err.decode())
        counts = _step_replies(sb)
        assert set(counts.values()) == {1}, counts  # every reply once
        # EXP-2's finding, and EXP-3's two (its hypothesis, its owner), each told the lead.
        assert sorted(Counter(item for item, _ in counts).items()) == [("EXP-2", 1), ("EXP-3", 2)]
