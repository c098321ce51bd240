"""`handoff doctor`: check a config against the real systems before the first sync.

Every check reads; nothing is written anywhere. Each check is a plain function that returns
`Check` results (one line each: ok / info / warn / FAIL, with the fix for a failure), so the
command only prints them. What an API cannot tell without a write (a Notion integration's
"Insert comments" and "Update content" capabilities) is said plainly instead of guessed.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from connectors._retry import RetryPolicy
from connectors.base import Account, Scope
from connectors.errors import AuthError, ConfigError, ConnectorError, NotFound, scrub
from sync import systems
from sync.connect import no_scopes_message, open_connector, scopes_of
from sync.doctor_checks import Check, check_people, jira_field_checks, notion_property_checks
from sync.settings import Settings, load_settings

if TYPE_CHECKING:
    from connectors.github import GithubConnector
    from connectors.jira import JiraConnector
    from connectors.notion import NotionConnector

__all__ = [
    "Check",
    "check_github",
    "check_jira",
    "check_notion",
    "check_people",
    "doctor_command",
    "render",
    "run_checks",
]

HandoffError = ConfigError | ConnectorError
# Few, quick retries: a doctor answers in seconds, and a dead URL is itself the finding.
DOCTOR_POLICY = RetryPolicy(attempts=2, base=0.5, cap=2.0, deadline=20.0, timeout=15.0)

# Jira project permissions the write-back needs, with the names Jira's admin screens use.
JIRA_PERMISSIONS = {
    "BROWSE_PROJECTS": ("Browse projects", "read its issues"),
    "ADD_COMMENTS": ("Add comments", "post the handoff comment"),
    "EDIT_ISSUES": ("Edit issues", "add and remove labels"),
}


@dataclass
class Reached:
    """What checking one system found, plus what the people check needs from it."""

    checks: list[Check]
    accounts: list[Account] | None = None  # None: the account list could not be read
    lookup: Callable[[str], dict[str, Any] | None] | None = None  # GitHub: one login


def _fail(system: str, exc: HandoffError, fix: str = "") -> Check:
    """A failure's message without the "jira (scope): " prefix the line already shows."""
    message, source = exc.message, getattr(exc, "system", system)
    if message.startswith(f"{source} (") and "): " in message:
        message = message.split("): ", 1)[1]
    return Check(system, "FAIL", message.removeprefix(f"{source}: "), fix)


# -- Jira ---------------------------------------------------------------------------------
def check_jira(settings: Settings, policy: RetryPolicy) -> Reached:
    """Token, project permissions, mapped custom fields; the accounts for the people check."""
    cfg = settings.jira
    try:
        conn: JiraConnector = open_connector(settings, "jira", policy)  # type: ignore[assignment]
        me = conn.account()
    except (ConfigError, ConnectorError) as exc:
        return Reached([_fail("jira", exc, _token_fix("jira", exc))])
    who = me.get("displayName") or cfg.email
    out = [Check("jira", "ok", f"token works at {cfg.url}: signed in as {who} ({cfg.email})")]
    for project in cfg.projects:
        out.append(_jira_project(conn, project, cfg.email))
    if cfg.jql and not cfg.projects:
        out.append(
            Check(
                "jira",
                "info",
                "scope is a JQL query: permissions are checked per "
                "project only; list the projects in [jira] projects to check them",
            )
        )
    try:
        fields = conn.fields()
    except ConnectorError as exc:
        return Reached([*out, _fail("jira", exc)])
    out += jira_field_checks(settings.fields.jira, fields, cfg.url)
    try:
        return Reached(out, list(conn.people()))
    except ConnectorError as exc:
        out.append(
            _fail(
                "jira",
                exc,
                "give the account the 'Browse users and groups' global "
                "permission so owners can be matched to people",
            )
        )
    return Reached(out)


