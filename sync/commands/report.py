"""`handoff report`: the leads' reconciliation report as Markdown, HTML or JSON, written to a
file or stdout, or published in place (`--publish`)."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import click

from sync.report.data import Filters, ReportData
from sync.report.render import DEFAULT_HTML, RENDERERS, render_markdown, report_data


def _since(value: str | None) -> datetime | None:
    """A date (midnight UTC) or an ISO datetime; a naive one is read as UTC."""
    if not value:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-03-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.command("report")
@click.option(
    "--config",
    "config",
    metavar="PATH",
    help="Config file (default: ./handoff.toml, "
    "or $HANDOFF_CONFIG); the report reads its state file and people.",
)
@click.option("--state", "state_path", metavar="PATH", help="Read this state file instead.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "json"]),
    default="md",
    show_default=True,
    help="Markdown to paste, one offline HTML file, or JSON for dashboards.",
)
@click.option(
    "--output",
    "-o",
    metavar="PATH",
    help=f"Write here (default: stdout for md and json, {DEFAULT_HTML} for html; '-' for stdout).",
)
@click.option(
    "--since",
    metavar="DATE",
    help="Window for closed loops and the trend "
    "(default: the last 7 days for closed loops, the last 30 runs for the trend).",
)
@click.option(
    "--team",
    metavar="NAME",
    help="Only handoffs of this team: the Team field of "
    "any linked item, else the Jira project, repo or database they live in.",
)
@click.option(
    "--owner", metavar="WHO", help="Only handoffs whose owner has this directory key or name."
)
@click.option(
    "--publish",
    metavar="github:OWNER/REPO",
    help="Also publish the Markdown report as one GitHub issue in that repo, edited in place "
    "on every run (the [github] token needs Issues: write). Nothing goes to stdout then "
    "unless --output says where. With --weekly also notion:PAGE (a page URL or id): one page "
    "under it, created once then edited in place (the integration needs Insert content).",
)
@click.option(
    "--weekly",
    is_flag=True,
    help="The weekly closed loop instead: opened, closed, escalated and decided this week, "
    "per team, against the week before.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Change nothing: with --publish print what would be published and where and send "
    "nothing; and do not remember this report as the last one (the next report's new and "
    "resolved findings still count from the report before).",
)
def report_command(
    config: str | None,
    state_path: str | None,
    fmt: str,
    output: str | None,
    since: str | None,
    team: str | None,
    owner: str | None,
    publish: str | None,
    weekly: bool,
    dry_run: bool,
) -> None:
    """Write the reconciliation report for leads from the state file (no system is asked).

    First the handoffs at risk, one row each, blockers first: owner, everything missing, age,
    when the escalation ladder next tells someone (in the owner's time zone, from the config's
    [[people]]) and what opened or closed since the last report; each report's time is kept in
    the state for the next one, unless --dry-run. Then: ownerless items by age, missing
    fields by team and owner, handoffs entering run without a go/no-go, expired and stale
    handoffs, conflicts between systems, escalations and who they reached, loops closed, and
    the trend of open findings over past runs. Every line links to the item in its system.
    With --publish the report also lands in one GitHub issue, found again by a hidden marker
    and edited in place, never opened twice.
    """
    from connectors.errors import HandoffSyncError
    from sync.commands.cli import config_path, report_error
    if weekly:
        _weekly(config, fmt, output, publish, dry_run)
        return
    repo = _repo_of(publish)
    try:
        filters = Filters(since=_since(since), team=team, owner=owner)
        source = Path(state_path) if state_path else config_path(config)
        data = report_data(source, filters=filters, from_state=bool(state_path))
        if repo is not None and dry_run:
            click.echo(f"Dry run: would publish to {publish}; nothing written.", err=True)
            repo = None  # and print the report instead
        elif repo is not None:
            _publish(config, repo, data, filters)
    except HandoffSyncError as exc:
        # One line on stderr, and with --format json one JSON line on stdout, as --json does.
        sys.exit(report_error(exc, fmt == "json"))
    except FileNotFoundError as exc:
        msg = f"No state yet at {exc.filename}: run `handoff sync` first."
        sys.exit(report_error(HandoffSyncError(msg), fmt == "json"))
    if repo is None or output is not None:  # published alone: cron mails nothing more
        _output(data, fmt, output)
    if not dry_run:
        _remember(source, data, from_state=bool(state_path))


def _output(data: ReportData, fmt: str, output: str | None) -> None:
    text = RENDERERS[fmt](data)
    target = output or (DEFAULT_HTML if fmt == "html" else "-")
    if target == "-":
        click.echo(text, nl=False)
        return
    Path(target).write_text(text, encoding="utf-8")
    click.echo(
        f"Report written to {target}: {len(data.open_lines)} open findings, "
        f"{len(data.closed)} closed since {data.since:%Y-%m-%d}.",
        err=True,
    )


def _remember(source: Path, data: ReportData, *, from_state: bool) -> None:
    """The report is out; if its time cannot be kept, say so and let the report stand."""
    from connectors.errors import HandoffSyncError
    from sync.report.render import remember_report
    from sync.store import store_error, store_errors

    try:
        remember_report(source, data, from_state=from_state)
    except store_errors() as exc:
        why = store_error(exc, source if from_state else None)
        click.echo(f"warning: this report was not remembered as the last one: {why}", err=True)
    except HandoffSyncError as exc:
        click.echo(f"warning: this report was not remembered as the last one: {exc}", err=True)


def _repo_of(publish: str | None) -> str | None:
    """The repo of `--publish github:OWNER/REPO`; a usage error for anything else."""
    from sync.report.publish import parse_target

    try:
        return parse_target(publish) if publish else None
    except ValueError as exc:
        why = str(exc)
        if (publish or "").startswith("notion:"):
            why = "notion:PAGE takes the weekly review (add --weekly); this one: github:OWNER/REPO"
        raise click.BadParameter(why, param_hint="--publish") from None


def _publish(config: str | None, repo: str, data: ReportData, filters: Filters) -> None:
    """Publish the Markdown report to `repo`, with the progress line while GitHub answers."""
    from sync.commands.cli import config_path
    from sync.commands.progress import Progress, shown
    from sync.report.publish import publish
    from sync.settings import load_settings

    # The token comes from the config even when --state names the state file.
    settings = load_settings(config_path(config))
    show = Progress(shown())
    show.step(f"Publishing the report to {repo}")
    done = publish(settings, repo, render_markdown(data), filters)
    show.end()
    click.echo(done.describe(), err=True)


def _weekly(
    config: str | None, fmt: str, output: str | None, publish: str | None, dry_run: bool
) -> None:
    """`report --weekly`: the review on stdout (md or json), or published in place."""
    import json

    from connectors.errors import HandoffSyncError
    from sync.commands.cli import load, report_error
    from sync.report.publish_weekly import parse_weekly_target
    from sync.report.weekly import gather_weekly, render_weekly_md, weekly_json
    from sync.store import exists, reader, where_is

    try:
        target = parse_weekly_target(publish) if publish else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--publish") from None
    try:
        settings = load(config)
        if not exists(settings):  # a file or a database: `status` asks the same
            where = where_is(settings)
            raise HandoffSyncError(f"No state yet at {where}: run `handoff sync` first.")
        with reader(settings) as state:
            now = datetime.now(UTC)
            data = gather_weekly(state, settings, now=now, directory=settings.directory())
        if target is not None and not dry_run:
            _publish_weekly(settings, target, data)
    except HandoffSyncError as exc:
        sys.exit(report_error(exc, fmt == "json"))
    if target is not None and dry_run:
        click.echo(f"Dry run: would publish to {publish}; nothing written.", err=True)
    if target is not None and output is None and not dry_run:
        return
    text = json.dumps(weekly_json(data)) + "\n" if fmt == "json" else render_weekly_md(data)
    if output and output != "-":
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


def _publish_weekly(settings: Any, target: Any, data: Any) -> None:
    """Publish under the state's lock, so the audit row is written with it (a sync holding
    the lock is waited for, a minute at most)."""
    import time as clock

    from connectors.errors import LockHeld
    from sync.report.publish_weekly import publish_weekly
    from sync.store import open_store, run_lock

    for attempt in range(_LOCK_TRIES):
        try:
            with run_lock(settings):
                done = publish_weekly(settings, target, data)
                with open_store(settings) as state:
                    state.note_published(
                        target.system, target.where, done.item_id, done.item_key,
                        result="created" if done.created else "updated", target=done.url,
                        detail=f"weekly review {data.start:%Y-%m-%d} to {data.end:%Y-%m-%d}",
                        now=datetime.now(UTC),
                    )  # fmt: skip
            click.echo(done.line, err=True)
            return
        except LockHeld:
            if attempt == _LOCK_TRIES - 1:
                raise
            clock.sleep(1.0)


_LOCK_TRIES = 60  # seconds waited for a sync to finish before giving up (exit 3)
