"""The one progress display: silent off a terminal and with --json, the phases on a terminal."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from engine_fixtures import workspace, write_config

from connectors.sandbox import Sandbox
from sync.commands.cli import main
from sync.commands.progress import Progress, shown


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_shown_only_on_a_terminal_and_never_with_json() -> None:
    assert shown(stream=Terminal()) is True
    assert shown(stream=io.StringIO()) is False  # cron, a pipe, a file
    assert shown(as_json=True, stream=Terminal()) is False
    assert shown(True, as_json=True, stream=Terminal()) is False  # --json output stays clean
    assert shown(False, stream=Terminal()) is False  # --no-progress
    assert shown(True, stream=io.StringIO()) is True  # --progress


def test_off_writes_nothing() -> None:
    out = Terminal()
    show = Progress(False, out)
    show.step("Starting the sandbox")
    show("pull", 3, 10)
    show.end()
    assert out.getvalue() == ""


def test_on_draws_each_phase_on_one_line_and_ends_it() -> None:
    out = Terminal()
    show = Progress(True, out)
    show.step("Starting the sandbox")
    show("pull", 2, 0)
    show("write", 3, 3)
    text = out.getvalue()
    assert "Starting the sandbox…" in text and "Pulling: 2" in text and "Writing: 3/3" in text
    assert text.count("\r") == 3 and text.endswith("\n")  # redrawn in place, then ended


@pytest.fixture
def config(tmp_path: Path) -> Path:
    with Sandbox(workspace()) as sb:
        yield write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db")


def test_sync_off_a_terminal_writes_nothing_to_stderr(config: Path) -> None:
    out = CliRunner().invoke(main, ["sync", "--config", str(config)])
    assert out.exit_code == 0, out.output
    assert "\r" not in out.stderr and "Pulling" not in out.stderr


def test_sync_on_a_forced_terminal_shows_the_phases(config: Path) -> None:
    out = CliRunner().invoke(main, ["sync", "--config", str(config), "--progress"])
    assert out.exit_code == 0, out.output
    for phase in ("Pulling:", "Checking:", "Writing:"):
        assert phase in out.stderr
    assert "Pulling" not in out.stdout  # the result on stdout stays clean


def test_sync_json_shows_no_progress_even_when_asked(config: Path) -> None:
    out = CliRunner().invoke(main, ["sync", "--config", str(config), "--json", "--progress"])
    assert out.exit_code == 0, out.output
    assert "\r" not in out.stderr and "Pulling" not in out.stderr
