"""Deleted vs lost access (issue 11): a scope whose token or permission is refused on a later
sync keeps its findings open, and the sync summary, `--json`, `status` and the report say
"lost access" with the scope, since when and what to do; an item deleted at its source closes
its findings and says nothing of access."""

from __future__ import annotations

import json
from pathlib import Path

import requests
from click.testing import CliRunner
from engine_fixtures import workspace, write_config

from connectors.sandbox import JIRA_EMAIL, Fault, Sandbox
from sync.commands.cli import main

MANY = 1000


def _cli(*args: str) -> tuple[int, str]:
    out = CliRunner().invoke(main, list(args))
    return out.exit_code, out.stdout


def _one_json(text: str) -> dict:
    lines = [x for x in text.splitlines() if x.strip()]
    assert len(lines) == 1, text
    return json.loads(lines[0])


def test_a_refused_scope_is_lost_access_everywhere_and_its_findings_stay_open(
    tmp_path: Path,
) -> None:
    with Sandbox(workspace()) as sb:
        config = str(write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db"))
        code, out = _cli("sync", "--config", config, "--json")
        assert code == 0, out
        first = _one_json(out)
        # The token still works, but no longer sees Jira's issues (a permission was removed).
        sb.inject("GET", r"/search/jql$", Fault(status=403), times=MANY)

        code, out = _cli("sync", "--config", config, "--json")
        body = _one_json(out)
        assert code == 2, body  # a permission: a person must act
        (lost,) = body["lost_access"]
        assert lost["scope"] == "jira:EXP" and lost["since"]
        assert "permissions" in lost["advice"]
        (scope,) = [s for s in body["scopes"] if s["scope"] == "jira:EXP"]
        assert scope["lost_access_since"] == lost["since"]
        assert body["counts"]["scopes_lost_access"] == 1
        # Kept open, not deleted: the same findings as before.
        assert body["counts"]["findings"] == first["counts"]["findings"]

        code, text = _cli("sync", "--config", config)
        assert code == 2
        assert "lost access: jira:EXP: lost access since" in text, text
        assert "permissions" in text

        _, status = _cli("status", "--config", config)
        assert "Lost access: jira:EXP since" in status and "not closed as deleted" in status
        assert "lost access" in status.splitlines()[1], status  # the last run's outcome
        st = _one_json(_cli("status", "--config", config, "--json")[1])
        assert [x["scope"] for x in st["lost_access"]] == ["jira:EXP"]

        _, md = _cli("report", "--config", config)
        assert "jira:EXP: lost access since" in md and "not closed as deleted" in md, md
        rep = _one_json(_cli("report", "--config", config, "--format", "json")[1])
        assert [x["scope"] for x in rep["lost_access"]] == ["jira:EXP"]
        _, html = _cli("report", "--config", config, "--format", "html", "-o", "-")
        assert "jira:EXP: lost access since" in html

        # Access back: nothing says lost access any more.
        sb.clear_faults()
        code, out = _cli("sync", "--config", config, "--json")
        assert code == 0, out
        assert _one_json(out)["lost_access"] == []
        assert "Lost access" not in _cli("status", "--config", config)[1]
        assert "lost access" not in _cli("report", "--config", config)[1]


def test_an_item_deleted_at_its_source_is_deleted_not_lost_access(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        config = str(write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db"))
        assert _cli("sync", "--config", config)[0] == 0
        gone = requests.delete(
            f"{sb.url}/rest/api/2/issue/EXP-3", auth=(JIRA_EMAIL, "sandbox-jira-write"), timeout=5
        )
        assert gone.status_code == 204

        code, out = _cli("sync", "--config", config, "--full", "--json")
        body = _one_json(out)
        assert code == 0, body
        assert body["lost_access"] == [] and body["counts"]["scopes_lost_access"] == 0
        rep = _one_json(_cli("report", "--config", config, "--format", "json")[1])
        assert rep["lost_access"] == []
        assert "EXP-3" not in json.dumps(rep["open"] if "open" in rep else rep["ownerless"])
        assert "lost access" not in _cli("report", "--config", config)[1].lower()
