"""The command line: help everywhere, docs that match, output for people and for scripts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from engine_fixtures import workspace, write_config

from connectors.sandbox import Sandbox
from sync.commands.cli import LAZY_COMMANDS, main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


HANDOFF = [sys.executable, "-m", "sync.commands.cli"]

def commands() -> list[str]:
    ctx = click.Context(main, info_name="handoff")
    return [c for c in main.list_commands(ctx) if main.get_command(ctx, c) is not None]


def test_every_command_has_help_text() -> None:
    runner = CliRunner()
    names = commands()
    assert {"sync", "status", "sandbox", "demo"} <= set(names)
    for name in names:
        out = runner.invoke(main, [name, "--help"])
        assert out.exit_code == 0, (name, out.output)
        summary = out.output.split("Options:")[0]
        assert len(summary.split("\n", 2)[-1].strip()) > 20, f"{name} has no help text"


def test_the_lazy_commands_all_exist() -> None:
    # A command listed but not importable would vanish from --help without a word.
    assert set(LAZY_COMMANDS) <= set(commands())


def test_the_readme_mentions_every_command() -> None:
    for name in commands():
        assert f"handoff {name}" in README, f"README does not mention `handoff {name}`"


def test_the_readme_names_every_section_of_the_example_config() -> None:
    config = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    tables = {k for k, v in config.items() if isinstance(v, dict | list)} - {"groups", "fields"}
    tables |= {f"fields.{k}" for k in config["fields"]}
    for name in sorted(tables):
        shown = f"[[{name}]]" if isinstance(config.get(name), list) else f"[{name}]"
        assert shown in README, f"README's configuration section does not mention {shown}"
    assert "groups" in README


def test_the_readme_test_command_is_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)
    test_command = next(b for b in blocks if "pytest" in b)
    assert test_command.strip() in ci


def test_the_readme_exit_codes_are_the_ones_the_commands_use() -> None:
    import sync.commands.cli as cli

    table = re.search(r"Exit codes:\n\n((?:\|.*\n)+)", README)
    assert table, "README: the exit-code table is missing"
    documented = {int(c) for c in re.findall(r"^\| `(\d+)` \|", table[1], re.M)}
    used = {cli.EXIT_OK, cli.EXIT_FAILED, cli.EXIT_CONFIG, cli.EXIT_LOCKED}
    used |= set(cli.EXIT_SIGNAL.values())
    assert documented == used == {0, 1, 2, 3, 130, 143}
    helped = CliRunner().invoke(main, ["--help"]).output
    assert all(str(code) in helped for code in used)
    # The messages the README quotes are the ones the commands print.
    assert cli.STOPPED.split("{")[0] in README and "the next run finishes them" in README
    assert "connection refused by" in README


def test_a_missing_config_is_exit_2_with_the_fix(tmp_path: Path) -> None:
    out = CliRunner().invoke(main, ["sync", "--config", str(tmp_path / "nope.toml")])
    assert out.exit_code == 2
    assert "nope.toml" in out.output and "config.example.toml" in out.output


@pytest.fixture
def sandbox_config(tmp_path: Path) -> tuple[Sandbox, Path]:
    with Sandbox(workspace()) as sb:
        yield sb, write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db")


def test_sync_json_then_status_json(sandbox_config: tuple[Sandbox, Path]) -> None:
    sb, config = sandbox_config
    runner = CliRunner()
    out = runner.invoke(main, ["sync", "--config", str(config), "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["ok"] is True and result["errors"] == []
    assert result["counts"]["writes_done"] == len(sb.log(write=True)) > 0
    assert {s["scope"] for s in result["scopes"]} == {
        "jira:EXP",
        "github:acme/web",
        "notion:1f2e3d4c-5b6a-4789-9abc-def012345678",
    }

    out = runner.invoke(main, ["status", "--config", str(config), "--json"])
    assert out.exit_code == 0, out.output
    status = json.loads(out.output)
    assert status["open_findings"] == {"missing-field": 2, "ownerless": 1, "unlinked": 1}
    assert len(status["runs"]) == 1 and status["runs"][0]["outcome"] == "ok"
    assert set(status["cursors"]) == {s["scope"] for s in result["scopes"]}


def test_dry_run_prints_the_comment_text_and_labels(sandbox_config: tuple[Sandbox, Path]) -> None:
    sb, config = sandbox_config
    out = CliRunner().invoke(main, ["sync", "--config", str(config), "--dry-run"])
    assert out.exit_code == 0, out.output
    assert "comment: create" in out.output and "+handoff:ownerless" in out.output
    assert "Hypothesis is missing" in out.output
    assert sb.log(write=True) == []


def test_a_wrong_token_is_exit_2_and_names_the_system(
    sandbox_config: tuple[Sandbox, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, config = sandbox_config
    monkeypatch.setenv("HANDOFF_GITHUB__TOKEN", "not-a-real-token")
    out = CliRunner().invoke(main, ["sync", "--config", str(config)])
    assert out.exit_code in (1, 2), out.output
    assert "github" in out.output.lower()
    assert "not-a-real-token" not in out.output


def test_json_log_lines_on_request(sandbox_config: tuple[Sandbox, Path]) -> None:
    _, config = sandbox_config
    out = subprocess.run(
        [*HANDOFF, "--log-format", "json", "sync", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stderr.splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "message"} <= set(x) for x in lines)
    assert any("writes planned" in x["message"] for x in lines)
    # Not a terminal: no progress display mixed into the output.
    assert "\r" not in out.stderr and "Pulling" not in out.stderr


def test_sync_every_runs_as_a_service_and_stops_cleanly_on_sigterm(
    sandbox_config: tuple[Sandbox, Path],
) -> None:
    import signal
    import time

    sb, config = sandbox_config
    proc = subprocess.Popen(
        [*HANDOFF, "-v", "sync", "--config", str(config), "--every", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        from sync.store.sqlite import SqliteStore

        deadline = time.monotonic() + 60
        state = config.parent / "state.db"
        while not state.exists() or not sb.log(write=True):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)

        while True:  # the first run has finished once it is recorded as ended
            with SqliteStore.copy_of(state) as st:
                runs = st.runs(5)
            if runs and runs[0].ended is not None:
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "next in 60 s" in err and "stopped" in err
    assert len(runs) == 1 and runs[0].outcome == "ok"


def test_sync_every_stops_at_once_on_a_broken_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[jira\n", encoding="utf-8")
    out = subprocess.run(
        [*HANDOFF, "sync", "--config", str(bad), "--every", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 2 and "not valid TOML" in out.stderr


def test_a_reader_that_stops_early_gets_no_error_line(tmp_path: Path) -> None:
    """`handoff --help | head -1`: when the reader goes away, the command ends quietly."""
    proc = subprocess.Popen(
        [*HANDOFF, "report", "--state", str(tmp_path / "none.db"), "--help"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before the command writes
    _, err = proc.communicate(timeout=60)
    assert b"unexpected error" not in err and b"Traceback" not in err, err
