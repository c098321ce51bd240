"""`handoff doctor` on the state: reachable, migrated (to which step), serving this config; on
PostgreSQL without ever showing the URL's password, and without writing to the database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

from connectors.sandbox import Sandbox
from connectors.sandbox.demo import demo_workspace, sandbox_config
from sync.commands.cli import main
from sync.settings import load_settings
from sync.store import open_store
from sync.store.identity import served_by
from sync.store.sqlite import migrations

PASSWORD = "pw-Zq7-never-shown"
LAST = migrations._migrations[-1].name


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(demo_workspace()) as server:
        yield server


def config(sb: Sandbox, tmp_path: Path, url: str) -> Path:
    text = sandbox_config(sb, state_path=str(tmp_path / "state.db"))
    lines = [f'url = "{url}"' if ln.startswith("path = ") else ln for ln in text.splitlines()]
    path = tmp_path / "handoff.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def doctor(path: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["doctor", "--config", str(path), *args])


def state_lines(result: Result) -> list[str]:
    return [ln for ln in result.output.splitlines() if "  state " in ln]


def with_password(url: str) -> str:
    # The test server trusts 127.0.0.1 and ignores the password; doctor must hide it anyway.
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")


def tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return sorted(r[0] for r in rows)


def test_an_empty_database_is_reachable_and_empty_and_stays_so(
    sb: Sandbox, tmp_path: Path, pg_url: str
) -> None:
    path = config(sb, tmp_path, with_password(pg_url))
    result = doctor(path)
    assert PASSWORD not in result.output
    found = state_lines(result)
    assert found[0].startswith("ok")
    assert "PostgreSQL state at postgresql://postgres:***@" in found[0]
    assert any("is empty: the first sync creates it" in ln for ln in found), found
    assert any("serves no config yet" in ln for ln in found), found
    assert tables(pg_url) == []  # doctor wrote nothing
    as_json = doctor(path, "--json")
    assert PASSWORD not in as_json.output and "postgres:***@" in as_json.output


def test_a_migrated_state_names_its_version_and_whether_it_serves_this_config(
    sb: Sandbox, tmp_path: Path, pg_url: str
) -> None:
    path = config(sb, tmp_path, with_password(pg_url))
    settings = load_settings(path)
    with open_store(settings) as state:
        state.serve_config(json.dumps(served_by(settings), sort_keys=True))
    found = state_lines(doctor(path))
    assert any(ln.startswith("ok") and f"migrated to {LAST}" in ln for ln in found), found
    assert any(ln.startswith("ok") and "serves this config" in ln for ln in found), found
    with open_store(settings) as state:
        state.serve_config(json.dumps({"jira": {"url": "https://other", "scopes": ["OPS"]}}))
    result = doctor(path)
    assert result.exit_code == 2
    wrong = [ln for ln in state_lines(result) if ln.startswith("FAIL")]
    assert len(wrong) == 1 and "serves another config" in wrong[0] and "--adopt-config" in wrong[0]
    assert PASSWORD not in result.output


def test_an_unreachable_database_fails_with_what_to_do_and_no_password(
    sb: Sandbox, tmp_path: Path, pg_server: object
) -> None:
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{pg_server.port}/no_such_db"  # type: ignore[attr-defined]
    result = doctor(config(sb, tmp_path, url))
    assert result.exit_code == 2
    assert PASSWORD not in result.output
    (failed,) = [ln for ln in state_lines(result) if ln.startswith("FAIL")]
    assert "no_such_db" in failed and "postgres:***@" in failed
    assert "check that the server runs" in failed
    assert "[state] url (or HANDOFF_STATE__URL)" in failed


def test_a_sqlite_state_is_checked_too(sb: Sandbox, tmp_path: Path) -> None:
    text = sandbox_config(sb, state_path=str(tmp_path / "state.db"))
    path = tmp_path / "handoff.toml"
    path.write_text(text, encoding="utf-8")
    assert any("SQLite state at" in ln and "is empty" in ln for ln in state_lines(doctor(path)))
    open_store(load_settings(path)).close()
    assert any(f"migrated to {LAST}" in ln for ln in state_lines(doctor(path)))


def test_path_and_url_both_set_is_a_config_error(sb: Sandbox, tmp_path: Path) -> None:
    text = sandbox_config(sb, state_path=str(tmp_path / "state.db"))
    text = text.replace("[state]\n", f'[state]\nurl = "postgresql://u:{PASSWORD}@127.0.0.1/x"\n')
    path = tmp_path / "handoff.toml"
    path.write_text(text, encoding="utf-8")
    result = doctor(path)
    assert result.exit_code == 2
    assert "both path (a SQLite file) and url (a PostgreSQL database) are set" in result.output
    assert PASSWORD not in result.output


def test_the_url_can_come_from_the_environment(
    sb: Sandbox, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = sandbox_config(sb, state_path=str(tmp_path / "state.db"))
    path = tmp_path / "handoff.toml"
    path.write_text(text.replace(f'path = "{tmp_path / "state.db"}"', ""), encoding="utf-8")
    monkeypatch.setenv("HANDOFF_STATE__URL", with_password(pg_url))
    assert load_settings(path).state.url == with_password(pg_url)
    result = doctor(path)
    assert any("PostgreSQL state at" in ln for ln in state_lines(result)), result.output
    assert PASSWORD not in result.output

