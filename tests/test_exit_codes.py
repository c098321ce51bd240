"""Issue 11, exit codes of a run where one system of several cannot be read: a system never
read in full blocks every write in every system, exit 2 for a refused token and 1 otherwise;
a system read before that fails now leaves the others writing, with the same codes."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from engine_fixtures import workspace, write_config

from connectors.sandbox import Fault, Sandbox
from sync.commands.cli import main

SYSTEMS = ("jira", "github", "notion")
PULLS = {
    "jira": ("GET", r"/search/jql$"),
    "github": ("GET", r"/repos/acme/web/pulls$"),
    "notion": ("POST", r"/v1/data_sources/[^/]+/query$"),
}
URL_LINE = {
    "jira": 'url = "{u}"\nemail',
    "github": 'url = "{u}/api/v3"',
    "notion": 'url = "{u}"\ntoken = "sandbox-notion',
}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PREFIX = {"jira": r"^/rest/api/", "github": r"^/api/v3/", "notion": r"^/v1/"}


def _break(config: Path, sb: Sandbox, system: str, cause: str, *, later: bool = False) -> None:
    """Make `system` fail on the next run: its token refused, its host down (a closed port on a
    first sync; 503 on a later one, where another URL would be another config), or its list
    answering `{}`."""
    text = config.read_text(encoding="utf-8")
    if cause == "token":
        text = text.replace(f'"sandbox-{system}-write"', '"not-the-token"')
    elif cause == "down" and later:
        sb.inject("*", PREFIX[system], Fault(status=503), times=1000)
    elif cause == "down":
        old = URL_LINE[system].format(u=sb.url)
        assert old in text
        text = text.replace(old, URL_LINE[system].format(u=f"http://127.0.0.1:{_closed_port()}"))
    else:
        method, path = PULLS[system]
        sb.inject(method, path, Fault(status=200, body={}), times=1000)
    config.write_text(text, encoding="utf-8")


def _sync(config: Path) -> tuple[int, dict]:
    out = CliRunner().invoke(main, ["sync", "--config", str(config), "--json"])
    lines = [x for x in out.stdout.splitlines() if x.strip()]
    assert len(lines) == 1, out.output
    return out.exit_code, json.loads(lines[0])


@pytest.mark.parametrize("cause", ["token", "down", "empty"])
@pytest.mark.parametrize("system", SYSTEMS)
def test_a_first_sync_with_one_system_failing_writes_nothing_anywhere(
    tmp_path: Path, system: str, cause: str
) -> None:
    with Sandbox(workspace()) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db")
        _break(config, sb, system, cause)

        code, body = _sync(config)

        assert sb.log(write=True) == []
        assert code == (2 if cause == "token" else 1), body
        assert body["ok"] is False
        assert any(system in e.lower() for e in body["errors"]), body


@pytest.mark.parametrize("cause", ["token", "down", "empty"])
@pytest.mark.parametrize("system", SYSTEMS)
def test_a_later_sync_with_one_system_failing_exits_as_the_readme_says(
    tmp_path: Path, system: str, cause: str
) -> None:
    ws = workspace()
    with Sandbox(ws) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db")
        assert _sync(config)[0] == 0
        _break(config, sb, system, cause, later=True)

        code, body = _sync(config)

        # Read before: its stored items stand in, the others go on; a refused token is still
        # a config problem for a person to fix (2), anything else a partly done run (1).
        assert code == (2 if cause == "token" else 1), body
        assert body["ok"] is False