def _jira_project(conn: JiraConnector, project: str, email: str) -> Check:
    try:
        held = conn.my_permissions(project, list(JIRA_PERMISSIONS))
    except NotFound:
        return Check(
            "jira",
            "FAIL",
            f"project {project} does not exist or {email} cannot see it",
            f"check the key in [jira] projects (keys are upper case, e.g. EXP), or "
            f"give {email} 'Browse projects' in {project}",
        )
    except ConnectorError as exc:
        return _fail("jira", exc)
    missing = [k for k, ok in held.items() if not ok]
    if not missing:
        return Check("jira", "ok", f"project {project}: can read, comment and label")
    names = " and ".join(f"'{JIRA_PERMISSIONS[k][0]}'" for k in missing)
    needs = " or ".join(JIRA_PERMISSIONS[k][1] for k in missing)
    plural = "s" if len(missing) > 1 else ""
    return Check(
        "jira",
        "FAIL",
        f"the token lacks {names} in project {project}: it cannot {needs}",
        f"give the bot account {email} the {names} project permission{plural} in "
        f"{project}'s permission scheme (Project settings → Permissions)",
    )


# -- GitHub -------------------------------------------------------------------------------
def check_github(settings: Settings, policy: RetryPolicy) -> Reached:
    """Token, classic scopes when reported, each repo's permissions."""
    try:
        conn: GithubConnector = open_connector(settings, "github", policy)  # type: ignore[assignment]
        login = conn.me()
        scopes = conn.token_scopes()
    except (ConfigError, ConnectorError) as exc:
        return Reached([_fail("github", exc, _token_fix("github", exc))])
    out = [Check("github", "ok", f"token works at {settings.github.url}: signed in as {login}")]
    if scopes is not None and not {"repo", "public_repo"} & set(scopes):
        out.append(
            Check(
                "github",
                "FAIL",
                f"the classic token has scopes {', '.join(scopes) or 'none'}, without "
                "'repo': it cannot comment or label on private repos",
                "create a token with the 'repo' scope (or a fine-grained token with "
                "Issues: write and Pull requests: write)",
            )
        )
    for repo in settings.github.repos:
        out.append(_github_repo(conn, repo, login))
    return Reached(out, lookup=conn.user)


def _github_repo(conn: GithubConnector, repo: str, login: str) -> Check:
    try:
        perms = conn.repo_permissions(repo)
    except NotFound:
        return Check(
            "github",
            "FAIL",
            f"repository {repo} does not exist or the token of {login} cannot see it",
            f"check [github] repos ('owner/name'), and add {repo} to the token's repository access",
        )
    except ConnectorError as exc:
        return _fail("github", exc)
    if not perms:
        return Check(
            "github",
            "info",
            f"repository {repo}: readable; GitHub does not report "
            "this token's write access, the first sync will say",
        )
    if perms.get("push") or perms.get("triage") or perms.get("maintain") or perms.get("admin"):
        return Check("github", "ok", f"repository {repo}: can read, comment and label")
    return Check(
        "github",
        "FAIL",
        f"the token can read {repo} but not comment or label (it has only 'pull')",
        f"give {login} the Triage (or Write) role on {repo}; a fine-grained token also "
        "needs Issues: write and Pull requests: write",
    )


# -- Notion -------------------------------------------------------------------------------
def check_notion(settings: Settings, policy: RetryPolicy) -> Reached:
    """Token, each database shared, mapped properties, the capabilities a read can show."""
    try:
        conn: NotionConnector = open_connector(settings, "notion", policy)  # type: ignore[assignment]
        conn.me()
    except (ConfigError, ConnectorError) as exc:
        return Reached([_fail("notion", exc, _token_fix("notion", exc))])
    out = [Check("notion", "ok", f"token works at {settings.notion.url}")]
    probed = False
    for db in settings.notion.databases:
        scope = Scope("notion", db)
        try:
            props = conn.properties(scope)
        except NotFound:
            out.append(
                Check(
                    "notion",
                    "FAIL",
                    f"database {db} does not exist or is not shared with the integration",
                    "open the database in Notion → ••• → Connections → add the "
                    "integration; check the id in [notion] databases",
                )
            )
            continue
        except ConnectorError as exc:
            out.append(_fail("notion", exc))
            continue
        out.append(Check("notion", "ok", f"database {db}: shared, {len(props)} properties"))
        out += notion_property_checks(settings, props, db)
        if not probed:
            probed = True
            out.append(_notion_comment_probe(conn, scope))
    out.append(
        Check(
            "notion",
            "info",
            "whether the integration may insert comments and update "
            "pages cannot be checked without writing; the first sync will say "
            "(capabilities: Insert comments, Update content)",
        )
    )
    try:
        return Reached(out, list(conn.people()))
    except ConnectorError as exc:
        out.append(_fail("notion", exc))
    return Reached(out)


