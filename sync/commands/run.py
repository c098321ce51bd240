"""`handoff sync` itself: one run, how a signal stops it, the --every service, its output.

Split from `sync.commands.cli` (which keeps the command's options and the exit codes) to keep each
module about one job.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from connectors.errors import HandoffSyncError
from sync.commands.cli import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SIGNAL,
    STOPPED,
    load,
    report_error,
    unexpected,
)
from sync.engine.access import ADVICE

__all__ = ["serve", "sync_once"]


def sync_once(
    config: str | None,
    dry_run: bool,
    full: bool,
    only: tuple[str, ...],
    as_json: bool,
    progress: bool | None,
    adopt: bool = False,
) -> int:
    """One sync; returns its exit code. SIGINT/SIGTERM during the writes let the write in
    flight finish and leave the rest to the next run (exit 130/143)."""
    from connectors._retry import interruptible
    from sync.engine.pacing import Stop

    halt = Stop()
    try:
        # A signal also cuts short a pacing pause or a retry's wait (a 60 s Retry-After).
        with _stop_on_signals(halt), interruptible(halt.event):
            result, conns = _run_engine(
                config, dry_run, full, only, False if as_json else progress, halt, adopt
            )
    except HandoffSyncError as exc:
        return report_error(exc, as_json)
    except KeyboardInterrupt:
        why = halt.reason or "SIGINT"
        report_error(HandoffSyncError(f"stopped by {why} before any write."), as_json)
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
    adopt: bool = False,
) -> tuple[Any, Any]:
    from sync.commands.progress import Progress, shown
    from sync.engine.connect import connect
    from sync.engine.constants import ConstantCache
    from sync.engine.pacing import Pacer, budgets_for
    from sync.engine.run import Engine, SyncOptions
    from sync.store import read_constants

    settings = load(config)
    # One budget per API, shared by reads and writes (GitHub: 80 content-creating requests a
    # minute; Notion: about 3 requests a second), from the first request on.
    pacer = Pacer(budgets_for(settings))
    # Answers that rarely change (who we are, fields, people) from the state, if fresh.
    constants = ConstantCache(
        read_constants(settings),
        now=datetime.now(UTC),
        ttl=timedelta(hours=settings.cache.ttl_hours),
        refresh=full,
    )
    conns = connect(settings, only, pacer=pacer, constants=constants)
    # Writes stay under each system's budget (GitHub: 80 content-creating requests a
    # minute), so a first sync of a big repo is paced rather than rate-limited.
    engine = Engine(
        settings,
        conns.connectors,
        conns.scopes,
        pacer=pacer,
        progress=Progress(shown(progress)),
        halt=halt,
        known_errors=conns.errors,
        constants=constants,
    )
    # The CLI prints counts (from the state), never every finding: holding them all would
    # make a quiet run's memory grow with the workspace.
    opts = SyncOptions(
        dry_run=dry_run, full=full, only=frozenset(only), adopt_config=adopt, findings=False
    )
    result = engine.run(opts)
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
        # A signal that came as the run ended still stops a service (`serve`'s handler).
        got = [sig for sig, name in names.items() if name == halt.reason]
        before = old[got[0]] if got else None
        if callable(before) and before is not signal.default_int_handler:
            before(got[0], None)


def serve(interval: float, once: Callable[[], int], *, max_runs: int | None = None) -> None:
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
            code = report_error(unexpected(exc))
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
            {
                "scope": s.scope,
                "pulled": s.pulled,
                "read_by_another_worker": s.skipped,  # a shared state: its lease was held
                "error": s.error or None,
                "lost_access_since": _iso(result.lost.get(s.scope)),
            }
            for s in result.scopes
        ],
        "lost_access": [
            {"scope": scope, "since": _iso(since), "advice": ADVICE}
            for scope, since in sorted(result.lost.items())
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


def _iso(at: Any) -> str | None:
    return at.isoformat() if at is not None else None


def _span(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def _summary(result: Any) -> str:
    c = result.counts()
    verb = "would write" if result.dry_run else "wrote"
    skipped = sum(1 for s in result.scopes if s.skipped)
    others = f" ({skipped} more read by another worker)" if skipped else ""
    lines = [
        f"{c['items']} items pulled from {len(result.scopes) - skipped} scopes{others}; "
        f"{c['records']} handoffs; {c['findings']} open findings; {verb} "
        f"{c['writes_planned']} changes."
    ]
    drain = getattr(result, "drain_s", 0.0)
    if drain >= 60 and result.at is not None:
        # A first sync's backlog: say when it is done at the budgets, blockers going first.
        end = result.at + timedelta(seconds=drain)
        lines.append(
            f"At the current write budgets that takes about {_span(drain)} (until "
            f"{end:%Y-%m-%d %H:%M} UTC); items with blockers go first."
        )
    if result.applied is not None:
        a = result.applied
        lines.append(
            f"Writes: {a.done} done, {a.unchanged + a.skipped} already in place, {a.failed} "
            f"failed, {a.not_attempted} not attempted"
            + (f", {a.elsewhere} claimed by another worker." if a.elsewhere else ".")
        )
        lines += [f"  failed: {f.system} {f.item_key}: {f.message}" for f in a.failures[:20]]
        lines += [f"  stopped {s}: {why}" for s, why in a.stopped.items()]
    lost = [e for e in result.errors if ": lost access since " in e]
    lines += [f"  lost access: {e}" for e in lost]
    lines += [f"  error: {e}" for e in result.errors if e not in lost]
    return "\n".join(lines)
