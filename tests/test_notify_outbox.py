"""Escalation steps delivered through the outbox (issue 17): `[notify]` validated, `--dry-run`
lists what it would send, a run sends one signed digest per person per channel inside their
working hours and never twice, and a SIGKILL during delivery sends nothing twice."""

from __future__ import annotations

import hashlib
import hmac
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from engine_fixtures import workspace, write_config
from notify_receivers import Hook, hook_server, smtp_sink
from test_crash import handoff

from connectors._retry import FAST_POLICY
from connectors.errors import ConfigError
from connectors.sandbox import Sandbox
from mapping.notify import in_working_hours
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions
from sync.settings import Settings, load_settings
from sync.store import open_store

SECRET = "notify-test-secret"
# Monday 2 November 2026: 10:00 UTC is 07:00 in Sao Paulo (Ana, before work) and 11:00 in
# Berlin (Ben, at work); 12:00 UTC is 09:00 in Sao Paulo.
T0 = datetime(2026, 11, 2, 10, tzinfo=UTC)
T1 = datetime(2026, 11, 2, 12, tzinfo=UTC)


def _config(tmp: Path, url: str, hook: str, smtp_port: int = 0, extra: str = "") -> Path:
    path = write_config(tmp / "c.toml", url, tmp / "s.db")
    mail = (
        f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp_port}\nsmtp_from = "handoff@example.com"\n'
        "smtp_starttls = false\n"
        if smtp_port
        else ""
    )
    text = path.read_text() + f'\n[notify]\nwebhook_url = "{hook}"\npace_seconds = 0\n{mail}'
    path.write_text(text + extra)
    return path


def _run(config: Path, at: datetime, **opts: bool):
    settings = load_settings(config)
    conns = connect(settings, policy=FAST_POLICY)
    return Engine(settings, conns.connectors, conns.scopes, clock=lambda: at).run(
        SyncOptions(**opts)  # type: ignore[arg-type]
    )


def test_notify_settings_are_checked_and_secrets_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[notify]\nwebhook_url = "http://127.0.0.1:9/hook"\n')
    with pytest.raises(ConfigError, match="HANDOFF_NOTIFY__SECRET"):
        load_settings(bad)
    bad.write_text('[notify]\nsmtp_host = "mail.example.com"\n')
    with pytest.raises(ConfigError, match="smtp_from"):
        load_settings(bad)
    bad.write_text('[notify]\nslack_webhook = "hooks.slack.com/services/T/B/sekrit"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(bad)
    assert "sekrit" not in str(err.value)
    monkeypatch.setenv("HANDOFF_NOTIFY__SECRET", SECRET)
    bad.write_text('[notify]\nwebhook_url = "http://127.0.0.1:9/hook"\n')
    settings = load_settings(bad)
    assert settings.notify.channels() == ["webhook"]
    assert SECRET not in repr(settings) and any(
        t.get_secret_value() == SECRET for t in settings.tokens()
    )
    assert Settings().notify.channels() == []


def test_dry_run_lists_notifications_and_a_run_sends_each_once_in_working_hours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANDOFF_NOTIFY__SECRET", SECRET)
    hook, mails = Hook(), []  # type: tuple[Hook, list[Message]]
    with Sandbox(workspace()) as sb, hook_server(hook) as url, smtp_sink(mails) as port:
        config = _config(tmp_path, sb.url, url, port)
        dry = _run(config, T1, dry_run=True)
        assert "would notify Ana Souza by webhook: " in dry.plan_text, dry.plan_text
        assert "would notify Ana Souza by email: " in dry.plan_text
        assert hook.got == [] and mails == []

        directory = load_settings(config).directory()
        esc = load_settings(config).rules_config().escalation
        seen: dict[str, str] = {}
        by_run: list[list[str]] = []
        for at in (T0, T1, T1 + timedelta(hours=1)):
            before = len(hook.got)
            result = _run(config, at)
            assert not [e for e in result.errors if "notify" in e], result.errors
            for headers, body in hook.got[before:]:
                # Signed over the exact body; the delivery id for the receiver to dedupe.
                mac = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                assert headers["x-handoff-signature"] == f"sha256={mac}"
                assert headers["idempotency-key"] == headers["x-handoff-delivery"]
            by_run.append([b["person"] for b in hook.bodies()[before:]])
            for sent in hook.bodies()[before:]:
                person = directory.get(sent["person"])
                assert person is not None
                assert in_working_hours(at, esc.zone(person.time_zone), esc), (sent, at)
                for n in sent["notices"]:
                    key = f"{sent['person']}|{n['finding']}|{n['step'] - 1}"
                    assert key not in seen, key  # never told twice
                    seen[key] = sent["delivery"]
        # Ana is held at 10:00 UTC (07:00 for her) and told at 12:00; the last run, with
        # nothing new, sends nothing; one digest per person per run.
        assert "ana" not in by_run[0] and "ana" in by_run[1] and by_run[2] == []
        assert all(len(run) == len(set(run)) for run in by_run), by_run
        # Email went to the person's address with the delivery id as its Message-ID.
        assert {m["To"] for m in mails} <= {p.email for p in directory}
        assert all(m["Message-ID"] and m["X-Handoff-Delivery"] for m in mails)
        assert len(mails) == len(hook.got)
        with open_store(str(tmp_path / "s.db")) as state:
            told = state.notices_told()
            audit = [a for a in state.audit() if a.system == "notify"]
        assert set(told) == set(seen)
        assert sorted({a.result for a in audit}) == ["done", "sending"]
        assert len([a for a in audit if a.result == "done"]) == len(hook.got) + len(mails)


@pytest.mark.slow
@pytest.mark.parametrize("lands", [True, False], ids=["delivery-landed", "delivery-in-flight"])
def test_sigkill_during_delivery_sends_nothing_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lands: bool
) -> None:
    monkeypatch.setenv("HANDOFF_NOTIFY__SECRET", SECRET)
    always = "\n[escalation]\nstart_hour = 0\nend_hour = 24\nwork_days = [0, 1, 2, 3, 4, 5, 6]\n"
    hook = Hook(hang_at=0, keep_hung=lands)
    with Sandbox(workspace()) as sb, hook_server(hook) as url:
        config = _config(tmp_path, sb.url, url, extra=always)
        proc = handoff(config)
        for _ in range(6000):  # up to 60 s for the first delivery to reach the receiver
            if hook.arrived or proc.poll() is not None:
                break
            time.sleep(0.01)
        assert hook.arrived == 1, proc.communicate()
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
        hung = 1 if lands else 0
        assert len(hook.got) == hung

        rerun = handoff(config)
        out, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, (out.decode(), err.decode())
        keys = [
            f"{b['person']}|{n['finding']}|{n['step'] - 1}"
            for b in hook.bodies()
            for n in b["notices"]
        ]
        assert len(keys) == len(set(keys)), keys  # nothing told twice
        with open_store(str(tmp_path / "s.db")) as state:
            told = state.notices_told()
            owed = state.notices_owed()
            audit = [a for a in state.audit() if a.system == "notify"]
        # Every notice was told (at most once: the one in flight may be lost, never doubled),
        # and the interrupted delivery is in the audit as sending, never as done.
        assert owed == [] and set(keys) <= set(told)
        cut = [a.op_key for a in audit if a.result == "sending"]
        done = [a.op_key for a in audit if a.result == "done"]
        assert len(set(cut) - set(done)) == 1
        assert len(done) == len(hook.got) - hung
