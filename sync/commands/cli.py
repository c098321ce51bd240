"""The `handoff` command line: the only place where errors become exit codes and text.

Exit codes: 0 all went well; 1 some items or scopes failed (the rest was done), or an
unexpected error; 2 the config, a token or a permission is wrong (on a first sync nothing was
written; a token refused on a later sync still lets the other systems write); 3
another run holds the lock; 130 / 143 stopped by SIGINT (Ctrl-C) / SIGTERM.

No command prints a raw traceback: `_Group.invoke` turns any error into one scrubbed line on
stderr (the detail goes to the debug log), and `--json` then prints one JSON line on stdout.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

import click

from connectors.errors import HandoffSyncError, scrub
from sync import systems

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
    for noisy in ("urllib3", "httpx", "notion_client", *systems.names()):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def report_error(exc: HandoffSyncError, as_json: bool = False) -> int:
    """Say what went wrong in one line on stderr (and, for --json, one JSON line on stdout);
    return the documented exit code for it."""
    code = exc.exit_code if exc.exit_code in (EXIT_CONFIG, EXIT_LOCKED) else EXIT_FAILED
    click.echo(f"handoff: {exc.message}", err=True)
    if as_json:
        click.echo(json.dumps({"ok": False, "error": exc.message, "exit_code": code}))
    return code


def fail(exc: HandoffSyncError) -> None:
    sys.exit(report_error(exc))


def unexpected(exc: BaseException) -> HandoffSyncError:
    """Any other exception as one line; the traceback goes to the debug log only."""
    from sync.store import store_error, store_errors

    if isinstance(exc, store_errors()):
        return store_error(exc, None)
    log.debug("unexpected error", exc_info=exc)
    return HandoffSyncError(
        f"unexpected error ({type(exc).__name__}: {exc}). Run again with -v for the log, and "
        "please report it."
    )


def config_path(config: str | None) -> Path:
    import os

    return Path(config or os.environ.get("HANDOFF_CONFIG") or DEFAULT_CONFIG)


def load(config: str | None) -> Any:
    from sync.settings import load_settings

    return load_settings(config_path(config))


# Commands that live beside the code they drive; imported only when used or listed.
LAZY_COMMANDS = {
    "demo": "sync.commands.demo:demo_command",
    "report": "sync.commands.report:report_command",
    "doctor": "sync.commands.doctor:doctor_command",
    "init": "sync.commands.init:init_command",
    "status": "sync.commands.status:status_command",
    "serve": "sync.commands.serve:serve_command",
    "webhooks": "sync.commands.webhooks:webhooks_group",
    "show": "sync.commands.show:show_command",
    "state": "sync.commands.state:state_group",
}


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; whatever escapes it becomes one line and an exit code."""
        args = [*getattr(ctx, "_protected_args", ()), *ctx.args]
        # `report --format json` promises JSON on stdout too, so its errors come as JSON.
        pairs = {f"{a}={b}" for a, b in itertools.pairwise(args)}
        as_json = "--json" in args or bool({"--format=json"} & (pairs | set(args)))
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:  # a usage error: click prints it on stderr
            if as_json:
                body = {"ok": False, "error": exc.format_message(), "exit_code": exc.exit_code}
                click.echo(json.dumps(body))
            raise
        except (click.exceptions.Exit, click.Abort):
            raise
        except HandoffSyncError as exc:
            sys.exit(report_error(exc, as_json))
        except KeyboardInterrupt:
            report_error(HandoffSyncError("stopped by SIGINT (Ctrl-C)."), as_json)
            sys.exit(EXIT_SIGNAL["SIGINT"])
        except BrokenPipeError:
            # The reader went away (`handoff status | head`): nothing to say, and nowhere to
            # say it. Point stdout at devnull so the interpreter's final flush stays quiet.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_OK)
        except Exception as exc:
            sys.exit(report_error(unexpected(exc), as_json))

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

    Exit codes: 0 ok; 1 some items or scopes failed (the rest was done), a system or the
    state file could not be used; 2 config, token or permission problem (nothing written on a
    first sync; on a later one the other systems still write); 3
    another run holds the lock; 130 stopped by SIGINT (Ctrl-C); 143 stopped by SIGTERM.
    """
    _setup_logging(log_format, verbose)


@main.command()
@click.option("--config", "config", metavar="PATH", help=CONFIG_HELP)
@click.option("--dry-run", is_flag=True, help="Print the writes it would make; write nothing.")
@click.option("--full", is_flag=True, help="Pull everything, not only what changed.")
@click.option(
    "--only",
    type=click.Choice(systems.names()),
    multiple=True,
    help="Pull and write only this system (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option(
    "--adopt-config",
    "adopt",
    is_flag=True,
    help="Let the state file serve this config from now on, when it was built for another "
    "one (other systems, URLs or scopes); without it such a sync is refused.",
)
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
    adopt: bool,
    progress: bool | None,
    every: float | None,
) -> None:
    """Pull, check, and bring every comment, label and property up to date.

    With --dry-run it prints each comment it would write and each label it would add or remove,
    and changes nothing anywhere (not even its own state file).
    """
    from sync.commands.run import serve, sync_once

    if every is None:
        sys.exit(sync_once(config, dry_run, full, only, as_json, progress, adopt))
    serve(
        every * 60, lambda: sync_once(config, dry_run, False, only, as_json, progress, adopt)
    )


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
@click.option(
    "--webhooks",
    "webhook_url",
    metavar="URL",
    help="Send each change as its service's signed webhook to URL/webhooks/<service> (e.g. "
    "a `handoff serve` at http://127.0.0.1:8080); the config it writes holds the secrets.",
)
def sandbox(
    port: int,
    workspace: str | None,
    items: int,
    config_out: str | None,
    state_path: str,
    webhook_url: str | None,
) -> None:
    """Run the local Jira/GitHub/Notion emulator on 127.0.0.1 until stopped (Ctrl-C).

    With --config-out it writes a complete config (URLs, tokens, every scope) that
    `handoff sync --config PATH` (or `handoff serve`) uses as it is.
    """
    import secrets

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
    if webhook_url:
        sb.send_webhooks(webhook_url, {n: secrets.token_hex(16) for n in systems.names()})
        click.echo(f"Sending signed webhooks to {webhook_url}/webhooks/<service>", err=True)
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
