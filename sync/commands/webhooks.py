"""`handoff webhooks`: point each service's webhooks at `handoff serve`.

`register` creates what is missing and corrects what is ours but wrong (a hook is ours when it
sends to `<public_url>/webhooks/<system>`), never doubles one, and leaves hooks that send
elsewhere as they are (reported: they may be another deployment's). `list` only reads. A
system with no registration API (Notion) gets the steps a person takes in its settings. A
refused permission for one system or repository is reported with its fix; the others go on.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection
from dataclasses import asdict
from typing import Any

import click

from connectors._retry import RetryPolicy
from connectors.errors import ConfigError, scrub
from sync import systems
from sync.engine.connect import scopes_of
from sync.settings import Settings
from sync.systems.hooks import HookResult, Mode, endpoint, not_https

__all__ = ["webhooks_group"]

# Registering is one-off and interactive: a few quick retries, then the message.
POLICY = RetryPolicy(attempts=3, base=0.5, cap=4.0, deadline=60.0, timeout=20.0)
NO_URL = (
    "{config}: no public address for the webhooks: set [serve] public_url (the https "
    "address where `handoff serve` is reachable, e.g. https://handoff.example.com) or pass "
    "--url."
)
EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def _public_url(settings: Settings, url: str | None, config: str) -> str:
    chosen = (url or settings.serve.public_url or "").strip().rstrip("/")
    if not chosen:
        raise ConfigError(NO_URL.format(config=config))
    if not chosen.lower().startswith(("https://", "http://")):
        raise ConfigError(f"--url: expected an http(s):// address, got {chosen!r}")
    return chosen


def collect(
    settings: Settings, public_url: str, mode: Mode, only: Collection[str] = (),
    policy: RetryPolicy = POLICY, skip: Collection[str] = (),
) -> tuple[list[HookResult], dict[str, list[str]]]:
    """Each configured system's hooks (checked, planned or applied) and, for the systems
    without an API, the steps to take by hand. `only`: just these systems; `skip`: not these."""
    configured = {s.system for s in scopes_of(settings)}
    results: list[HookResult] = []
    steps: dict[str, list[str]] = {}
    for spec in systems.SYSTEMS.values():
        if spec.name not in configured or (only and spec.name not in only) or spec.name in skip:
            continue
        if spec.hooks is not None:
            results += spec.hooks(settings, policy, public_url, mode)
        elif spec.hook_steps is not None:
            steps[spec.name] = spec.hook_steps(public_url)
            results.append(HookResult(
                spec.name, "", "manual",
                f"{spec.display} has no API to register webhooks: add the subscription to "
                f"{endpoint(public_url, spec.name)} in its settings (steps below)"))
    return results, steps


def exit_code(results: list[HookResult]) -> int:
    if any(r.action == "refused" for r in results):
        return EXIT_CONFIG
    return EXIT_FAILED if any(r.action == "failed" for r in results) else EXIT_OK


def render(public_url: str, results: list[HookResult], steps: dict[str, list[str]]) -> str:
    lines = [f"Webhooks to {public_url}/webhooks/<system>:"]
    for r in results:
        line = f"{r.action:<13}  {r.system:<6}  {r.message}"
        if r.fix and r.action not in ("kept", "created", "corrected"):
            line += f". Fix: {r.fix}"
        lines.append(line)
    for system, todo in steps.items():
        display = systems.SYSTEMS[system].display
        lines.append(f"{display}, in its settings:")
        lines += [f"  {n}. {step}" for n, step in enumerate(todo, 1)]
    if not_https(public_url):
        lines.append("note: Jira Cloud and Notion deliver only to https addresses.")
    return scrub("\n".join(lines))


def _run(config: str | None, url: str | None, mode: Mode, only: tuple[str, ...],
         as_json: bool) -> None:
    from sync.commands.cli import config_path, load

    settings = load(config)
    public_url = _public_url(settings, url, str(config_path(config)))
    results, steps = collect(settings, public_url, mode, only)
    code = exit_code(results)
    if as_json:
        body: dict[str, Any] = {
            "ok": code == EXIT_OK,
            "url": public_url,
            "mode": mode,
            "hooks": [asdict(r) for r in results],
            "steps": steps,
        }
        click.echo(scrub(json.dumps(body)))
    else:
        click.echo(render(public_url, results, steps))
    sys.exit(code)


_CONFIG = click.option("--config", "config", metavar="PATH",
                       help="Config file (default: ./handoff.toml, or $HANDOFF_CONFIG).")
_URL = click.option("--url", metavar="URL",
                    help="The public address of `handoff serve` (default: [serve] public_url).")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
_ONLY = click.option("--only", type=click.Choice(systems.names()), multiple=True,
                     help="Only this system (repeatable).")


@click.group("webhooks")
def webhooks_group() -> None:
    """Point Jira's, GitHub's and Notion's webhooks at `handoff serve`."""


@webhooks_group.command("register")
@_CONFIG
@_URL
@click.option(
    "--dry-run", is_flag=True, help="Say what it would create or correct; change nothing."
)
@_ONLY
@_JSON
def register_command(config: str | None, url: str | None, dry_run: bool,
                     only: tuple[str, ...], as_json: bool) -> None:
    """Create each configured repository's GitHub hook and the Jira site's admin webhook.

    Each sends to <public_url>/webhooks/<system>, signed with HANDOFF_<SYSTEM>__WEBHOOK_SECRET.
    One already there is kept (or corrected when it is inactive or lacks events), never
    doubled; one that sends elsewhere is reported and left alone. Notion has no API for it:
    the steps are printed. Exit 0 when all is in place, 2 when a permission or secret is
    missing (the other systems still register), 1 when something else failed.
    """
    _run(config, url, "dry-run" if dry_run else "apply", only, as_json)


@webhooks_group.command("list")
@_CONFIG
@_URL
@_ONLY
@_JSON
def list_command(config: str | None, url: str | None, only: tuple[str, ...],
                 as_json: bool) -> None:
    """Show whether each configured hook exists and points at `handoff serve`; reads only."""
    _run(config, url, "check", only, as_json)
