"""`handoff demo`: a real sync of a believable team's workspace, served by the local sandbox.

It starts the sandbox (loopback only) with the demo workspace, writes a config for it, runs the
same sync `handoff sync` runs through the real Jira, GitHub and Notion clients, writes the
report, and shows a few of the comments it wrote, as each system now holds them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from connectors.errors import HandoffSyncError
from sync import systems
from sync.commands.progress import Progress, shown

__all__ = ["DemoResult", "demo_command", "run_demo"]

log = logging.getLogger(__name__)

NEXT_STEPS = """\
Point the same commands at your own systems:
  1. handoff init --output handoff.toml      (answers a few questions, finds your field names)
  2. export HANDOFF_JIRA__TOKEN=... HANDOFF_GITHUB__TOKEN=... HANDOFF_NOTION__TOKEN=...
  3. handoff doctor --config handoff.toml    (checks tokens, permissions and scopes)
  4. handoff sync --config handoff.toml --dry-run   (shows every write; changes nothing)
  5. handoff sync --config handoff.toml      (then from cron, see the README)"""


class DemoResult:
    """What the demo did, for the command's text and for tests."""

    def __init__(self, folder: Path, config: Path, url: str) -> None:
        self.folder = folder
        self.config = config
        self.url = url
        self.sync: Any = None
        self.reports: list[Path] = []
        self.samples: list[tuple[str, str, str]] = []  # (system, item, comment text)
        self.live: Any = None  # a `demo_live.LiveResult` with --live
        # Escalation steps told (issue 17), as the sandbox's receivers got them.
        self.notified: dict[str, int] = {}


# The sandbox's receivers' signing secret: like its tokens, good on this loopback only.
NOTIFY_SECRET = "demo-notify-secret"


def _notify_toml(hook: Any, smtp: Any) -> str:
    """`[notify]` for the demo: a signed JSON POST and email, to the sandbox's receivers."""
    return (
        f'\n[notify]\nwebhook_url = "{hook.url}"\nsecret = "{NOTIFY_SECRET}"\n'
        f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp.port}\n'
        'smtp_from = "handoff@demo.example"\nsmtp_starttls = false\npace_seconds = 0\n'
    )


def _notified(hook: Any, smtp: Any, state: Path) -> dict[str, int]:
    """What reached the receivers (counted there, not by us), and what waits in the state
    for its person's working hours."""
    from sync.store import open_store

    with open_store(str(state)) as store:
        waiting = len(store.notices_owed())
    got = hook.received()
    return {
        "webhook": len(got),
        "email": len(smtp.messages()),
        "people": len({(g.json or {}).get("person") for g in got}),
        "waiting": waiting,
    }


def run_demo(
    folder: Path,
    *,
    api_version: int = 3,
    keep_running: bool = False,
    live: bool = False,
    inspect: Callable[[Any], None] | None = None,
    progress: Progress | None = None,
) -> DemoResult:
    """Serve the demo workspace, sync it for real, write the report; return what happened.

    `inspect(sandbox)` is called before the sandbox stops (tests read what it holds)."""
    from connectors.sandbox import Sandbox
    from connectors.sandbox.demo import demo_workspace, sandbox_config
    from connectors.sandbox.receivers import SmtpSink, WebhookReceiver
    from sync.store import discard

    folder.mkdir(parents=True, exist_ok=True)
    state = folder / "state.db"
    discard(state)  # each demo starts from a fresh team and a fresh state
    show = progress or Progress(False)
    show.step("Starting the sandbox")
    sb = Sandbox(demo_workspace())
    sb.start()
    # Where escalation steps are told besides the items: both on 127.0.0.1, both recording.
    hook, smtp = WebhookReceiver(NOTIFY_SECRET).start(), SmtpSink().start()
    try:
        config = folder / "handoff.toml"
        text = sandbox_config(sb, state_path=str(state), api_version=api_version)
        config.write_text(text + _notify_toml(hook, smtp), encoding="utf-8")
        result = DemoResult(folder, config, sb.url)
        result.sync = _sync(config, show)
        result.notified = _notified(hook, smtp, state)
        show.step("Writing the report")
        result.reports = _write_reports(config, folder)
        show.end()
        result.samples = _samples(sb)
        if live:
            from sync.commands.demo_live import watch_live

            show.step("Watching a person's edit reach its comment through a webhook")
            result.live = watch_live(sb, config, folder)
            show.end()
        if inspect is not None:
            inspect(sb)
        if keep_running:
            click.echo(f"Sandbox still serving at {sb.url} (config: {config}). Ctrl-C stops it.")
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
        return result
    finally:
        hook.stop()
        smtp.stop()
        sb.stop()


