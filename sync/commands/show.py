"""`handoff show KEY-or-URL`: one handoff, every value with where it came from, read from the
state file alone (no system is asked)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import click


@click.command("show")
@click.argument("what", metavar="KEY-or-URL")
@click.option(
    "--config",
    "config",
    metavar="PATH",
    help="Config file (default: ./handoff.toml, or $HANDOFF_CONFIG); its state file, field "
    "maps and people are read.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@click.option(
    "--max-age",
    metavar="MINUTES",
    type=click.IntRange(min=0),
    default=60,
    show_default=True,
    help="Say so when the last sync is older than this.",
)
def show_command(what: str, config: str | None, as_json: bool, max_age: int) -> None:
    """Show one handoff: each field with its value and source (system, item, field, when),
    linked items, open findings with the time each climbs the escalation ladder, the decision
    log, the changes the syncs saw and our writes on its items.

    KEY-or-URL is a Jira key (EXP-42), a pull request URL or owner/repo#12, a Notion page URL
    or id. Only the state file is read: run `handoff sync` for what changed since.
    """
    from connectors.errors import HandoffSyncError
    from sync.commands.cli import load, report_error
    from sync.report.show import gather_show
    from sync.report.show_text import render_show_json, render_show_text
    from sync.store import exists, reader, where_is

    try:
        settings = load(config)
        if not exists(settings):  # a file or a database: `status` asks the same
            where = where_is(settings)
            raise HandoffSyncError(f"No state yet at {where}: run `handoff sync` first.")
        with reader(settings) as state:
            now = datetime.now(UTC)
            shown = gather_show(state, settings, what, now=now, directory=settings.directory())
    except HandoffSyncError as exc:
        sys.exit(report_error(exc, as_json))
    limit = timedelta(minutes=max_age)
    if as_json:
        click.echo(json.dumps(render_show_json(shown, limit), default=str))
    else:
        click.echo(render_show_text(shown, limit), nl=False)
