"""What /metrics shows, in Prometheus' text format (version 0.0.4)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sync.store.rows import InboxState

__all__ = ["Metrics"]


class Metrics:
    """Counters shared by the app (deliveries) and the worker (syncs, writes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: Counter[str] = Counter()  # system -> deliveries that reached us
        self.rejected: Counter[tuple[str, str]] = Counter()  # (system, reason)
        self.deduplicated: Counter[str] = Counter()
        self.stored: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()  # acknowledged, not a change we read
        self.syncs: Counter[tuple[str, str]] = Counter()  # (trigger, outcome)
        self.echoes: Counter[str] = Counter()  # deliveries of our own writes, done unsynced
        self.writes = 0

    def count(self, name: str, key: object, n: int = 1) -> None:
        with self._lock:
            getattr(self, name)[key] += n

    def wrote(self, n: int) -> None:
        with self._lock:
            self.writes += n

    def render(self, inbox: InboxState, now: datetime) -> str:
        """The exposition text; `inbox` gives the lag and what is still to sync."""
        lines: list[str] = []
        with self._lock:
            _counter(lines, "deliveries_received", "Webhook deliveries received.",
                     self.received, lambda k: {"system": k})
            _counter(lines, "deliveries_rejected", "Deliveries refused (401, 413, 400).",
                     self.rejected, lambda k: {"system": k[0], "reason": k[1]})
            _counter(lines, "deliveries_deduplicated", "Deliveries already stored (retries).",
                     self.deduplicated, lambda k: {"system": k})
            _counter(lines, "deliveries_stored", "Deliveries stored in the inbox.",
                     self.stored, lambda k: {"system": k})
            _counter(lines, "deliveries_ignored", "Events acknowledged and ignored.",
                     self.ignored, lambda k: {"system": k})
            _counter(lines, "syncs", "Syncs run, by what started them and how they ended.",
                     self.syncs, lambda k: {"trigger": k[0], "outcome": k[1]})
            _counter(lines, "deliveries_echo", "Deliveries our own writes caused, done "
                     "without a sync.", self.echoes, lambda k: {"trigger": k})
            lines += ["# HELP handoff_writes_total Writes applied by the syncs.",
                      "# TYPE handoff_writes_total counter", f"handoff_writes_total {self.writes}"]
        lag = 0.0
        if inbox.oldest_pending is not None:
            lag = max(0.0, (now - inbox.oldest_pending).total_seconds())
        elif inbox.last_lag is not None:
            lag = inbox.last_lag
        lines += [
            "# HELP handoff_webhook_lag_seconds Age of the oldest delivery still to sync, or "
            "the last one's time from arrival to synced.",
            "# TYPE handoff_webhook_lag_seconds gauge",
            f"handoff_webhook_lag_seconds {lag:.3f}",
            "# HELP handoff_inbox_pending Deliveries stored and not yet synced.",
            "# TYPE handoff_inbox_pending gauge",
            f"handoff_inbox_pending {inbox.pending}",
        ]
        return "\n".join(lines) + "\n"


def _counter(
    lines: list[str],
    name: str,
    help_text: str,
    values: Counter,  # type: ignore[type-arg]
    labels: Callable[[Any], dict[str, Any]],
) -> None:
    full = f"handoff_{name}_total"
    lines += [f"# HELP {full} {help_text}", f"# TYPE {full} counter"]
    for key, n in sorted(values.items(), key=lambda kv: str(kv[0])):
        text = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels(key).items())
        lines.append(f"{full}{{{text}}} {n}")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