def _sync(config: Path, show: Progress) -> Any:
    """One real sync of the demo's config, paced as a real sync is, so the demo is one."""
    from sync.engine.connect import connect
    from sync.engine.pacing import Pacer, budgets_for
    from sync.engine.run import Engine, SyncOptions
    from sync.settings import load_settings

    settings = load_settings(config)
    pacer = Pacer(budgets_for(settings))
    conns = connect(settings, pacer=pacer)
    if conns.errors:
        raise HandoffSyncError("the demo sandbox could not be reached: " + conns.errors[0])
    engine = Engine(settings, conns.connectors, conns.scopes, pacer=pacer, progress=show)
    return engine.run(SyncOptions())


def _write_reports(config: Path, folder: Path) -> list[Path]:
    """The lead's report in HTML and Markdown."""
    from sync.report.render import write_report

    written = []
    for fmt, name in (("html", "report.html"), ("md", "report.md")):
        target = folder / name
        write_report(config, fmt, target)
        written.append(target)
    return written


def _samples(sb: Any) -> list[tuple[str, str, str]]:
    """One comment of ours from each system, read back through its API as a person sees it."""
    from connectors.sandbox import DEFAULT_TOKENS

    writes = sb.log(write=True)
    out = []
    for spec in systems.SYSTEMS.values():
        tokens = DEFAULT_TOKENS.get(spec.name, {})
        token = next((t for t, a in tokens.items() if a == "write"), "")
        shown = spec.demo_sample(sb, writes, token) if spec.demo_sample else None
        if shown is not None:
            out.append(shown)
    return out


def _shown(text: str, limit: int = 14) -> str:
    lines = [ln for ln in text.splitlines() if "<!--" not in ln]
    more = len(lines) - limit
    shown = "\n".join("    " + ln for ln in lines[:limit])
    return shown + (f"\n    … ({more} more lines)" if more > 0 else "")


@click.command()
@click.option(
    "--dir",
    "folder",
    default="handoff-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the demo's config, state and report.",
)
@click.option(
    "--api-version",
    type=click.Choice(["2", "3"]),
    default="3",
    show_default=True,
    help="Jira REST version: 3 writes ADF comments, 2 wiki markup.",
)
@click.option("--keep-running", is_flag=True, help="Keep the sandbox up afterwards to explore.")
@click.option(
    "--live",
    is_flag=True,
    help="Then run `handoff serve`, fill in a missing field in Jira, and show the comment on "
    "the linked Notion page change within seconds, through a signed webhook.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what happened as JSON.")
def demo_command(
    folder: str, api_version: str, keep_running: bool, live: bool, as_json: bool
) -> None:
    """Run a real sync against a local copy of a team's Jira, GitHub and Notion.

    Nothing leaves this machine: the three services are emulated on 127.0.0.1.
    """
    try:
        result = run_demo(Path(folder), api_version=int(api_version), keep_running=keep_running,
                          live=live, progress=Progress(shown(as_json=as_json)))
    except OSError as exc:  # the CLI prints it as one line (and one JSON line with --json)
        raise HandoffSyncError(
            f"cannot use the demo folder {folder} ({exc.strerror or exc}): pass --dir with a "
            "folder this user can write."
        ) from exc
    sync = result.sync
    counts = sync.counts()
    if as_json:
        payload = {
            "folder": str(result.folder),
            "config": str(result.config),
            "reports": [str(p) for p in result.reports],
            "counts": counts,
            "findings": sorted({(f.record_key, f.code) for f in sync.findings}),
            "notified": result.notified,
            "ok": not sync.failed,
        }
        if result.live is not None:
            lv = result.live
            payload["live"] = {"edit": lv.told, "watched": lv.where,
                               "seconds": round(lv.seconds, 2),
                               "before": lv.before, "after": lv.after}
        click.echo(json.dumps(payload))
        return
    click.echo(
        f"Synced a demo team: {counts['items']} items in Jira, GitHub and Notion folded into "
        f"{counts['records']} handoffs; {counts['findings']} problems found; "
        f"{counts.get('writes_done', 0)} comments, labels and properties written."
    )
    by_code: dict[str, int] = {}
    for f in sync.findings:
        by_code[f.code] = by_code.get(f.code, 0) + 1
    click.echo("Problems by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(by_code.items())))
    n = result.notified
    click.echo(
        f"Escalations told: {n['webhook']} signed webhook posts and {n['email']} emails to "
        f"{n['people']} people now at work; {n['waiting']} steps wait for their person's "
        "working hours (in their time zone)."
    )
    for path in result.reports:
        click.echo(f"Report for leads: {path}")
    for system, item, body in result.samples:
        click.echo(f"\nAs it now appears in {system}, on {item}:\n{_shown(body)}")
    if result.live is not None:
        lv = result.live
        click.echo(f"\nLive: {lv.told}. Jira sends a signed webhook to `handoff serve`, which "
                   f"re-reads what changed; {lv.seconds:.1f} s later, on {lv.where}:\n"
                   f"{_shown(lv.after)}")
    click.echo(f"\nConfig used: {result.config} (the same file works with every command).")
    click.echo(NEXT_STEPS)
