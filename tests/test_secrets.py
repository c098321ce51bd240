"""Tokens never leave the process: every command, with good tokens and with wrong ones.

The sandbox is told to accept our own token values, so the test knows exactly what must never
show up: not on stdout or stderr (text and JSON logs, verbose), not in a report file, not in any
row of any table of the state file, not in any other file the commands leave behind. Tokens are
shaped so that only registering them (not the scrubber's token-shape patterns) can hide them,
and Jira's Basic-auth form (base64 of email:token) is looked for too.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from urllib.parse import quote

import pytest
from engine_fixtures import workspace, write_config
from fault_helpers import dump_state, handoff

from connectors.sandbox import JIRA_EMAIL, Fault, Sandbox

# End to end through the real clients and the sandbox: `-m 'not slow'` leaves it out.
pytestmark = pytest.mark.slow

GOOD = {"jira": "jq7-Xv2-pl4m", "github": "gz9-Kp4-tr8w", "notion": "nm3-Wr8-qs1d"}
WRONG = {"jira": "jw5-Bad-zz01", "github": "gw6-Bad-zz02", "notion": "nw7-Bad-zz03"}


def forms(tokens: dict[str, str]) -> list[str]:
    """Every spelling of the tokens that would be a leak."""
    out = list(tokens.values())
    basic = base64.b64encode(f"{JIRA_EMAIL}:{tokens['jira']}".encode()).decode()
    return [*out, basic]


def with_tokens(config: Path, tokens: dict[str, str]) -> Path:
    text = config.read_text(encoding="utf-8")
    for system, value in tokens.items():
        text = text.replace(f"sandbox-{system}-write", value)
    config.write_text(text, encoding="utf-8")
    return config


def commands(config: Path, out: Path, kind: str) -> list[list[str]]:
    c = ["--config", str(config)]
    if kind == "wrong":  # errors are where tokens leak: each way a refusal is reported
        return [
            ["sync", *c],
            ["--log-format", "json", "-v", "sync", *c, "--dry-run", "--json"],
            ["status", *c],
            ["--log-format", "json", "-v", "doctor", *c, "--json"],
        ]
    return [
        ["sync", *c, "--dry-run"],
        ["sync", *c],
        ["sync", *c, "--json"],
        ["--log-format", "json", "-v", "sync", *c, "--full"],
        ["-v", "sync", *c, "--dry-run", "--json"],
        ["status", *c],
        ["status", *c, "--json"],
        ["report", *c, "--format", "md", "-o", str(out / "report.md")],
        ["report", *c, "--format", "html", "-o", str(out / "report.html")],
        ["report", *c, "--format", "json", "-o", str(out / "report.json")],
        ["doctor", *c],
        ["--log-format", "json", "-v", "doctor", *c, "--json"],
    ]


def leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text]


@pytest.mark.parametrize("kind", ["good", "wrong"])
def test_no_command_shows_a_token_anywhere(kind: str, tmp_path: Path) -> None:
    ws = workspace()
    ws["tokens"] = {system: {value: "write"} for system, value in GOOD.items()}
    tokens = GOOD if kind == "good" else WRONG
    secrets = forms(tokens)
    with Sandbox(ws) as sb:
        config = with_tokens(write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db"), tokens)
        found: list[tuple[str, str]] = []
        codes = []
        for args in commands(config, tmp_path, kind):
            result = handoff(*args, env={**os.environ, "NO_COLOR": "1"})
            codes.append(result.returncode)
            for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
                found += [(f"{' '.join(args[:3])} {name}", s) for s in leaks(text, secrets)]
        # It did run: with good tokens it wrote, with wrong ones every command said no.
        if kind == "good":
            assert codes[1] == 0 and len(sb.log(write=True)) > 0, codes
            assert (tmp_path / "report.html").stat().st_size > 1000
        else:
            assert codes[0] != 0 and codes[1] != 0 and sb.log(write=True) == [], codes
        for path in tmp_path.rglob("*"):
            if path.is_file() and path != config:
                data = path.read_bytes().decode("utf-8", "replace")
                found += [(path.name, s) for s in leaks(data, secrets)]
        if (tmp_path / "s.db").exists():
            for row in dump_state(tmp_path / "s.db"):
                found += [("state " + row[:40], s) for s in leaks(row, secrets)]
        assert found == []


def _echoed(token: str, email: str = JIRA_EMAIL) -> dict[str, str]:
    """The ways a server echoes a credential back: base64 of Basic auth's `email:token`, the
    token alone in base64, and percent-encoded (as in a query string or a form)."""
    return {
        "basic": base64.b64encode(f"{email}:{token}".encode()).decode(),
        "base64": base64.b64encode(f"id={token};".encode()).decode(),
        "url": quote(f"{token}", safe=""),
        "url-basic": quote(base64.b64encode(f"{email}:{token}".encode()).decode(), safe=""),
    }


def test_a_token_echoed_base64_or_url_encoded_by_a_server_never_reaches_json(
    tmp_path: Path,
) -> None:
    """Seen: a server that echoed the token as base64 (Basic auth) or percent-encoded put it
    in `--json` output. Tokens here hold characters percent-encoding changes."""
    tokens = {"jira": "jq7/Xv2+pl4m=k", "github": "gz9 Kp4&tr8w", "notion": "nm3/Wr8?qs1d"}
    ws = workspace()
    ws["tokens"] = {system: {value: "write"} for system, value in tokens.items()}
    with Sandbox(ws) as sb:
        config = with_tokens(write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db"), tokens)
        echoes = {s: _echoed(t) for s, t in tokens.items()}
        jira = " ".join(echoes["jira"].values())
        sb.inject("GET", r"/search/jql$", Fault(status=400, body={
            "errorMessages": [f"Bad request from Basic {jira}"], "errors": {}}), times=50)
        github = " ".join(echoes["github"].values())
        sb.inject("GET", r"/repos/acme/web/pulls$", Fault(status=422, body={
            "message": f"Validation Failed for {github}", "documentation_url": "x"}), times=50)
        notion = " ".join(echoes["notion"].values())
        sb.inject("POST", r"/v1/data_sources/[^/]+/query$", Fault(status=400, body={
            "object": "error", "status": 400, "code": "validation_error",
            "message": f"body failed validation: {notion}"}), times=50)  # fmt: skip

        result = handoff("sync", "--config", str(config), "--json",
                         env={**os.environ, "NO_COLOR": "1"})  # fmt: skip

        assert result.returncode != 0
        shown = result.stdout + result.stderr
        assert "Bad request from" in shown or "Validation Failed" in shown, shown[-2000:]
        found = [
            (system, form)
            for system, forms_ in echoes.items()
            for form, text in forms_.items()
            if text in shown
        ]
        assert found == [], shown[-3000:]
