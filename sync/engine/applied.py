"""What applying a plan did, for the run's report (sync.engine.apply)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ApplyReport", "Failure"]


@dataclass(frozen=True)
class Failure:
    """One write that did not happen, said for the person who reads the report."""

    system: str
    item_id: str
    item_key: str
    action: str
    message: str
    op_key: str
    attempted: bool = True


@dataclass
class ApplyReport:
    done: int = 0  # sent and recorded
    unchanged: int = 0  # already as planned on the server (found by marker, same text)
    skipped: int = 0  # this run had already done it
    failed: int = 0
    not_attempted: int = 0  # its system stopped (auth, rate limit) before reaching it
    # Another worker on the shared state holds it (or its item): that one sends it. Not a
    # failure: the write is in hand (sync.engine.claimed).
    elsewhere: int = 0
    # Items with a write another worker's claim kept from this one past its wait (shared):
    # they stay taken up for the next run (sync.engine.evaluate.settle).
    held: set[tuple[str, str]] = field(default_factory=set)
    failures: list[Failure] = field(default_factory=list)
    stopped: dict[str, str] = field(default_factory=dict)  # system -> why it stopped
    refused: set[str] = field(default_factory=set)  # systems whose token may not write
    interrupted: str = ""  # why the run stopped writing early (a signal), else ""

    @property
    def ok(self) -> bool:
        return not self.failures

    def merge(self, other: ApplyReport) -> None:
        self.done += other.done
        self.unchanged += other.unchanged
        self.skipped += other.skipped
        self.failed += other.failed
        self.not_attempted += other.not_attempted
        self.elsewhere += other.elsewhere
        self.held |= other.held
        self.failures.extend(other.failures)
        self.stopped.update(other.stopped)
        self.refused |= other.refused
        self.interrupted = self.interrupted or other.interrupted
