"""`handoff doctor` against the sandbox through the real clients: what it finds, and that it
writes nothing. The demo workspace is served once; every test only reads it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from connectors.sandbox import Sandbox
from connectors.sandbox.demo import demo_workspace, sandbox_config
from sync.commands.cli import main
from sync.commands.doctor import Check, check_people, render
from sync.settings import Settings, load_settings

MISSING_DB = "0b0b0b0b-0000-4000-8000-00000000dead"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(demo_workspace()) as server:
        yield server


@pytest.fixture
def base(sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for system in ("JIRA", "GITHUB", "NOTION"):
        monkeypatch.delenv(f"HANDOFF_{system}__TOKEN", raising=False)
    sb.clear_log()
    return sandbox_config(sb, state_path=str(tmp_path / "state.db"))


def doctor(tmp_path: Path, text: str, *args: str) -> Result:
    path = tmp_path / "handoff.toml"
    path.write_text(text, encoding="utf-8")
    return CliRunner().invoke(main, ["doctor", "--config", str(path), *args])


def lines(result: Result, status: str) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith(status)]


def test_write_tokens_pass_every_check_and_nothing_is_written(
    sb: Sandbox, base: str, tmp_path: Path
) -> None:
    result = doctor(tmp_path, base)
    assert result.exit_code == 0, result.output
    assert lines(result, "FAIL") == [] and lines(result, "warn") == []
    for system in ("config", "jira", "github", "notion", "people"):
        assert any(f" {system} " in f" {line}" for line in lines(result, "ok")), system
    assert "project EXP: can read, comment and label" in result.output
    assert "repository acme/checkout: can read, comment and label" in result.output
    # Notion's write capabilities are said to be unknowable, not claimed.
    assert "cannot be checked without writing" in result.output
    assert sb.arrived(write=True) == 0
    assert sb.log(write=True) == []


def test_read_only_tokens_name_the_missing_permissions(
    sb: Sandbox, base: str, tmp_path: Path
) -> None:
    result = doctor(tmp_path, base.replace("-write", "-read"))
    assert result.exit_code == 2
    fails = lines(result, "FAIL")
    jira = [f for f in fails if " jira " in f]
    assert len(jira) == 1
    assert "'Add comments' and 'Edit issues' in project EXP" in jira[0]
    assert "Fix: give the bot account handoff-bot@example.com" in jira[0]
    github = [f for f in fails if " github " in f]
    assert len(github) == 1 and "acme/checkout" in github[0] and "Triage" in github[0]
    assert "sandbox-jira-read" not in result.output
    assert sb.log(write=True) == []


def test_wrong_tokens_fail_with_a_fix_and_are_never_printed(base: str, tmp_path: Path) -> None:
    text = base.replace("sandbox-jira-write", "wrong-jira-token-123")
    text = text.replace("sandbox-github-write", "wrong-github-token-123")
    text = text.replace("sandbox-notion-write", "wrong-notion-token-123")
    result = doctor(tmp_path, text)
    assert result.exit_code == 2
    fails = lines(result, "FAIL")
    assert {f.split()[1] for f in fails} == {"jira", "github", "notion"}
    assert all("Fix: " in f for f in fails)
    assert "HANDOFF_JIRA__TOKEN" in result.output
    assert "wrong-" not in result.output
    assert "people  not checked" in result.output


def test_unknown_project_repo_and_database_fail_by_name(base: str, tmp_path: Path) -> None:
    text = base.replace('projects = ["EXP"]', 'projects = ["EXP", "NOPE"]', 1)
    text = text.replace('repos = ["acme/checkout"]', 'repos = ["acme/missing"]')
    db = load_settings_text(tmp_path, base).notion.databases[0]
    text = text.replace(f'databases = ["{db}"]', f'databases = ["{db}", "{MISSING_DB}"]')
    result = doctor(tmp_path, text)
    assert result.exit_code == 2
    fails = "\n".join(lines(result, "FAIL"))
    assert "project NOPE does not exist" in fails
    assert "repository acme/missing does not exist" in fails
    assert f"database {MISSING_DB} does not exist or is not shared" in fails
    assert "project EXP: can read" in result.output  # the good scopes still pass
    assert len(lines(result, "FAIL")) == 3


def test_mapped_fields_and_properties_must_exist_with_usable_types(
    base: str, tmp_path: Path
) -> None:
    text = base + (
        '\n[fields.jira.fields]\nhypothesis = ["Hypothesis text"]\n'
        'primary_metric = ["Review date"]\n'
        '\n[fields.notion.properties]\nfeature_flag = ["Flag"]\n'
        '\n[notion_property]\nname = "Sync result"\n'
    )
    result = doctor(tmp_path, text)
    assert result.exit_code == 2
    fails = "\n".join(lines(result, "FAIL"))
    assert "custom field 'Hypothesis text' (mapped to hypothesis) does not exist" in fails
    assert "known" not in fails and "Primary metric" in fails  # lists the real names
    assert "field 'Review date' is of type date" in fails
    assert "property 'Flag' (mapped to feature_flag) is not in database" in fails
    assert "has no property 'Sync result'" in fails
    assert len(lines(result, "FAIL")) == 4


def test_people_whose_ids_do_not_exist_fail_and_emails_must_agree(
    base: str, tmp_path: Path
) -> None:
    settings = load_settings_text(tmp_path, base)
    lena = settings.people[0]
    text = base.replace(f'jira = "{lena.jira}"', 'jira = "no-such-account"', 1)
    text = text.replace(f'github = "{lena.github}"', 'github = "no-such-login-x"', 1)
    ana = settings.people[1]
    text = text.replace(f'email = "{ana.email}"', 'email = "someone-else@acme.example"', 1)
    result = doctor(tmp_path, text)
    assert result.exit_code == 2
    people = [line for line in result.output.splitlines() if " people " in line]
    assert any("FAIL" in p and "lena: jira account no-such-account" in p for p in people)
    assert any("FAIL" in p and "GitHub login 'no-such-login-x'" in p for p in people)
    assert any(p.startswith("warn") and "ana: jira account" in p for p in people)


def test_config_errors_and_missing_tokens(base: str, tmp_path: Path) -> None:
    missing = CliRunner().invoke(main, ["doctor", "--config", str(tmp_path / "none.toml")])
    assert missing.exit_code == 2
    assert lines(missing, "FAIL")[0].startswith("FAIL  config") and "not found" in missing.output
    no_token = "\n".join(
        line for line in base.splitlines() if not line.startswith('token = "sandbox-jira')
    )
    result = doctor(tmp_path, no_token)
    assert result.exit_code == 2
    assert "HANDOFF_JIRA__TOKEN" in "\n".join(lines(result, "FAIL"))


def test_json_output(base: str, tmp_path: Path) -> None:
    result = doctor(tmp_path, base.replace("sandbox-github-write", "sandbox-github-read"), "--json")
    body = json.loads(result.output)
    assert body["ok"] is False and result.exit_code == 2
    failed = [c for c in body["checks"] if c["status"] == "FAIL"]
    assert [c["system"] for c in failed] == ["github"] and failed[0]["fix"]


def test_render_puts_fixes_on_failures_only() -> None:
    text = render([Check("jira", "ok", "fine", "ignored"), Check("github", "FAIL", "bad", "do x")])
    assert text.splitlines()[0] == "ok    jira    fine"
    assert text.splitlines()[1] == "FAIL  github  bad. Fix: do x"
    assert "1 check(s) failed" in text


def test_people_check_without_reachable_systems_says_so(base: str, tmp_path: Path) -> None:
    settings = load_settings_text(tmp_path, base)
    [only] = check_people(settings, {})
    assert only.status == "info" and "not checked" in only.message


def load_settings_text(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "parsed.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path)