def _notion_comment_probe(conn: NotionConnector, scope: Scope) -> Check:
    """Read one page's comments: the sync reads them to find its own, and it writes nothing."""
    try:
        first = next(iter(conn.pull(scope, None)), None)
        if first is None:
            return Check(
                "notion",
                "info",
                f"database {scope.name} has no pages yet: the "
                "'Read comments' capability is checked once it has one",
            )
        conn.find_comment(scope, first.id, "handoff-doctor-probe")
    except AuthError:
        return Check(
            "notion",
            "FAIL",
            "the integration cannot read comments",
            "enable 'Read comments' in the integration's capabilities "
            "(notion.so/profile/integrations)",
        )
    except ConnectorError as exc:
        return _fail("notion", exc)
    return Check("notion", "ok", "the integration can read comments")


# -- running and printing -------------------------------------------------------------------
def _token_fix(system: str, exc: HandoffError) -> str:
    if isinstance(exc, ConfigError):
        return ""  # its message already says where to put the token
    if isinstance(exc, AuthError):
        spec = systems.get(system)
        return spec.token_help if spec else ""
    return f"check [{system}] url and that this machine can reach it"


def run_checks(settings: Settings, policy: RetryPolicy = DOCTOR_POLICY) -> list[Check]:
    """Every check for the systems the config has scopes in; reads only."""
    configured = {s.system for s in scopes_of(settings)}
    out: list[Check] = []
    accounts: dict[str, list[Account]] = {}
    github_user = None
    for spec in systems.SYSTEMS.values():
        system, run = spec.name, spec.doctor
        if run is None:
            continue
        if system not in configured:
            out.append(Check(system, "info", f"not configured (no [{system}] scopes): skipped"))
            continue
        reached = run(settings, policy)
        out += reached.checks
        if reached.accounts is not None:
            accounts[system] = reached.accounts
        github_user = github_user or reached.lookup
    out += check_people(settings, accounts, github_user)
    return out


def render(checks: Iterable[Check]) -> str:
    """One line per check: status, system, what was found, and the fix for a failure."""
    lines = []
    for c in checks:
        line = f"{c.status:<4}  {c.system:<6}  {c.message}"
        if c.fix and c.status in ("FAIL", "warn"):
            line += f". Fix: {c.fix}"
        lines.append(scrub(line))
    fails = sum(c.status == "FAIL" for c in checks)
    warns = sum(c.status == "warn" for c in checks)
    if fails:
        lines.append(f"{fails} check(s) failed: fix them before the first `handoff sync`.")
    else:
        lines.append(
            "Ready for `handoff sync --dry-run`" + (f" ({warns} warning(s))." if warns else ".")
        )
    return "\n".join(lines)


@click.command("doctor")
@click.option(
    "--config",
    "config",
    metavar="PATH",
    help="Config file (default: ./handoff.toml, or $HANDOFF_CONFIG).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as one JSON object.")
def doctor_command(config: str | None, as_json: bool) -> None:
    """Check a config against Jira, GitHub and Notion before the first sync; writes nothing.

    Checks that each token works and has the permissions the write-back needs, that each
    project, repo and database is visible, that mapped fields exist with usable types, and that
    the people directory matches real accounts. One line per check, with the fix for each
    failure. Exit 0 when nothing failed, 2 when something did.
    """
    import os

    path = Path(config or os.environ.get("HANDOFF_CONFIG") or "handoff.toml")
    # A failed request is reported as a check line; the SDK's own warning would repeat it.
    logging.getLogger("connectors.notion.sdk").setLevel(logging.ERROR)
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        checks = [Check("config", "FAIL", exc.message)]
    else:
        if scopes_of(settings):
            checks = [Check("config", "ok", f"{path} loads"), *run_checks(settings)]
        else:
            checks = [Check("config", "FAIL", f"{path}: {no_scopes_message()}")]
    failed = any(c.status == "FAIL" for c in checks)
    if as_json:
        body = {"ok": not failed, "checks": [asdict(c) for c in checks]}
        click.echo(scrub(json.dumps(body)))
    else:
        click.echo(render(checks))
    sys.exit(2 if failed else 0)
