"""Issue 11, slice B: the engine never writes from partial knowledge, and writes one comment.

Every test drives the real clients against the sandbox, with faults made at the HTTP layer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_fixtures import workspace, write_config
from fault_helpers import run_sync

from connectors.sandbox import Fault, Sandbox
from sync.settings import Settings, load_settings

MANY = 1000


@pytest.fixture
def sandbox() -> Sandbox:
    with Sandbox(workspace()) as sb:
        yield sb


@pytest.fixture
def settings(sandbox: Sandbox, tmp_path: Path) -> Settings:
    return load_settings(write_config(tmp_path / "c.toml", sandbox.url, tmp_path / "state.db"))


def _with_jira_token(config: Path, token: str) -> Settings:
    text = config.read_text(encoding="utf-8").replace('"sandbox-jira-write"', f'"{token}"')
    config.write_text(text, encoding="utf-8")
    return load_settings(config)


# -- 1. a system never read in full blocks every write -------------------------------------
def test_first_sync_with_a_wrong_jira_token_writes_nothing_and_exits_2(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "c.toml", sandbox.url, tmp_path / "state.db")
    settings = _with_jira_token(config, "not-the-token")

    result = run_sync(settings)

    assert sandbox.log(write=True) == []
    assert result.exit_code == 2, result.errors


def test_first_sync_with_jira_answering_500_writes_nothing_and_exits_1(
    sandbox: Sandbox, settings: Settings
) -> None:
    sandbox.inject("*", r"^/rest/api/", Fault(status=500), times=MANY)

    result = run_sync(settings)

    assert sandbox.log(write=True) == []
    assert result.exit_code == 1, result.errors
