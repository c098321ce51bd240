"""A config means what it says: a config with nothing to check is refused, a state file serves
the one config it was built for (another is refused unless adopted), and a report filter that
names nobody says so instead of printing an all-clear."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from engine_fixtures import workspace, write_config

from connectors.sandbox import Sandbox
from sync.commands.cli import main


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(workspace()) as server:
        yield server


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for system in ("JIRA", "GITHUB", "NOTION"):
        monkeypatch.delenv(f"HANDOFF_{system}__TOKEN", raising=False)
    monkeypatch.delenv("HANDOFF_CONFIG", raising=False)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def one_line(result: Result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


# --- a config with no scopes --------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "[github]\nrepos = []\n"], ids=["empty", "no-scopes"])
def test_sync_refuses_a_config_with_nothing_to_check(tmp_path: Path, text: str) -> None:
    config = tmp_path / "handoff.toml"
    config.write_text(text + f'\n[state]\npath = "{tmp_path / "s.db"}"\n', encoding="utf-8")
    result = run("sync", "--config", str(config))
    assert result.exit_code == 2, result.output
    line = one_line(result)
    assert "[jira] projects" in line and "[github] repos" in line and "[notion] databases" in line
    assert not (tmp_path / "s.db").exists()  # nothing stored in any state file


def test_doctor_refuses_a_config_with_nothing_to_check(tmp_path: Path) -> None:
    config = tmp_path / "handoff.toml"
    config.write_text("", encoding="utf-8")
    result = run("doctor", "--config", str(config))
    assert result.exit_code == 2, result.output
    fails = [ln for ln in result.output.splitlines() if ln.startswith("FAIL")]
    assert len(fails) == 1 and "[github] repos" in fails[0], result.output


# --- the state file serves one config -----------------------------------------------------


def test_a_different_config_on_the_same_state_is_refused_until_adopted(
    sb: Sandbox, tmp_path: Path
) -> None:
    state = tmp_path / "state.db"
    first = write_config(tmp_path / "a.toml", sb.url, state)
    assert run("sync", "--config", str(first)).exit_code == 0
    other = tmp_path / "b.toml"
    other.write_text(
        first.read_text(encoding="utf-8").replace('projects = ["EXP"]', 'projects = ["OPS"]'),
        encoding="utf-8",
    )
    sb.clear_log()
    refused = run("sync", "--config", str(other))
    assert refused.exit_code == 2, refused.output
    line = one_line(refused)
    assert "jira" in line and "EXP" in line and "OPS" in line and "--adopt-config" in line
    assert sb.log(write=True) == []
    dry = run("sync", "--config", str(other), "--dry-run")
    assert dry.exit_code == 2, dry.output
    # The first config still works on its own state.
    assert run("sync", "--config", str(first)).exit_code == 0
    adopted = run("sync", "--config", str(other), "--adopt-config")
    assert adopted.exit_code in (0, 1), adopted.output  # OPS does not exist in the sandbox
    assert "--adopt-config" not in adopted.output
    # Now the state serves the other config, and the first one is refused.
    assert run("sync", "--config", str(first)).exit_code == 2


def test_the_adopt_flag_is_documented(tmp_path: Path) -> None:
    assert "--adopt-config" in run("sync", "--help").output
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "--adopt-config" in readme


# --- report filters that match nothing ----------------------------------------------------


@pytest.fixture
def synced(sb: Sandbox, tmp_path: Path) -> Path:
    config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db")
    assert run("sync", "--config", str(config)).exit_code == 0
    return config


@pytest.mark.parametrize("flag", ["--team", "--owner"])
def test_report_with_an_unknown_team_or_owner_lists_the_known_ones(synced: Path, flag: str) -> None:
    result = run("report", "--config", str(synced), flag, "Nope")
    assert result.exit_code == 2, result.output
    line = one_line(result)
    assert "Nope" in line
    known = "EXP" if flag == "--team" else "Ben Okafor"
    assert known in line, line
    assert "All clear" not in result.output


@pytest.mark.parametrize(("flag", "value"), [("--team", "exp"), ("--owner", "ben")])
def test_report_with_a_known_team_or_owner_still_works(synced: Path, flag: str, value: str) -> None:
    result = run("report", "--config", str(synced), flag, value, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["open"]
