"""The one progress display of every long command (sync, demo, report --publish, init, doctor).

A status line on stderr, redrawn in place, through click (already a dependency; rich would add
a package for one line of text). It is shown only when stderr is a terminal: cron, pipes and
`--json` stay silent, so nothing but the result reaches a log or a parser.
"""

from __future__ import annotations

import sys
from typing import IO

import click

__all__ = ["Progress", "shown"]

_LABELS = {"pull": "Pulling", "reconcile": "Checking", "write": "Writing"}


def shown(choice: bool | None = None, *, as_json: bool = False,
          stream: IO[str] | None = None) -> bool:
    """Whether to show progress: never with --json; else --progress/--no-progress when given;
    else only when stderr is a terminal."""
    if as_json:
        return False
    if choice is not None:
        return choice
    out = stream or sys.stderr
    return bool(getattr(out, "isatty", lambda: False)())


class Progress:
    """A status line: `step("Reading Jira")` for one long step, and callable as the engine's
    `progress(phase, done, total)`. Does nothing when off."""

    def __init__(self, on: bool, stream: IO[str] | None = None) -> None:
        self.on = on
        self.stream = stream
        self._open = False  # a line is drawn and not yet ended

    def step(self, text: str) -> None:
        """Show one step that has no count, such as starting the sandbox."""
        self._draw(f"{text}…")

    def __call__(self, phase: str, done: int, total: int) -> None:
        of = f"/{total}" if total else ""
        self._draw(f"{_LABELS.get(phase, phase)}: {done}{of}")
        if total and done >= total:
            self.end()

    def end(self) -> None:
        """End the line so that what is printed next starts on its own."""
        if self.on and self._open:
            click.echo("", err=True, file=self.stream)
            self._open = False

    def _draw(self, text: str) -> None:
        if self.on:
            # The padding wipes the tail of a longer line drawn before.
            click.echo(f"\r{text:<40}", nl=False, err=True, file=self.stream)
            self._open = True
