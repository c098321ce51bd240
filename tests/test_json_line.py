"""`--json` (and `report --format json`) print exactly one line of JSON on stdout, in every
case: a good run, a refused config, an unknown team, a state that serves another config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from engine_fixtures import workspace, write_config

from connectors.sandbox import Sandbox
from sync.commands.cli import main


def _one_line(args: list[str]) -> tuple[int, dict]:
    out = CliRunner().invoke(main, args)
    lines = [x for x in out.stdout.splitlines() if x.strip()]
    assert len(lines) == 1, (args, out.stdout)
    return out.exit_code, json.loads(lines[0])


@pytest.fixture
def config(tmp_path: Path) -> tuple[Sandbox, Path]:
    with Sandbox(workspace()) as sb:
        yield sb, write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db")


def test_every_json_output_is_one_line_when_all_goes_well(config: tuple[Sandbox, Path]) -> None:
    _, path = config
    c = str(path)
    assert _one_line(["sync", "--config", c, "--json"])[0] == 0
    assert _one_line(["sync", "--config", c, "--json", "--dry-run"])[0] == 0
    assert _one_line(["status", "--config", c, "--json"])[0] == 0
    assert _one_line(["doctor", "--config", c, "--json"])[1] is not None
    code, rep = _one_line(["report", "--config", c, "--format", "json"])
    assert code == 0 and "lost_access" in rep


def test_every_json_output_is_one_line_when_refused(
    config: tuple[Sandbox, Path], tmp_path: Path
) -> None:
    _, path = config
    c = str(path)
    empty = tmp_path / "empty.toml"
    empty.write_text(f'[state]\npath = "{tmp_path / "e.db"}"\n', encoding="utf-8")
    for args in (["sync", "--json"], ["doctor", "--json"]):
        code, body = _one_line([*args, "--config", str(empty)])
        assert code == 2 and body["ok"] is False, body
        assert "nothing to check" in json.dumps(body), body

    assert _one_line(["sync", "--config", c, "--json"])[0] == 0
    code, body = _one_line(["report", "--config", c, "--format", "json", "--team", "Nope"])
    assert code == 2 and "Nope" in body["error"], body
    code, body = _one_line(["report", "--config", c, "--format=json", "--owner", "nobody"])
    assert code == 2 and body["ok"] is False, body

    # Another config for the same state file: refused unless adopted, still one line.
    other = tmp_path / "other.toml"
    other.write_text(
        path.read_text(encoding="utf-8").replace('repos = ["acme/web"]', 'repos = ["acme/api"]'),
        encoding="utf-8",
    )
    code, body = _one_line(["sync", "--config", str(other), "--json"])
    assert code == 2 and "--adopt-config" in body["error"], body
