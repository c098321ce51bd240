"""`handoff init`: write a starter config from flags (or answers on a terminal), with the field
names found in the systems written in.

Tokens never go into the file: it says which HANDOFF_*__TOKEN variable to set. When a token is
in the environment (or --from-sandbox, whose read tokens are public test fixtures), init reads
Jira's custom fields and each Notion database's properties and maps those whose names match
the default field map; the others are listed as comments to map by hand. It only reads.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from connectors._retry import RetryPolicy
from connectors.errors import ConfigError, ConnectorError, scrub
from mapping.fields import JIRA_STANDARD_FIELDS, JiraMap, NotionMap
from sync import systems
from sync.commands.progress import Progress, shown
from sync.settings import NotionPropertySettings, load_settings

__all__ = ["Answers", "Found", "discover", "fill_scopes", "init_command", "render_config"]

POLICY = RetryPolicy(attempts=2, base=0.5, cap=2.0, deadline=20.0, timeout=15.0)
SANDBOX_READ_TOKENS = {s: f"sandbox-{s}-read" for s in systems.names()}
WRITABLE_TYPES = ("rich_text", "select", "multi_select", "checkbox")


@dataclass
class Answers:
    """What the user told init (flags or prompts)."""

    jira_url: str = ""
    jira_email: str = ""
    jira_projects: list[str] = field(default_factory=list)
    github_url: str = "https://api.github.com"
    github_repos: list[str] = field(default_factory=list)
    notion_url: str = "https://api.notion.com"
    notion_databases: list[str] = field(default_factory=list)


@dataclass
class Found:
    """What init read from the systems: Jira custom fields and Notion properties."""

    jira_fields: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (id, type)
    notion_properties: dict[str, str] = field(default_factory=dict)  # name -> type
    notes: list[str] = field(default_factory=list)  # what could not be read, and why


def _token(system: str, sandbox: bool) -> str:
    env = os.environ.get(f"HANDOFF_{system.upper()}__TOKEN", "")
    return env or (SANDBOX_READ_TOKENS.get(system, "") if sandbox else "")


def discover(
    answers: Answers, *, sandbox: bool = False, progress: Progress | None = None
) -> Found:
    """Read field names from each system that has a URL, a scope and a token; reads only."""
    found = Found()
    show = progress or Progress(False)
    for spec in systems.SYSTEMS.values():
        if spec.discover is not None:
            show.step(f"Reading {spec.display}")
            spec.discover(answers, found, _token(spec.name, sandbox))
    show.end()
    return found


def fill_scopes(answers: Answers, *, sandbox: bool = False) -> list[str]:
    """Fill each scope list left empty with what that system's token can see; reads only.

    Used with --from-sandbox, so the config checks what the sandbox serves. Returns notes on
    what could not be listed.
    """
    from connectors import github, jira, notion

    notes: list[str] = []
    listers: dict[str, Any] = {
        "jira_projects": lambda t: jira.JiraConnector(
            jira.open_client(answers.jira_url, answers.jira_email, t, timeout=POLICY.timeout),
            policy=POLICY,
        ).project_keys(),
        "github_repos": lambda t: github.GithubConnector(
            github.open_client(answers.github_url, t, timeout=POLICY.timeout), policy=POLICY
        ).repo_names(),
        "notion_databases": lambda t: notion.NotionConnector(
            notion.open_client(answers.notion_url, t, timeout=POLICY.timeout), policy=POLICY
        ).database_ids(),
    }
    for attr, lister in listers.items():
        system = attr.split("_")[0]
        token = _token(system, sandbox)
        if getattr(answers, attr) or not token:
            continue
        try:
            setattr(answers, attr, list(lister(token)))
        except ConnectorError as exc:
            notes.append(f"{system.capitalize()} scopes not listed: {exc.message}")
    return notes


def _toml(value: Any) -> str:
    # JSON strings and lists of strings are valid TOML values.
    return json.dumps(value, ensure_ascii=False)


def _jira_entries(found: Found) -> tuple[list[str], list[str]]:
    """`[fields.jira.fields]` lines for default names the site has, and the other fields."""
    lines, used = [], set()
    for record_field, names in JiraMap().fields.items():
        hits = [n for n in names if n in found.jira_fields]
        if hits:
            kept = [n for n in names if n in found.jira_fields or n in JIRA_STANDARD_FIELDS]
            lines.append(f"{record_field} = {_toml(kept)}")
            used.update(hits)
    others = [
        f"#   {n} ({fid}, {typ})"
        for n, (fid, typ) in sorted(found.jira_fields.items())
        if n not in used
    ]
    return lines, others


def _notion_entries(found: Found) -> tuple[list[str], list[str]]:
    """`[fields.notion.properties]` lines for default names the databases have, and the rest."""
    by_fold = {n.strip().lower(): n for n in found.notion_properties}
    lines, used = [], set()
    for record_field, names in NotionMap().properties.items():
        hits = list(dict.fromkeys(by_fold[n.lower()] for n in names if n.lower() in by_fold))
        if hits:
            lines.append(f"{record_field} = {_toml(hits)}")
            used.update(hits)
    skip = used | {NotionPropertySettings().name}
    others = [
        f"#   {n} ({t})"
        for n, t in sorted(found.notion_properties.items())
        if n not in skip and t != "title"
    ]
    return lines, others


def render_config(answers: Answers, found: Found, state_path: str = "handoff-state.db") -> str:
    """The starter config as TOML text; `load_settings` reads it as it is."""
    out = _systems_section(answers, state_path)
    out += [f"# note: {scrub(n)}" for n in found.notes]
    out += _field_maps(found)
    out += _writeback_property(answers, found)
    out += _PEOPLE_EXAMPLE
    return "\n".join(out) + "\n"


def _systems_section(answers: Answers, state_path: str) -> list[str]:
    """The header, the state file and where each system is, as the user answered."""
    return [
        "# handoff-sync starter config, written by `handoff init`. Check it with",
        "# `handoff doctor --config <this file>`; every key is explained in config.example.toml.",
        "# Tokens are NOT written here: set HANDOFF_JIRA__TOKEN, HANDOFF_GITHUB__TOKEN and",
        "# HANDOFF_NOTION__TOKEN in the environment of whatever runs `handoff sync`.",
        "",
        "[state]",
        f"path = {_toml(state_path)}",
        "",
        "[jira]",
        f"url = {_toml(answers.jira_url)}",
        f"email = {_toml(answers.jira_email)}",
        "# token: set HANDOFF_JIRA__TOKEN (an API token of the account above)",
        f"projects = {_toml(answers.jira_projects)}",
        "",
        "[github]",
        f"url = {_toml(answers.github_url)}",
        "# token: set HANDOFF_GITHUB__TOKEN",
        f"repos = {_toml(answers.github_repos)}",
        "",
        "[notion]",
        f"url = {_toml(answers.notion_url)}",
        "# token: set HANDOFF_NOTION__TOKEN (the integration's secret)",
        f"databases = {_toml(answers.notion_databases)}",
        "",
        "[link]",
        "# Jira keys of these projects link PRs and pages to their issue.",
        f"projects = {_toml(answers.jira_projects)}",
    ]


def _field_maps(found: Found) -> list[str]:
    """The Jira fields and Notion properties found that match the default map, and the rest."""
    out: list[str] = []
    jira_lines, jira_others = _jira_entries(found)
    if jira_lines or jira_others:
        out += [
            "",
            "# Jira custom fields found on the site whose names match the default map.",
            "[fields.jira.fields]",
            *jira_lines,
        ]
        if jira_others:
            out += [
                '# Other custom fields there; map one as `record_field = ["Name"]`:',
                *jira_others,
            ]
    notion_lines, notion_others = _notion_entries(found)
    if notion_lines or notion_others:
        out += [
            "",
            "# Notion properties found whose names match the default map.",
            "[fields.notion.properties]",
            *notion_lines,
        ]
        if notion_others:
            out += [
                '# Other properties there; map one as `record_field = ["Name"]`:',
                *notion_others,
            ]
    return out


_PEOPLE_EXAMPLE = [
    "",
    "# The people directory: one block per person joins their accounts across systems.",
    "# [[people]]",
    '# key = "ana"',
    '# email = "ana@example.com"',
    '# jira = "<Atlassian accountId>"',
    '# github = "<login>"',
    '# notion = "<Notion user id>"',
    '# time_zone = "Europe/Berlin"',
]


def _writeback_property(answers: Answers, found: Found) -> list[str]:
    if not answers.notion_databases:
        return []
    default = NotionPropertySettings()
    typ = found.notion_properties.get(default.name)
    if typ in WRITABLE_TYPES:
        return [
            "",
            "[notion_property]",
            "# Where the sync writes its result on each page.",
            f"name = {_toml(default.name)}",
            f"type = {_toml(typ)}",
        ]
    return [
        "",
        f"# Add a Text property named {default.name!r} to each database: the sync "
        "writes its result there.",
        "# Or name an existing one:",
        "# [notion_property]",
        f"# name = {_toml(default.name)}",
        '# type = "rich_text"',
    ]


def _interactive() -> bool:
    """Ask only a person at a terminal; piped input or cron never waits on a prompt."""
    return sys.stdin.isatty()


def _ask_list(text: str, given: Sequence[str], interactive: bool) -> list[str]:
    if given or not interactive:
        return list(given)
    answer = click.prompt(text, default="", show_default=False)
    return [p.strip() for p in str(answer).replace(",", " ").split() if p.strip()]


def _ask(text: str, given: str | None, interactive: bool, default: str = "") -> str:
    if given is not None or not interactive:
        return given if given is not None else default
    return str(click.prompt(text, default=default, show_default=bool(default))).strip()


@click.command("init")
@click.option(
    "--output", "-o", default="handoff.toml", show_default=True, help="Where to write the config."
)
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
@click.option("--jira-url", help="Jira site, e.g. https://your-team.atlassian.net.")
@click.option("--jira-email", help="The account the Jira token belongs to.")
@click.option(
    "--jira-project", "jira_projects", multiple=True, help="Jira project key to check (repeatable)."
)
@click.option(
    "--github-repo",
    "github_repos",
    multiple=True,
    help="GitHub repository as owner/name (repeatable).",
)
@click.option(
    "--notion-database",
    "notion_databases",
    multiple=True,
    help="Notion database id shared with the integration (repeatable).",
)
@click.option(
    "--from-sandbox",
    metavar="URL",
    help="Point every system at a running `handoff sandbox` on URL.",
)
def init_command(
    output: str,
    force: bool,
    jira_url: str | None,
    jira_email: str | None,
    jira_projects: tuple[str, ...],
    github_repos: tuple[str, ...],
    notion_databases: tuple[str, ...],
    from_sandbox: str | None,
) -> None:
    """Write a starter config, with the field names found in Jira and Notion.

    Takes flags, or asks on a terminal for what the flags leave out (never when input is piped).
    Reads Jira's custom fields and Notion's properties when HANDOFF_*__TOKEN is set; writes no
    token into the file. Refuses to overwrite an existing file without --force.
    """
    path = Path(output)
    if path.exists() and not force:
        click.echo(f"handoff: {path} already exists; pass --force to overwrite it.", err=True)
        sys.exit(2)
    interactive = _interactive()
    answers = Answers()
    if from_sandbox:
        from connectors.sandbox import JIRA_EMAIL

        url = from_sandbox.rstrip("/")
        answers.jira_url, answers.notion_url = url, url
        answers.github_url = f"{url}/api/v3"
        jira_url = jira_url or url
        jira_email = jira_email or JIRA_EMAIL
    answers.jira_url = _ask("Jira site URL (empty: no Jira)", jira_url, interactive)
    if answers.jira_url:
        answers.jira_email = _ask("Jira account email", jira_email, interactive)
        answers.jira_projects = _ask_list("Jira project keys", jira_projects, interactive)
    answers.github_repos = _ask_list("GitHub repos (owner/name)", github_repos, interactive)
    answers.notion_databases = _ask_list("Notion database ids", notion_databases, interactive)
    notes = fill_scopes(answers, sandbox=True) if from_sandbox else []
    found = discover(answers, sandbox=bool(from_sandbox), progress=Progress(shown()))
    found.notes[:0] = notes
    text = render_config(answers, found)
    path.write_text(text, encoding="utf-8")
    try:
        load_settings(path)
    except ConfigError as exc:  # a bug here, not the user's: say so plainly
        click.echo(f"handoff: the written config does not load: {exc.message}", err=True)
        sys.exit(1)
    mapped = len(_jira_entries(found)[0]) + len(_notion_entries(found)[0])
    click.echo(f"Wrote {path}: {mapped} record fields mapped to names found in the systems.")
    for note in found.notes:
        click.echo(f"  note: {scrub(note)}")
    click.echo(
        "Next: set HANDOFF_JIRA__TOKEN, HANDOFF_GITHUB__TOKEN and HANDOFF_NOTION__TOKEN, "
        f"then run `handoff doctor --config {path}`."
    )
