"""`handoff serve`: signed webhooks in (Starlette on uvicorn), targeted syncs out.

The app (`sync.serve.app`) stores each verified delivery in the state's inbox before it
answers; the worker (`sync.serve.worker`) runs one incremental sync per burst, and a poll
every `[serve] poll_minutes` anyway. SIGTERM or Ctrl-C: the server stops taking deliveries,
the sync in progress finishes its write in flight and stops, and whatever is left in the
inbox waits for the next start (exit 143 / 130 then; 0 when nothing was cut short).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from connectors.errors import HandoffSyncError, register_secret
from sync.commands.cli import CONFIG_HELP, EXIT_OK, EXIT_SIGNAL, load

__all__ = ["serve_command"]

log = logging.getLogger("handoff.serve")
_JOIN = 120.0  # the longest a stop waits for the sync in progress (its write in flight)


class _Syncer:
    """One Engine per sync over the scopes its deliveries are about (`sync.serve.targets`),
    with the service's pacer and cache of constant answers kept across syncs.

    The connectors are opened anew for each sync, as each `handoff sync` opens its own: a
    connector kept open remembers the people and teams its pulls met (GitHub's logins, org
    teams) and lists them in the next run's directory, so the directory, and with it the
    digest every stored record was built on, changed after the first sync and again with each
    new login: a rebuild of every record (36 s at 10k items, bench/serve_latency.py) in the
    way of the next delivery. Opening costs Jira's serverInfo; the other constants come from
    the cache."""

    def __init__(self, settings: Any, store: Any, halt: Any) -> None:
        self.settings = settings
        self.store = store
        self.halt = halt
        self.kept: Any = None
        self.us: dict[str, str] = {}  # our account per system: the token's, fixed for our life

    def _keep(self) -> Any:
        from sync.engine.constants import ConstantCache
        from sync.engine.pacing import Pacer, budgets_for
        from sync.store import read_constants

        settings = self.settings
        pacer = Pacer(budgets_for(settings))
        constants = ConstantCache(
            read_constants(settings),
            now=datetime.now(UTC),
            ttl=timedelta(hours=settings.cache.ttl_hours),
            refresh=False,
        )
        return pacer, constants

    def _us(self, conns: Any) -> dict[str, str]:
        """Our own account in each system, as its webhooks name it (asked once for the
        service's life, as connectors are opened per sync); a system that cannot say is left
        out, so its deliveries sync."""
        from connectors.errors import ConnectorError
        from sync.systems import SYSTEMS

        out = self.us
        for name, conn in conns.connectors.items():
            spec = SYSTEMS.get(name)
            if spec is None or spec.webhook is None or name in out:
                continue
            try:
                out[name] = spec.webhook.us(conn)
            except (ConnectorError, AttributeError):
                continue
        return out

    def __call__(self, batch: list[Any], poll: bool) -> Any:
        from connectors._retry import interruptible
        from sync.engine.connect import connect
        from sync.engine.run import Engine, SyncOptions
        from sync.serve.targets import comment_reads, echo_only, targets
        from sync.serve.worker import Outcome

        with interruptible(self.halt.event):
            self.kept = self.kept or self._keep()
            pacer, constants = self.kept
            conns = connect(self.settings, (), pacer=pacer, constants=constants)
            labels = frozenset(self.settings.labels.values())
            if not poll and echo_only(batch, self.store.inbox_body, self._us(conns), labels):
                return Outcome(None, True, False, echo=True)  # the state holds what we wrote
            engine = Engine(
                self.settings,
                conns.connectors,
                conns.scopes if poll else targets(batch, self.store.inbox_body, conns.scopes),
                pacer=pacer,
                halt=self.halt,
                known_errors=conns.errors,
                constants=constants,
                comments_of=comment_reads(batch, self.store.inbox_body),
            )
            # findings=False: the service shows no list, and reading back every open finding
            # after each sync cost a 10k workspace ~0.2 s CPU per delivery (bench/serve_latency.py).
            result = engine.run(SyncOptions(findings=False))
        done = result.applied.done if result.applied is not None else 0
        return Outcome(result.run_id, not result.failed, bool(result.interrupted), done)


@contextlib.contextmanager
def _signals(stop: Any) -> Iterator[None]:
    names = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}

    def ask(signum: int, frame: object) -> None:
        stop(names[signal.Signals(signum)])

    old = {sig: signal.signal(sig, ask) for sig in names}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _server(app: Any, sock: socket.socket) -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # ours (`_signals`) stop the worker as well

    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    return Server(config)


@click.command("serve")
@click.option("--config", "config", metavar="PATH", help=CONFIG_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=int, default=8080, show_default=True, help="Port to listen on (0: any free)."
)
def serve_command(config: str | None, host: str, port: int) -> None:
    """Receive Jira, GitHub and Notion webhooks and sync what they name within seconds.

    Endpoints: POST /webhooks/github, /webhooks/jira and /webhooks/notion (each delivery
    checked against its signature and the system's webhook secret from the environment,
    e.g. HANDOFF_GITHUB__WEBHOOK_SECRET, and stored before it is answered), GET /healthz,
    GET /metrics (Prometheus). A burst of deliveries makes one sync of what changed; every
    `[serve] poll_minutes` (15) a sync runs anyway, for deliveries that never came.
    SIGTERM or Ctrl-C finishes the write in flight; the rest waits for the next start.
    """
    from sync.store import open_store, run_lock, shared, shared_state

    settings = load(config)
    if not shared_state(settings):
        # Opening migrates: not while a sync runs. A shared state (PostgreSQL) serialises its
        # migrations itself, and its syncs take no run lock: a replica starting beside another
        # must not exit on it.
        with run_lock(settings):
            open_store(settings).close()
    with shared(settings) as store:
        _run(settings, store, host, port)


def _run(settings: Any, store: Any, host: str, port: int) -> None:
    """Serve until a signal; exit 143/130 when a sync was cut short, else 0."""
    from sync.engine.pacing import Stop
    from sync.serve.app import HANDSHAKE_FACT, Hub, make_app
    from sync.serve.metrics import Metrics
    from sync.serve.worker import Timing, Worker
    from sync.systems import SYSTEMS

    for name in SYSTEMS:
        token = store.fact(HANDSHAKE_FACT.format(system=name))
        if token:
            register_secret(token)
    halt, metrics = Stop(), Metrics()
    cfg = settings.serve
    timing = Timing(
        cfg.debounce_seconds, cfg.max_wait_seconds, cfg.poll_minutes * 60, cfg.claim_seconds
    )
    worker = Worker(store, _Syncer(settings, store, halt), timing, metrics)
    thread = threading.Thread(target=worker.run, name="handoff-worker", daemon=True)
    hub = Hub(settings, store, metrics, worker.wake, alive=thread.is_alive)
    sock = _listen(host, port)
    server = _server(make_app(hub), sock)

    def stop(why: str) -> None:
        halt.set(why)
        worker.stop()
        server.should_exit = True

    bound = sock.getsockname()
    click.echo(f"handoff serve: listening on http://{bound[0]}:{bound[1]}", err=True)
    with _signals(stop):
        thread.start()
        try:
            server.run(sockets=[sock])
        finally:
            stop(halt.reason or "SIGTERM")
            thread.join(_JOIN)
    if worker.interrupted:
        click.echo("handoff: stopped; the deliveries left in the inbox sync at the next start.",
                   err=True)
        sys.exit(EXIT_SIGNAL.get(halt.reason, EXIT_SIGNAL["SIGTERM"]))
    sys.exit(EXIT_OK)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise HandoffSyncError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
