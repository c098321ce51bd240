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
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from connectors._retry import RetryPolicy
from connectors.base import Account
from connectors.errors import ConfigError, scrub
from sync import systems
from sync.commands.doctor_checks import Check, check_people
from sync.commands.doctor_hooks import check_hooks
from sync.commands.doctor_state import check_state
from sync.commands.progress import Progress, shown
from sync.engine.connect import no_scopes_message, scopes_of
from sync.settings import Settings, load_settings

if TYPE_CHECKING:
    pass

__all__ = [
    "Check",
    "check_people",
    "doctor_command",
    "render",
    "run_checks",
]

# Few, quick retries: a doctor answers in seconds, and a dead URL is itself the finding.
DOCTOR_POLICY = RetryPolicy(attempts=2, base=0.5, cap=2.0, deadline=20.0, timeout=15.0)


# -- running and printing -------------------------------------------------------------------
def run_checks(
    settings: Settings, policy: RetryPolicy = DOCTOR_POLICY, progress: Progress | None = None
) -> list[Check]:
    """Every check for the systems the config has scopes in; reads only."""
    show = progress or Progress(False)
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
        show.step(f"Checking {spec.display}")
        reached = run(settings, policy)
        out += reached.checks
        if reached.accounts is not None:
            accounts[system] = reached.accounts
        github_user = github_user or reached.lookup
    failed = {c.system for c in out if c.status == "FAIL"}
    out += check_hooks(settings, policy, skip=failed)
    show.end()
    out += check_people(settings, accounts, github_user)
    out += check_state(settings)
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
            show = Progress(shown(as_json=as_json))
            checks = [Check("config", "ok", f"{path} loads"), *run_checks(settings, progress=show)]
        else:
            checks = [Check("config", "FAIL", f"{path}: {no_scopes_message()}")]
    failed = any(c.status == "FAIL" for c in checks)
    if as_json:
        body = {"ok": not failed, "checks": [asdict(c) for c in checks]}
        click.echo(scrub(json.dumps(body)))
    else:
        click.echo(render(checks))
    sys.exit(2 if failed else 0)
