"""An engine wired as `handoff sync` wires it (sync/commands/run.py `_run_engine`), with a clock
the caller sets: the benchmark and tests/test_request_counts.py must count the requests of the
sync people run, not of a bare Engine.

The CLI's per-API budgets (a Pacer over `budgets_for`) and its cache of constant answers
(`ConstantCache` over `read_constants`) arrive with issue 13's slice P; until they are there,
this builds what the CLI builds today. Keep it in step with `_run_engine`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from connectors._retry import RetryPolicy
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions, SyncResult
from sync.settings import Settings

__all__ = ["run_as_cli"]


def _optional(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def run_as_cli(settings: Settings, opts: SyncOptions, clock: Callable[[], datetime],
               policy: RetryPolicy | None = None) -> SyncResult:
    """One run, built as the CLI builds it, the engine's clock on `clock`."""
    extra: dict[str, Any] = {}
    budgets_for = _optional("sync.engine.pacing", "budgets_for")
    pacer_type = _optional("sync.engine.pacing", "Pacer")
    if budgets_for is not None and pacer_type is not None:
        extra["pacer"] = pacer_type(budgets_for(settings))
    cache_type = _optional("sync.engine.constants", "ConstantCache")
    read_constants = _optional("sync.store", "read_constants")
    if cache_type is not None and read_constants is not None:
        extra["constants"] = cache_type(
            read_constants(settings), now=clock(),
            ttl=timedelta(hours=settings.cache.ttl_hours),  # type: ignore[attr-defined]
            refresh=opts.full)
    conns = connect(settings, policy=policy, **extra)
    engine = Engine(settings, conns.connectors, conns.scopes, clock=clock,
                    known_errors=conns.errors, **extra)
    return engine.run(opts)
