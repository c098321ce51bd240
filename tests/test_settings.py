"""Settings load from TOML and the environment, and fail naming the file and the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT
from pydantic import BaseModel

from connectors.errors import ConfigError, scrub
from sync.settings import Settings, load_settings

EXAMPLE = ROOT / "config.example.toml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_loads() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.jira.projects == ["EXP"] and settings.people[0].key == "lena"
    assert settings.directory().resolve("github", "lena-o").key == "lena"
    assert settings.rules_config().escalation.leads == ["lena"]


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    found = []
    for name, info in model.model_fields.items():
        found.append(prefix + name)
        sub = info.annotation
        nested = isinstance(sub, type) and issubclass(sub, BaseModel)
        # rules.escalation is filled from the top-level [escalation] table, checked there.
        if nested and prefix.count(".") < 2 and f"{prefix}{name}" != "rules.escalation":
            found += _keys(sub, f"{prefix}{name}.")
    return found


def test_every_settings_key_is_documented_in_the_example() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for dotted in _keys(Settings):
        leaf = dotted.rsplit(".", 1)[-1]
        header = rf"^\[+{re.escape(dotted)}[\].]"
        pattern = rf"{header}|^\s*#?\s*\"?{re.escape(leaf)}\"?\s*="
        assert re.search(pattern, text, re.MULTILINE), f"{dotted} is not in config.example.toml"


def test_bad_value_names_file_key_and_expectation(tmp_path: Path) -> None:
    path = _write(tmp_path, '[jira]\napi_version = "four"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert str(err.value) == f"{path}: jira.api_version: expected 2 or 3, got 'four'"


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"github\.repoz: unknown key"):
        load_settings(_write(tmp_path, '[github]\nrepoz = ["a/b"]\n'))
    with pytest.raises(ConfigError, match=r"fields\.jira\.fields: .*unknown record field 'hypo'"):
        load_settings(_write(tmp_path, '[fields.jira.fields]\nhypo = ["H"]\n'))


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"config.toml: not valid TOML: .*line 2"):
        load_settings(_write(tmp_path, "[jira]\nurl = \n"))


def test_env_overrides_the_file_and_tokens_never_show(tmp_path, monkeypatch) -> None:
    path = _write(tmp_path, '[jira]\napi_version = 3\ntoken = "file-token-123"\n')
    monkeypatch.setenv("HANDOFF_JIRA__API_VERSION", "2")
    monkeypatch.setenv("HANDOFF_GITHUB__TOKEN", "env-token-456789")
    settings = load_settings(path)
    assert settings.jira.api_version == 2
    assert settings.github.token is not None
    assert settings.github.token.get_secret_value() == "env-token-456789"
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert "env-token-456789" not in text and "file-token-123" not in text
    assert scrub("auth file-token-123") == "auth ***"  # registered for every message


def test_bad_token_type_does_not_echo_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(_write(tmp_path, "[notion]\ntoken = 12345678901\n"))
    assert "12345678901" not in str(err.value) and "notion.token" in str(err.value)
