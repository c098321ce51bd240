"""The `handoff` command line: the only place where errors become exit codes and text."""

from __future__ import annotations

import click

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="handoff-sync")
def main() -> None:
    """Check handoffs across Jira, GitHub and Notion and say what is missing where people look."""
