"""`handoff init` against the sandbox: a starter config with the names found, no tokens in it,
loadable as written, and never prompting when input is not a terminal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import sync.commands.init as init_config
from connectors.sandbox import Sandbox
from connectors.sandbox.demo import demo_workspace
from sync.commands.cli import main
from sync.settings import load_settings

WRITE_ENV = {
    f"HANDOFF_{s.upper()}__TOKEN": f"sandbox-{s}-write" for s in ("jira", "github", "notion")
}


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(demo_workspace()) as server:
        yield server


@pytest.fixture(autouse=True)
def no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in WRITE_ENV:
        monkeypatch.delenv(name, raising=False)


def db_id(sb: Sandbox) -> str:
    return str(sb.workspace["notion"]["databases"][0]["id"])


def init(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner(env=env).invoke(main, ["init", *args], input=stdin)


def scopes(sb: Sandbox) -> list[str]:
    return [
        "--jira-project",
        "EXP",
        "--github-repo",
        "acme/checkout",
        "--notion-database",
        db_id(sb),
    ]


def test_from_sandbox_maps_found_names_writes_no_token_and_passes_doctor(
    sb: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "handoff.toml"
    result = init("-o", str(out), "--from-sandbox", sb.url, *scopes(sb))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "sandbox-" not in text and "HANDOFF_JIRA__TOKEN" in text
    settings = load_settings(out)
    assert settings.jira.token is None and settings.jira.projects == ["EXP"]
    jira = settings.fields.jira.fields
    assert jira["outcome_owner"] == ["Outcome owner", "reporter"]  # the fallback survives
    assert jira["cost_cap"] == ["Cost cap"]
    assert settings.fields.notion.properties["hypothesis"] == ["Hypothesis"]
    assert settings.notion_property.name == "Handoff check"
    assert "#   Team (select)" in text  # unmatched properties are listed to map by hand
    doctor = CliRunner(env=WRITE_ENV).invoke(main, ["doctor", "--config", str(out)])
    assert doctor.exit_code == 0, doctor.output
    assert sb.log(write=True) == []


def test_refuses_to_overwrite_without_force(sb: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "handoff.toml"
    out.write_text("# mine\n", encoding="utf-8")
    refused = init("-o", str(out), "--from-sandbox", sb.url)
    assert refused.exit_code == 2 and "--force" in refused.output
    assert out.read_text(encoding="utf-8") == "# mine\n"
    forced = init("-o", str(out), "--from-sandbox", sb.url, "--force")
    assert forced.exit_code == 0
    assert "[jira]" in out.read_text(encoding="utf-8")


def test_never_prompts_without_a_terminal(tmp_path: Path) -> None:
    out = tmp_path / "handoff.toml"
    result = init("-o", str(out), stdin="should-not-be-read\n")
    assert result.exit_code == 0, result.output
    assert "Jira site URL" not in result.output
    settings = load_settings(out)
    assert settings.jira.url == "" and settings.github.repos == []
    assert "should-not-be-read" not in out.read_text(encoding="utf-8")


def test_prompts_on_a_terminal_for_what_flags_leave_out(
    sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(init_config, "_interactive", lambda: True)
    out = tmp_path / "handoff.toml"
    answers = f"{sb.url}\nhandoff-bot@example.com\nEXP\nacme/checkout\n\n"
    result = init("-o", str(out), stdin=answers)
    assert result.exit_code == 0, result.output
    assert "Jira site URL" in result.output and "Notion database ids" in result.output
    settings = load_settings(out)
    assert settings.jira.url == sb.url and settings.jira.projects == ["EXP"]
    assert settings.github.repos == ["acme/checkout"] and settings.notion.databases == []


def test_env_tokens_are_used_to_read_names_and_bad_ones_are_reported_unprinted(
    sb: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "handoff.toml"
    flags = [
        "-o",
        str(out),
        "--jira-url",
        sb.url,
        "--jira-email",
        "handoff-bot@example.com",
        "--jira-project",
        "EXP",
    ]
    good = init(*flags, env={"HANDOFF_JIRA__TOKEN": "sandbox-jira-read"})
    assert good.exit_code == 0, good.output
    assert load_settings(out).fields.jira.fields["cost_cap"] == ["Cost cap"]
    assert "sandbox-jira-read" not in out.read_text(encoding="utf-8")
    bad = init(*flags, "--force", env={"HANDOFF_JIRA__TOKEN": "not-the-token-77"})
    assert bad.exit_code == 0
    assert "Jira fields not read" in bad.output and "rejected the token" in bad.output
    assert "not-the-token-77" not in bad.output + out.read_text(encoding="utf-8")
    assert "[fields.jira.fields]" not in out.read_text(encoding="utf-8")


def test_from_sandbox_without_scope_flags_writes_the_scopes_the_sandbox_serves(
    sb: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "handoff.toml"
    result = init("-o", str(out), "--from-sandbox", sb.url)
    assert result.exit_code == 0, result.output
    settings = load_settings(out)
    ws = sb.workspace
    assert settings.jira.projects == sorted(p["key"] for p in ws["jira"]["projects"])
    assert settings.github.repos == sorted(ws["github"]["repos"])
    assert settings.notion.databases == [db_id(sb)]
    assert settings.link.projects == settings.jira.projects
    doctor = CliRunner(env=WRITE_ENV).invoke(main, ["doctor", "--config", str(out)])
    assert doctor.exit_code == 0, doctor.output
    assert sb.log(write=True) == []
