"""`handoff demo --live`: a person's edit in Jira reaches our comment on the linked Notion page
through a real signed webhook and a real `handoff serve` process, not through another sync."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connectors.sandbox.demo_live import LIVE
from sync.commands.cli import main
from sync.commands.demo import run_demo

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_live_demo_changes_the_comment_through_a_signed_webhook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the served process runs this checkout
    held: dict[str, Any] = {}

    def inspect(sb: Any) -> None:
        held["secrets"] = list(sb.webhooks.secrets.values())
        held["sent"] = [(d.service, d.status, dict(d.headers)) for d in sb.webhooks.sent]
        held["creates"] = Counter(
            json.dumps(e.body.get("parent"))
            for e in sb.log(write=True)
            if e.method == "POST" and e.path == "/v1/comments" and isinstance(e.body, dict)
        )

    result = run_demo(tmp_path / "demo", live=True, inspect=inspect)
    live = result.live
    assert "Primary metric" in live.before and "missing" in live.before
    assert "Primary metric" not in live.after and "handoff-sync:" in live.after
    assert live.seconds > 0
    # The change came as Jira's signed webhook, and the service took it (2xx).
    jira = [(status, h) for service, status, h in held["sent"] if service == "jira"]
    assert jira and all(200 <= s < 300 for s, _ in jira)
    assert all(h.get("X-Hub-Signature", "").startswith("sha256=") for _, h in jira)
    # The page's comment was edited, never posted twice.
    assert held["creates"][json.dumps({"page_id": LIVE.page})] <= 1
    assert max(held["creates"].values()) == 1
    # The run's own secrets never reach the service's log.
    log = (tmp_path / "demo" / "serve.log").read_text(encoding="utf-8")
    assert "Traceback" not in log
    assert held["secrets"] and not [s for s in held["secrets"] if s in log]


def test_live_demo_json_reports_the_edit_and_its_delay(tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(ROOT)}
    out = CliRunner(env=env).invoke(
        main, ["demo", "--dir", str(tmp_path / "d"), "--live", "--json"], catch_exceptions=False
    )
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output.strip().splitlines()[-1])
    assert payload["live"]["edit"] == LIVE.told
    assert payload["live"]["seconds"] > 0
    assert payload["live"]["before"] != payload["live"]["after"]
    assert os.path.exists(tmp_path / "d" / "serve.log")
