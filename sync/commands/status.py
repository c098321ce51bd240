"""`handoff status`: the last runs (and how each ended), open findings, cursors, queued writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from sync.commands.cli import CONFIG_HELP, load

if TYPE_CHECKING:
    from sync.store import Status

__all__ = ["status_command"]


@click.command("status")
@click.option("--config", "config", metavar="PATH", help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_command(config: str | None, as_json: bool) -> None:
    """Show the last runs and how each ended, open findings by kind, scopes that lost
    access, cursors and queued writes."""
    from sync.engine.access import stored_lost_access
    from sync.store import exists, reader, store_error, store_errors, where_is

    settings = load(config)
    path = where_is(settings)
    if not exists(settings):
        if as_json:
            click.echo(json.dumps({"ok": True, "runs": [], "state": None}))
        else:
            click.echo(f"No state yet at {path}: run `handoff sync` first.")
        return
    try:
        with reader(settings) as state:
            st = state.status()
            lost = stored_lost_access(state)
            hooks = _webhooks(state)
    except store_errors() as exc:
        raise store_error(exc, settings) from exc
    if as_json:
        click.echo(json.dumps({**_as_json(st, lost), "webhooks": hooks}))
    else:
        _echo(st, lost)
        _echo_webhooks(hooks)


def _webhooks(state: Any) -> dict[str, Any] | None:
    """What `handoff serve` left in the state: the inbox's lag and the last poll (None: the
    service never ran on this state)."""
    from sync.serve.worker import LAST_POLL

    inbox = state.inbox_state()
    last_poll = state.fact(LAST_POLL)
    if not inbox.received and last_poll is None:
        return None
    now = datetime.now(UTC)
    lag = inbox.last_lag
    if inbox.oldest_pending is not None:
        lag = max(0.0, (now - inbox.oldest_pending).total_seconds())
    return {
        "received": inbox.received,
        "pending": inbox.pending,
        "lag_seconds": None if lag is None else round(lag, 3),
        "oldest_pending": inbox.oldest_pending.isoformat() if inbox.oldest_pending else None,
        "last_synced": inbox.last_done.isoformat() if inbox.last_done else None,
        "last_poll": last_poll,
    }


def _echo_webhooks(hooks: dict[str, Any] | None) -> None:
    if hooks is None:
        return
    lag = hooks["lag_seconds"]
    waiting = f", {hooks['pending']} waiting" if hooks["pending"] else ""
    shown = "none yet" if lag is None else f"{lag:.1f} s"
    click.echo(f"Webhooks: {hooks['received']} deliveries{waiting}; lag {shown}")
    poll = hooks["last_poll"]
    when = datetime.fromisoformat(poll).strftime("%Y-%m-%d %H:%M:%S UTC") if poll else "never"
    click.echo(f"Last poll (handoff serve): {when}")


def _as_json(st: Status, lost: dict[str, datetime]) -> dict[str, Any]:
    from sync.engine.access import ADVICE

    return {
        "runs": [
            {
                "id": r.id,
                "started": r.started.isoformat(),
                "ended": r.ended.isoformat() if r.ended else None,
                "dry_run": r.dry_run,
                "outcome": r.outcome,
                "counts": r.counts,
            }
            for r in st.runs
        ],
        "open_findings": st.open_findings,
        "cursors": {k: v.updated.isoformat() for k, v in st.cursors.items()},
        "queued": st.outbox,
        "items": st.items,
        "lost_access": [
            {"scope": scope, "since": at.isoformat(), "advice": ADVICE}
            for scope, at in sorted(lost.items())
        ],
    }


def _echo(st: Status, lost: dict[str, datetime]) -> None:
    from sync.engine.access import ADVICE

    click.echo("Last runs:")
    for r in st.runs:
        ended = r.ended.strftime("%Y-%m-%d %H:%M") if r.ended else "did not finish"
        kind = " (dry run)" if r.dry_run else ""
        outcome = r.outcome or ("still running, or killed" if r.ended is None else "?")
        click.echo(f"  #{r.id} {r.started:%Y-%m-%d %H:%M} → {ended}: {outcome}{kind}")
    click.echo("Open findings:")
    for code, n in sorted(st.open_findings.items()):
        click.echo(f"  {code}: {n}")
    if not st.open_findings:
        click.echo("  none")
    for scope, at in sorted(lost.items()):
        click.echo(
            f"Lost access: {scope} since {at:%Y-%m-%d %H:%M} UTC (token or permission refused; "
            f"its findings are kept open, not closed as deleted): {ADVICE}."
        )
    click.echo("Items: " + ", ".join(f"{k} {v}" for k, v in sorted(st.items.items())))
    click.echo("Cursors:")
    for scope, cur in st.cursors.items():
        click.echo(f"  {scope}: {cur.updated:%Y-%m-%d %H:%M:%S} UTC")
    queued = {s: sum(v.values()) for s, v in st.outbox.items()}
    click.echo("Queued writes: " + (", ".join(f"{s} {n}" for s, n in queued.items()) or "none"))
