"""The `handoff` command line: the only place where errors become exit codes and text.

Exit codes: 0 all went well; 1 some items or scopes failed (the rest was done), or an
unexpected error; 2 the config, a token or a permission is wrong (nothing was written); 3
another run holds the lock; 130 / 143 stopped by SIGINT (Ctrl-C) / SIGTERM.

No command prints a raw traceback: `_Group.invoke` turns any error into one scrubbed line on
stderr (the detail goes to the debug log), and `--json` then prints one JSON line on stdout.
"""

from __future__ import annotations

import json
import logging
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from connectors.errors import HandoffSyncError, scrub

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_LOCKED = 0, 1, 2, 3
EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}  # 128 + the signal's number, as shells report
STOPPED = "stopped after {done} of {total} writes; the next run finishes them."
log = logging.getLogger("handoff.cli")
DEFAULT_CONFIG = "handoff.toml"
CONFIG_HELP = f"Config file (default: ./{DEFAULT_CONFIG}, or $HANDOFF_CONFIG)."


class _JsonLogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        if record.exc_info:
            line["error"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line)


class _ScrubFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def _setup_logging(log_format: str, verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(_JsonLogFormatter())
    else:
        handler.setFormatter(_ScrubFormatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose or log_format == "json" else logging.WARNING)
    # The clients log every request at INFO/DEBUG; keep them to warnings.
    for noisy in ("urllib3", "httpx", "notion_client", "github", "jira"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _report(exc: HandoffSyncError, as_json: bool = False) -> int:
    """Say what went wrong in one line on stderr (and, for --json, one JSON line on stdout);
    return the documented exit code for it."""
    code = exc.exit_code if exc.exit_code in (EXIT_CONFIG, EXIT_LOCKED) else EXIT_FAILED
    click.echo(f"handoff: {exc.message}", err=True)
    if as_json:
        click.echo(json.dumps({"ok": False, "error": exc.message, "exit_code": code}))
    return code


def _fail(exc: HandoffSyncError) -> None:
    sys.exit(_report(exc))


def _unexpected(exc: BaseException) -> HandoffSyncError:
    """Any other exception as one line; the traceback goes to the debug log only."""
    if isinstance(exc, sqlite3.Error):
        from sync.state_errors import state_error

        return state_error(exc, None)
    log.debug("unexpected error", exc_info=exc)
    return HandoffSyncError(
        f"unexpected error ({type(exc).__name__}: {exc}). Run again with -v for the log, and "
        "please report it."
    )


def _config_path(config: str | None) -> Path:
    import os

    return Path(config or os.environ.get("HANDOFF_CONFIG") or DEFAULT_CONFIG)


def _load(config: str | None) -> Any:
    from sync.settings import load_settings

    return load_settings(_config_path(config))


def _progress(enabled: bool) -> Callable[[str, int, int], None]:
    """A one-line progress display on a terminal; nothing in cron or when piped."""
    if not enabled:
        return lambda phase, done, total: None
    labels = {"pull": "Pulling", "reconcile": "Checking", "write": "Writing"}

    def show(phase: str, done: int, total: int) -> None:
        of = f"/{total}" if total else ""
        click.echo(f"\r{labels.get(phase, phase)}: {done}{of}   ", nl=False, err=True)
        if total and done >= total:
            click.echo("", err=True)

    return show


# Commands that live beside the code they drive; imported only when used or listed.
LAZY_COMMANDS = {
    "demo": "sync.demo:demo_command",
    "report": "sync.report:report_command",
    "doctor": "sync.doctor:doctor_command",
    "init": "sync.init_config:init_command",
}


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; whatever escapes it becomes one line and an exit code."""
        args = [*getattr(ctx, "_protected_args", ()), *ctx.args]
        as_json = "--json" in args
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except HandoffSyncError as exc:
            sys.exit(_report(exc, as_json))
        except KeyboardInterrupt:
            _report(HandoffSyncError("stopped by SIGINT (Ctrl-C)."), as_json)
            sys.exit(EXIT_SIGNAL["SIGINT"])
        except Exception as exc:
            sys.exit(_report(_unexpected(exc), as_json))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            import importlib

            module, _, attr = LAZY_COMMANDS[cmd_name].partition(":")
            try:
                command: click.Command = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError):
                return None  # not built in this version
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="handoff-sync")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    help="Log lines on stderr as text or as JSON (one object per line, for log collectors).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log what each step does.")
def main(log_format: str, verbose: bool) -> None:
    """Check handoffs across Jira, GitHub and Notion and say what is missing where people look.

    Exit codes: 0 ok; 1 some items or scopes failed (the rest was done); 2 config, token or
    permission problem (nothing written); 3 another run holds the lock.
    """
    _setup_logging(log_format, verbose)


@main.command()
@click.option("--config", "config", metavar="PATH", help=CONFIG_HELP)
@click.option("--dry-run", is_flag=True, help="Print the writes it would make; write nothing.")
@click.option("--full", is_flag=True, help="Pull everything, not only what changed.")
@click.option(
    "--only",
    type=click.Choice(["jira", "github", "notion"]),
    multiple=True,
    help="Pull and write only this system (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress on stderr (default: on when stderr is a terminal).",
)
@click.option(
    "--every",
    metavar="MINUTES",
    type=click.FloatRange(min=1),
    help="Keep running as a service: sync again every MINUTES until stopped (SIGTERM or "
    "Ctrl-C ends it after the current run).",
)
def sync(
    config: str | None,
    dry_run: bool,
    full: bool,
    only: tuple[str, ...],
    as_json: bool,
    progress: bool | None,
    every: float | None,
) -> None:
    """Pull, check, and bring every comment, label and property up to date.

    With --dry-run it prints each comment it would write and each label it would add or remove,
    and changes nothing anywhere (not even its own state file).
    """
    if every is None:
        sys.exit(_sync_once(config, dry_run, full, only, as_json, progress))
    _serve(every * 60, lambda: _sync_once(config, dry_run, False, only, as_json, progress))


def _sync_once(
    config: str | None,
    dry_run: bool,
    full: bool,
    only: tuple[str, ...],
    as_json: bool,
    progress: bool | None,
) -> int:
    """One sync; returns its exit code. SIGINT/SIGTERM during the writes let the write in
    flight finish and leave the rest to the next run (exit 130/143)."""
    from sync.apply import Stop

    halt = Stop()
    try:
        with _stop_on_signals(halt):
            result, conns = _run_engine(config, dry_run, full, only, progress, halt)
    except HandoffSyncError as exc:
        return _report(exc, as_json)
    except KeyboardInterrupt:
        why = halt.reason or "SIGINT"
        _report(HandoffSyncError(f"stopped by {why} before any write."), as_json)
        return EXIT_SIGNAL.get(why, 130)
    if as_json:
        click.echo(json.dumps(_result_json(result)))
    else:
        if dry_run:
            click.echo(result.plan_text or "Nothing to write: every item is up to date.")
        click.echo(_summary(result))
    if result.interrupted:
        a = result.applied
        left = a.not_attempted if a else len(result.ops)
        stopped = STOPPED.format(done=len(result.ops) - left, total=len(result.ops))
        click.echo(f"handoff: {stopped}", err=True)
        return EXIT_SIGNAL.get(result.interrupted, 130)
    if result.failed:
        if conns.refused and not result.scopes:
            return EXIT_CONFIG  # nothing could even connect: a token problem, not a partial run
        return result.exit_code or EXIT_FAILED
    return EXIT_OK


def _run_engine(
    config: str | None,
    dry_run: bool,
    full: bool,
    only: tuple[str, ...],
    progress: bool | None,
    halt: Any,
) -> tuple[Any, Any]:
    from sync.apply import Pacer
    from sync.connect import connect
    from sync.engine import Engine, SyncOptions

    settings = _load(config)
    conns = connect(settings, only)
    show = progress if progress is not None else sys.stderr.isatty()
    # Writes stay under each system's budget (GitHub: 80 content-creating requests a
    # minute), so a first sync of a big repo is paced rather than rate-limited.
    engine = Engine(
        settings,
        conns.connectors,
        conns.scopes,
        pacer=Pacer(),
        progress=_progress(show),
        halt=halt,
        known_errors=conns.errors,
    )
    result = engine.run(SyncOptions(dry_run=dry_run, full=full, only=frozenset(only)))
    return result, conns


@contextmanager
def _stop_on_signals(halt: Any) -> Iterator[None]:
    """While the block runs, SIGINT/SIGTERM ask `halt` to stop; before the writes have begun
    there is nothing to finish, so the signal ends the run at once (KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}

    def ask(signum: int, frame: object) -> None:
        halt.set(names[signal.Signals(signum)])
        if not halt.writing:
            raise KeyboardInterrupt

    old = {sig: signal.signal(sig, ask) for sig in names}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _serve(interval: float, once: Callable[[], int], *, max_runs: int | None = None) -> None:
    """Run `once` every `interval` seconds until SIGTERM/SIGINT (or `max_runs`, for tests).

    Only a config, token or permission problem (exit 2) stops the service: retrying cannot
    fix it. Refused connections, 5xx and timeouts are logged and the next interval tries
    again. A signal during a run stops its writes and ends the service (exit 130/143).
    """
    stop = threading.Event()

    def ask_stop(signum: int, frame: object) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, ask_stop)
    service = logging.getLogger("handoff.service")
    runs = 0
    while not stop.is_set():
        try:
            code = once()
        except Exception as exc:  # a bug in one run must not end the service
            code = _report(_unexpected(exc))
        runs += 1
        if code == EXIT_CONFIG or code in EXIT_SIGNAL.values():
            sys.exit(code)
        if code == EXIT_OK:
            service.info("run ended with exit code 0; next in %.0f s", interval)
        else:
            service.warning(
                "run ended with exit code %d (see above; a system may be down); trying again "
                "at the next interval, next in %.0f s",
                code,
                interval,
            )
        if max_runs is not None and runs >= max_runs:
            break
        stop.wait(interval)
    service.info("stopped")


def _result_json(result: Any) -> dict[str, Any]:
    return {
        "run": result.run_id,
        "dry_run": result.dry_run,
        "counts": result.counts(),
        "scopes": [
            {"scope": s.scope, "pulled": s.pulled, "error": s.error or None}
            for s in result.scopes
        ],
        "writes": [
            {"system": op.system, "item": op.item_key, "action": op.action, "name": op.name}
            for op in result.ops
        ]
        if result.dry_run
        else None,
        "failures": [
            {"system": f.system, "item": f.item_key, "action": f.action, "message": f.message}
            for f in (result.applied.failures if result.applied else [])
        ],
        "errors": result.errors,
        "interrupted": result.interrupted or None,
        "ok": not result.failed,
    }


def _summary(result: Any) -> str:
    c = result.counts()
    verb = "would write" if result.dry_run else "wrote"
    lines = [
        f"{c['items']} items pulled from {len(result.scopes)} scopes; {c['records']} handoffs; "
        f"{c['findings']} open findings; {verb} {c['writes_planned']} changes."
    ]
    if result.applied is not None:
        a = result.applied
        lines.append(
            f"Writes: {a.done} done, {a.unchanged + a.skipped} already in place, {a.failed} "
            f"failed, {a.not_attempted} not attempted."
        )
        lines += [f"  failed: {f.system} {f.item_key}: {f.message}" for f in a.failures[:20]]
        lines += [f"  stopped {s}: {why}" for s, why in a.stopped.items()]
    lines += [f"  error: {e}" for e in result.errors]
    return "\n".join(lines)


@main.command()
@click.option("--config", "config", metavar="PATH", help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(config: str | None, as_json: bool) -> None:
    """Show the last runs, open findings by kind, cursors and queued writes."""
    from sync.state import State

    settings = _load(config)
    path = Path(settings.state.path)
    if not path.exists():
        if as_json:
            click.echo(json.dumps({"ok": True, "runs": [], "state": None}))
        else:
            click.echo(f"No state yet at {path}: run `handoff sync` first.")
        return
    try:
        with State.copy_of(path) as state:
            st = state.status()
    except sqlite3.Error as exc:
        from sync.state_errors import state_error

        raise state_error(exc, path) from exc
    if as_json:
        click.echo(
            json.dumps(
                {
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
                }
            )
        )
        return
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
    click.echo("Items: " + ", ".join(f"{k} {v}" for k, v in sorted(st.items.items())))
    click.echo("Cursors:")
    for scope, cur in st.cursors.items():
        click.echo(f"  {scope}: {cur.updated:%Y-%m-%d %H:%M:%S} UTC")
    queued = {s: sum(v.values()) for s, v in st.outbox.items()}
    click.echo("Queued writes: " + (", ".join(f"{s} {n}" for s, n in queued.items()) or "none"))


@main.command()
@click.option("--port", type=int, default=0, help="Port on 127.0.0.1 (default: any free one).")
@click.option(
    "--workspace",
    type=click.Path(dir_okay=False, exists=True),
    help="Workspace JSON to serve (default: the demo workspace).",
)
@click.option(
    "--items", type=int, default=0, help="Serve a generated workspace of this many items instead."
)
@click.option("--config-out", type=click.Path(dir_okay=False), help="Write a config for it here.")
@click.option(
    "--state", "state_path", default="handoff-state.db", help="State path in that config."
)
def sandbox(
    port: int, workspace: str | None, items: int, config_out: str | None, state_path: str
) -> None:
    """Run the local Jira/GitHub/Notion emulator on 127.0.0.1 until stopped (Ctrl-C).

    With --config-out it writes a complete config (URLs, tokens, every scope) that
    `handoff sync --config PATH` uses as it is.
    """
    import threading

    from connectors.sandbox import Sandbox, load_workspace
    from connectors.sandbox.demo import demo_workspace, sandbox_config
    from connectors.sandbox.generate import generate_workspace

    if items:
        ws = generate_workspace(items)
    elif workspace:
        ws = load_workspace(workspace)
    else:
        ws = demo_workspace()
    sb = Sandbox(ws, port=port)
    sb.start()
    click.echo(f"Sandbox serving Jira, GitHub and Notion at {sb.url}", err=True)
    if config_out:
        Path(config_out).write_text(sandbox_config(sb, state_path=state_path), encoding="utf-8")
        click.echo(f"Config written to {config_out}: handoff sync --config {config_out}", err=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sb.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
