"""Issue 17, "it must show": the clock moves through every ladder step on the demo's items;
each person at each step is told exactly once, by the reply on the item and by the configured
channels (a signed webhook and email, caught by the sandbox's receivers), and only inside their
working hours."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors._retry import FAST_POLICY
from connectors.sandbox import Sandbox
from connectors.sandbox.demo import demo_workspace, sandbox_config
from connectors.sandbox.receivers import SmtpSink, WebhookReceiver
from mapping.notify import in_working_hours
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions, SyncResult
from sync.settings import Settings, load_settings
from sync.writeback.steps import STEP_PREFIX

SECRET = "ladder-secret"
T0 = datetime(2026, 11, 30, 6, tzinfo=UTC)  # a Monday, before anyone's working day in Europe
# Through the ladder (owner at once, approver after 16 and lead after 40 working hours), with
# runs at night and on a weekend, when nobody may be told.
RUNS = [T0 + timedelta(hours=h) for h in (0, 4, 30, 52, 76, 124, 132, 180, 196, 222)]


def _run(settings: Settings, at: datetime, **opts: bool) -> SyncResult:
    conns = connect(settings, policy=FAST_POLICY)
    engine = Engine(settings, conns.connectors, conns.scopes, clock=lambda: at)
    return engine.run(SyncOptions(**opts))


def _markers(sb: Sandbox) -> Counter[str]:
    """Step-reply markers in every comment we posted (POST: a new comment)."""
    seen: Counter[str] = Counter()
    for e in sb.log(write=True):
        if e.method == "POST":
            seen.update(re.findall(STEP_PREFIX + r"[0-9a-f]{12}/s\d+", str(e.body)))
    return seen


@pytest.mark.slow
def test_each_person_at_each_step_is_told_once_in_their_working_hours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANDOFF_NOTIFY__SECRET", SECRET)
    ws = demo_workspace(T0)
    lead = ws["people"][0]["key"]
    with Sandbox(ws) as sb, WebhookReceiver(SECRET) as hook, SmtpSink() as smtp:
        config = tmp_path / "handoff.toml"
        text = sandbox_config(sb, state_path=str(tmp_path / "s.db"), leads=[lead])
        config.write_text(
            text + f'\n[notify]\nwebhook_url = "{hook.url}"\npace_seconds = 0\n'
            f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp.port}\n'
            'smtp_from = "handoff@example.com"\nsmtp_starttls = false\n',
            encoding="utf-8",
        )
        settings = load_settings(config)
        directory, esc = settings.directory(), settings.rules_config().escalation

        dry = _run(settings, RUNS[0], dry_run=True)
        assert "would notify" in dry.plan_text and hook.received() == []

        told: Counter[str] = Counter()
        for at in RUNS:
            before = len(hook.received())
            result = _run(settings, at)
            assert not [e for e in result.errors if "notify" in e], result.errors
            for got in hook.received()[before:]:
                assert got.verified, got.headers  # signed with the secret, over the body
                person = directory.get(got.json["person"])
                assert person is not None
                assert in_working_hours(at, esc.zone(person.time_zone), esc), (got.json, at)
                who = got.json["person"]
                told.update(f"{who}|{n['finding']}|{n['step']}" for n in got.json["notices"])
        # Someone was told at every step of the ladder, nobody twice for one step.
        assert told and set(told.values()) == {1}, told.most_common(3)
        assert {int(k.rsplit("|", 1)[1]) for k in told} >= {1, 2, 3}
        assert len(smtp.messages()) == len(hook.received())
        # On the items: one new reply per finding and later step, each posted once.
        replies = _markers(sb)
        assert replies and set(replies.values()) == {1}, replies.most_common(3)
        assert "2" in {m.rsplit("/s", 1)[1] for m in replies}  # the lead's step, at least
