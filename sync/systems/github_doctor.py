"""`handoff doctor` for GitHub: the token, its scopes, each repository's permissions.
Reads only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors._retry import RetryPolicy
from connectors.errors import ConfigError, ConnectorError, NotFound
from sync.commands.doctor_checks import Check, Reached, fail, token_fix
from sync.engine.connect import open_connector
from sync.settings import Settings
from sync.systems.github import NAME

if TYPE_CHECKING:
    from connectors.github import GithubConnector


def check_github(settings: Settings, policy: RetryPolicy) -> Reached:
    """Token, classic scopes when reported, each repo's permissions."""
    try:
        conn: GithubConnector = open_connector(settings, NAME, policy)  # type: ignore[assignment]
        login = conn.me()
        scopes = conn.token_scopes()
    except (ConfigError, ConnectorError) as exc:
        return Reached([fail(NAME, exc, token_fix(NAME, exc))])
    out = [Check(NAME, "ok", f"token works at {settings.github.url}: signed in as {login}")]
    if scopes is not None and not {"repo", "public_repo"} & set(scopes):
        out.append(
            Check(
                NAME,
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
            NAME,
            "FAIL",
            f"repository {repo} does not exist or the token of {login} cannot see it",
            f"check [github] repos ('owner/name'), and add {repo} to the token's repository access",
        )
    except ConnectorError as exc:
        return fail(NAME, exc)
    if not perms:
        return Check(
            NAME,
            "info",
            f"repository {repo}: readable; GitHub does not report "
            "this token's write access, the first sync will say",
        )
    if perms.get("push") or perms.get("triage") or perms.get("maintain") or perms.get("admin"):
        return Check(NAME, "ok", f"repository {repo}: can read, comment and label")
    return Check(
        NAME,
        "FAIL",
        f"the token can read {repo} but not comment or label (it has only 'pull')",
        f"give {login} the Triage (or Write) role on {repo}; a fine-grained token also "
        "needs Issues: write and Pull requests: write",
    )
