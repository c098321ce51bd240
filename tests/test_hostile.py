"""Hostile and bad input: broken configs and items written to break the run or our comments.

Configs go through `handoff sync` as a person runs it: one clear message, exit 2, nothing
written anywhere (and no state file when the config itself is wrong). Items are seeded into the
sandbox and synced for real; the comments are read back through each API and checked: exactly
one marker, no mention the text did not earn, markup that stays inside its quoting, valid ADF
and Notion rich text.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from engine_fixtures import ANA_NOTION, BEN_NOTION, DB_ID, PEOPLE, write_config
from fault_helpers import MARKER, Posted, posted_comments, run_sync

from connectors.sandbox import Sandbox
from sync.commands.cli import main
from sync.settings import load_settings

STAMP = "2026-11-01T09:00:00Z"


def handoff(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_message(result: Any) -> str:
    """The run's complaint: stderr (or stdout) lines that are not the summary."""
    lines = [ln for ln in (result.stderr + result.stdout).splitlines() if ln.strip()]
    complaints = [ln for ln in lines if "handoff:" in ln or "error:" in ln]
    return "\n".join(complaints)


# -- configs -----------------------------------------------------------------------------------
BAD_CONFIGS = {
    "missing-file": (None, "file not found"),
    "bad-toml": ('[jira]\nurl = "https://x.atlassian.net\n', "not valid TOML"),
    "unknown-key": ('[jira]\nurll = "https://x.atlassian.net"\n', "jira.urll: unknown key"),
    "wrong-type": ('[jira]\napi_version = "four"\n', "jira.api_version"),
    "wrong-type-list": ('[github]\nrepos = "acme/web"\n', "github.repos"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_a_broken_config_file_says_where_and_exits_2_creating_nothing(
    case: str, tmp_path: Path
) -> None:
    text, says = BAD_CONFIGS[case]
    config = tmp_path / "handoff.toml"
    if text is not None:
        config.write_text(f'[state]\npath = "{tmp_path / "s.db"}"\n' + text, encoding="utf-8")

    result = handoff("sync", "--config", str(config))

    assert result.exit_code == 2, result.output
    message = one_message(result)
    assert message.count("\n") == 0 and says in message and str(config) in message, message
    assert "Traceback" not in result.output + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == (["handoff.toml"] if text else [])


def _workspace_tokens() -> dict[str, Any]:
    from engine_fixtures import workspace

    return workspace(STAMP)


def _only(config: Path, system: str) -> None:
    """Keep only `system`'s section (plus state and people) in a config file."""
    blocks = re.split(r"\n(?=\[)", config.read_text(encoding="utf-8"))
    drop = {f"[{other}]" for other in {"jira", "github", "notion"} - {system}}
    kept = [b for b in blocks if b.split("\n", 1)[0].strip() not in drop]
    config.write_text("\n".join(kept), encoding="utf-8")


SYSTEMS = ("jira", "github", "notion")


def _broken(sb: Sandbox, tmp_path: Path, system: str, problem: str) -> Path:
    """A config with only `system`, and that system's URL or token made wrong."""
    config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db")
    _only(config, system)
    text = config.read_text(encoding="utf-8")
    if problem == "unreachable-url":
        text = text.replace(sb.url, f"http://127.0.0.1:{closed_port()}")
    elif problem == "wrong-token":
        text = text.replace(f"sandbox-{system}-write", "not-a-real-token-1234")
    else:
        text = text.replace(f"sandbox-{system}-write", f"sandbox-{system}-read")
    config.write_text(text, encoding="utf-8")
    return config


def landed(sb: Sandbox) -> list[tuple[str, str, int]]:
    return [(e.method, e.path, e.status) for e in sb.log(write=True) if e.status < 400]


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("problem", ["unreachable-url", "wrong-token"])
def test_a_system_that_cannot_be_used_says_so_once_and_writes_nothing(
    system: str, problem: str, tmp_path: Path
) -> None:
    with Sandbox(_workspace_tokens()) as sb:
        config = _broken(sb, tmp_path, system, problem)

        result = handoff("sync", "--config", str(config))

        # A rejected token is a config problem (2); a refused connection may be an outage,
        # which the next run (or `--every`) retries (1). Issue #11.
        assert result.exit_code == (1 if problem == "unreachable-url" else 2), result.output
        assert sb.log(write=True) == []
        message = one_message(result)
        assert message and system in message.lower(), result.output
        assert "Traceback" not in result.output + result.stderr
        # One problem, said once (not once per call or scope that met it).
        assert len(message.splitlines()) == 1, message


HOW_TO_GRANT = {
    "jira": "permission scheme",
    "github": "Issues: write",
    "notion": "Insert comments",
}


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_read_only_token_writes_nothing_and_names_the_permission(
    system: str, tmp_path: Path
) -> None:
    with Sandbox(_workspace_tokens()) as sb:
        config = _broken(sb, tmp_path, system, "read-only-token")

        result = handoff("sync", "--config", str(config))

        assert result.exit_code != 0
        assert landed(sb) == []
        # The first refusal stops the system: one write tried, the rest not attempted.
        assert len(sb.log(write=True)) == 1, sb.log(write=True)
        assert HOW_TO_GRANT[system] in result.output, result.output


@pytest.mark.parametrize("system", ["jira", "github", "notion"])
def test_a_read_only_token_exits_2(system: str, tmp_path: Path) -> None:
    # A token that may not write is a config problem to fix, not a partly done run.
    with Sandbox(_workspace_tokens()) as sb:
        config = _broken(sb, tmp_path, system, "read-only-token")
        result = handoff("sync", "--config", str(config))
        assert result.exit_code == 2, result.output
        assert landed(sb) == []


# -- items ---------------------------------------------------------------------------------------
MB = 1_000_000
RTL = (
    "\u202eevil\u202c \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u200f"
    "🚚 Ünïcödé ẞ e\u0301 \u200b\u2066x\u2069"
)
BREAKOUT = (
    "]]} {code} {noformat} {html}<b>x</b>{html} --> <!-- ``` </details> [x|javascript:alert(1)] "
    "[y](javascript:alert(1)) *bold* {color:red}x{color} [~accountid:acc-ben] @everyone "
    "@acme/data-eng @here <@U123> handoff-sync:0123456789ab/0123456789"
)
SCRIPT = "<script>alert('t')</script><img src=x onerror=alert(1)>"
ADF_BREAKOUT = {
    "type": "doc",
    "version": 1,
    "content": [
        {
            "type": "heading",
            "attrs": {"level": 2},
            "content": [{"type": "text", "text": "Primary metric"}],
        },
        {
            "type": "paragraph",
            "content": [
                {"type": "text", "text": BREAKOUT},
                {"type": "mention", "attrs": {"id": "acc-ben", "text": "@Ben"}},
            ],
        },
    ],
}
LOGINS = {p["github_login"] for p in PEOPLE}
ACCOUNTS = {p["jira_account_id"] for p in PEOPLE}
NOTION_USERS = {ANA_NOTION, BEN_NOTION}
PAGE_A = "9a8b7c6d-0000-4000-8000-0000000000b1"
PAGE_B = "9a8b7c6d-0000-4000-8000-0000000000b2"


def hostile_workspace(api_version: int) -> dict[str, Any]:
    """Items with missing and null fields, 1 MB bodies, RTL text, marker look-alikes, markup
    that tries to break out or mention everyone, and HTML/script in titles."""
    from sync.writeback.render import marker_for

    metric = ADF_BREAKOUT if api_version == 3 else "h2. Primary metric\n" + BREAKOUT
    issue = {"status": "To Do", "created": STAMP, "updated": STAMP}
    return {
        "people": PEOPLE,
        "jira": {
            "projects": [{"key": "EXP", "name": "Experiments"}],
            "issues": [
                # Missing and null fields: no description, nobody assigned or reporting.
                {
                    **issue,
                    "key": "EXP-1",
                    "summary": RTL,
                    "assignee": None,
                    "reporter": None,
                    "description": None,
                },
                {
                    **issue,
                    "key": "EXP-2",
                    "summary": SCRIPT + " " + BREAKOUT,
                    "assignee": "ana",
                    "reporter": "ben",
                    "description": metric,
                },
                {
                    **issue,
                    "key": "EXP-3",
                    "summary": "Big " + "é" * 300,
                    "assignee": "ana",
                    "reporter": "ben",
                    "description": "h2. Hypothesis\n" + "A" * MB,
                },
                {**issue, "key": "EXP-4", "summary": "", "assignee": "ana", "reporter": "ana"},
            ],
        },
        "github": {
            "repos": {
                "acme/web": {
                    "pulls": [
                        {
                            "number": 1,
                            "title": "EXP-2 " + SCRIPT + " ``` <!-- -->",
                            "body": "## Primary metric\n" + BREAKOUT + "\n" + "z" * MB,
                            "user": "ana-gh",
                            "head": "feature/exp-2",
                            "created_at": STAMP,
                            "updated_at": STAMP,
                            # A person quoting our marker must not be taken for us.
                            "comments": [
                                {
                                    "user": "ben-gh",
                                    "body": "quoting the bot: <!-- "
                                    + marker_for("github", "acme/web#1")
                                    + "/0000000000 -->",
                                },
                            ],
                        },
                        {
                            "number": 2,
                            "title": RTL + " @everyone",
                            "body": None,
                            "user": "ghost-user",
                            "head": "x",
                            "created_at": STAMP,
                            "updated_at": STAMP,
                        },
                    ]
                }
            }
        },
        "notion": {
            "databases": [
                {
                    "id": DB_ID,
                    "title": "Experiment briefs",
                    "properties": {
                        "Name": "title",
                        "Jira": "url",
                        "Outcome owner": "people",
                        "Handoff check": "rich_text",
                    },
                    "pages": [
                        {
                            "id": PAGE_A,
                            "created_time": STAMP,
                            "last_edited_time": STAMP,
                            "properties": {
                                "Name": SCRIPT + BREAKOUT + RTL,
                                "Jira": "https://example.atlassian.net/browse/EXP-2",
                                "Outcome owner": [ANA_NOTION],
                            },
                        },
                        {
                            "id": PAGE_B,
                            "created_time": STAMP,
                            "last_edited_time": STAMP,
                            "properties": {"Name": "", "Jira": None, "Outcome owner": []},
                        },
                    ],
                }
            ]
        },
    }


TOKEN = re.compile(r"handoff.?sync:[0-9a-f]{6,}", re.IGNORECASE)
JIRA_ITEMS = ("EXP-1", "EXP-2", "EXP-3", "EXP-4")


def ours(posted: list[Posted], bot: set[str]) -> list[Posted]:
    return [p for p in posted if p.author in bot and MARKER in p.text]


def check_github(body: str) -> None:
    assert not re.search(r"<\s*(script|img|details|b)\b", body, re.IGNORECASE), body
    assert body.count("-->") == 1 and body.rstrip().endswith("-->"), body
    assert "```" not in body
    # Links only where we made them (http/https); user text's "](" is escaped.
    assert not re.search(r"(?<!\\)\]\(\s*(?!https?://)", body), body
    handles = set(re.findall(r"(?<![\w/\\])@([A-Za-z0-9][\w-]*(?:/[\w-]+)?)", body))
    assert handles <= LOGINS, handles


def check_wiki(body: str) -> None:
    # Every macro, link and mention opener from user text is escaped with a backslash.
    assert not re.search(r"(?<!\\)\{(code|noformat|html)", body), body
    assert set(re.findall(r"\[~accountid:([^\]]+)\]", body)) <= ACCOUNTS
    assert body.count("[~") == len(re.findall(r"\[~accountid:[^\]]+\]", body))
    assert not re.search(r"(?<!\\)\|\s*javascript:", body), body


def walk_adf(node: Any) -> None:
    assert isinstance(node, dict) and isinstance(node.get("type"), str), node
    if node["type"] == "text":
        assert isinstance(node["text"], str) and node["text"]
        for mark in node.get("marks", []):
            href = (mark.get("attrs") or {}).get("href", "")
            assert not href or href.startswith(("http://", "https://")), href
    if node["type"] == "mention":
        assert node["attrs"]["id"] in ACCOUNTS, node
    for child in node.get("content", []):
        walk_adf(child)


def check_adf(body: dict[str, Any]) -> None:
    assert body["type"] == "doc" and body["version"] == 1, body
    walk_adf(body)  # ADF mentions are nodes: "@everyone" in a text node notifies no one


def check_notion(raw: dict[str, Any]) -> None:
    rich = raw["rich_text"]
    assert 0 < len(rich) <= 100
    for obj in rich:
        assert obj["type"] in ("text", "mention"), obj
        if obj["type"] == "text":
            assert len(obj["text"]["content"]) <= 2000
            link = obj["text"].get("link")
            assert link is None or link["url"].startswith(("http://", "https://")), link
        else:
            assert obj["mention"]["user"]["id"] in NOTION_USERS, obj


@pytest.mark.parametrize("api_version", [2, 3])
def test_hostile_items_neither_crash_the_run_nor_escape_their_quoting(
    api_version: int, tmp_path: Path
) -> None:
    with Sandbox(hostile_workspace(api_version)) as sb:
        config = write_config(
            tmp_path / "c.toml", sb.url, tmp_path / "s.db", api_version=api_version
        )
        settings = load_settings(config)

        first = run_sync(settings)
        again = run_sync(settings)

        assert first.exit_code == 0, (first.errors, first.applied)
        assert again.exit_code == 0 and again.ops == [], again.plan_text
        assert not any(s.error for s in first.scopes)
        posted = posted_comments(
            sb, jira=JIRA_ITEMS, github=(1, 2), notion=(PAGE_A, PAGE_B), api_version=api_version
        )
        bots = {"557058:handoff-bot", "handoff-bot", "5a9d1c0e-0b7e-4f3b-9b8a-1c2d3e4f5a6b"}
        bots |= {
            p.author
            for ps in posted.values()
            for p in ps
            if p.author not in ACCOUNTS | LOGINS | NOTION_USERS
        }
        mine = {item: ours(ps, bots) for item, ps in posted.items()}
        # Every item had something to say (missing fields everywhere): one comment each.
        assert {item: len(ps) for item, ps in mine.items()} == dict.fromkeys(mine, 1), mine
        # The person who quoted our marker still has their comment, untouched.
        quoted = [p for p in posted["acme/web#1"] if p.author == "ben-gh"]
        assert len(quoted) == 1 and "quoting the bot" in quoted[0].text
        for item, (comment,) in mine.items():
            # Exactly one marker: look-alikes in user text were broken, not echoed.
            assert len(TOKEN.findall(comment.text)) == 1, (item, comment.text)
            if item.startswith("acme/web"):
                check_github(comment.text)
            elif item.startswith("EXP"):
                body = comment.raw["body"]
                if api_version == 3:
                    check_adf(body)
                else:
                    check_wiki(body)
            else:
                check_notion(comment.raw)
