"""An engine wired as `handoff sync` wires it (sync/commands/run.py `_run_engine`), with a clock
the caller sets: the benchmark and tests/test_request_counts.py must count the requests of the
sync people run, not of a bare Engine.

It builds the CLI's cache of constant answers (`ConstantCache` over `read_constants`) and,
when `paced`, its per-API budgets (a Pacer over `budgets_for`). Runs against a sandbox without
rate limits go unpaced: pacing only adds sleep there (a 10k first sync would wait an hour for
GitHub's 80 writes a minute), and it changes no request, CPU or memory figure. Keep this in
step with `_run_engine`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from connectors._retry import RetryPolicy
from sync.engine.connect import connect
from sync.engine.constants import ConstantCache
from sync.engine.pacing import Pacer, budgets_for
from sync.engine.run import Engine, SyncOptions, SyncResult
from sync.settings import Settings
from sync.store import read_constants

__all__ = ["run_as_cli"]


def run_as_cli(settings: Settings, opts: SyncOptions, clock: Callable[[], datetime],
               policy: RetryPolicy | None = None, *, paced: bool = False) -> SyncResult:
    """One run, built as the CLI builds it, the engine's clock on `clock`."""
    extra: dict[str, Any] = {}
    if paced:
        extra["pacer"] = Pacer(budgets_for(settings))
    extra["constants"] = ConstantCache(
        read_constants(settings), now=clock(),
        ttl=timedelta(hours=settings.cache.ttl_hours), refresh=opts.full)
    conns = connect(settings, policy=policy, **extra)
    engine = Engine(settings, conns.connectors, conns.scopes, clock=clock,
                    known_errors=conns.errors, **extra)
    return engine.run(opts)
