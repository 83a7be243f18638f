"""``softclock`` and its subcommands: ``main`` parses the command line and dispatches."""

from softclock.cli.main import main

__all__ = ["main"]
